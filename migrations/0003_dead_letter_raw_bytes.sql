-- 0003: dead letters keep at most 4 KiB of their raw input, and its full
-- length (raw_bytes): a 10 MB invalid frame piece must not become a 10 MB row.
-- The writer cuts `raw` on a UTF-8 character boundary (DeadLetter.rawLimitBytes);
-- rows already stored are cut here the same way.

ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS raw_bytes bigint;
UPDATE dead_letters SET raw_bytes = octet_length(raw) WHERE raw_bytes IS NULL;
ALTER TABLE dead_letters ALTER COLUMN raw_bytes SET NOT NULL;

-- The longest prefix of at most max_bytes bytes: a binary search on characters.
CREATE FUNCTION pg_temp.utf8_prefix(t text, max_bytes integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    low  integer := 0;
    high integer := least(length(t), max_bytes);
    middle integer;
BEGIN
    WHILE low < high LOOP
        middle := (low + high + 1) / 2;
        IF octet_length(left(t, middle)) <= max_bytes THEN low := middle; ELSE high := middle - 1; END IF;
    END LOOP;
    RETURN left(t, low);
END
$$;
UPDATE dead_letters SET raw = pg_temp.utf8_prefix(raw, 4096) WHERE octet_length(raw) > 4096;

-- 0007: options_trades partitioned by range of ts, one partition per UTC day
-- (docs/design.md §4.3), so that each day's indexes stay small and old days
-- leave by DROP TABLE instead of DELETE. Plain PostgreSQL 15, no extension.
--
-- The key (sym, ts, seq) holds the partition key, so it is unique across
-- partitions and ON CONFLICT (sym, ts, seq) arbitrates as before.
--
-- Upgrade in place: the existing table is not copied. It is renamed
-- options_trades_legacy and attached as the partition of everything before
-- the UTC day after its newest row (FROM (MINVALUE)); its primary key and
-- indexes become the partitions' of the new parent's, so nothing is rebuilt.
-- The attach checks the bound with one read of the old table (no rewrite, no
-- row moves). An empty old table is dropped instead. Days after it get daily
-- partitions named options_trades_pYYYYMMDD, created ahead by the ingester
-- (PARTITIONS_AHEAD_DAYS) and on demand for the days a batch holds.

-- Every bound is written and read as ISO text in UTC: each function sets
-- DateStyle and TimeZone for itself, so a session's own (a non-ISO style, an
-- ambiguous zone abbreviation) cannot shift a day's bounds.

-- The exclusive upper bound of a range partition (NULL: MAXVALUE or not a range partition).
CREATE OR REPLACE FUNCTION ingest_partition_upper(part regclass) RETURNS timestamptz
LANGUAGE sql STABLE SET datestyle = 'ISO, YMD' SET timezone = 'UTC' AS $fn$
    SELECT (substring(pg_get_expr(c.relpartbound, c.oid) FROM $$TO \('([^']+)'\)$$))::timestamptz
    FROM pg_class c WHERE c.oid = part
$fn$;

-- Creates the daily partition of parent for every UTC day from first_day to
-- last_day that has none, and returns how many it created. A day already
-- covered (by its own partition or by options_trades_legacy's range) is left
-- alone. The partition is created as a plain table and then attached, which
-- takes SHARE UPDATE EXCLUSIVE on the parent: writes go on meanwhile. Two
-- callers at once are serialized by an advisory lock for the transaction.
CREATE OR REPLACE FUNCTION ingest_ensure_partitions(parent regclass, first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SET datestyle = 'ISO, YMD' SET timezone = 'UTC' AS $fn$
DECLARE
    day     date;
    name    text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ingest-options:partitions'));
    day := first_day;
    WHILE day <= last_day LOOP
        name := parent::text || '_p' || to_char(day, 'YYYYMMDD');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
                EXECUTE format(
                    'ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name,
                    to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                created := created + 1;
            EXCEPTION WHEN invalid_object_definition THEN
                -- 42P17: the day overlaps a partition that exists (the legacy one): nothing to create.
                NULL;
            END;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN created;
END
$fn$;

-- Detaches and drops every partition of parent whose whole range ends at or
-- before horizon (retention, RETENTION_DAYS); returns their names. The caller
-- chooses a horizon no write can still reach (docs/operations.md, "Retention").
CREATE OR REPLACE FUNCTION ingest_drop_partitions(parent regclass, horizon timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SET datestyle = 'ISO, YMD' SET timezone = 'UTC' AS $fn$
DECLARE
    part regclass;
    name text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ingest-options:partitions'));
    FOR part IN
        SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent AND c.relkind IN ('r', 'p') AND ingest_partition_upper(i.inhrelid) <= horizon
        ORDER BY ingest_partition_upper(i.inhrelid)
    LOOP
        name := part::text;
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, part);
        EXECUTE format('DROP TABLE %s', part);
        RETURN NEXT name;
    END LOOP;
END
$fn$;

DO $$
DECLARE
    newest timestamptz;
    bound  timestamptz;
    late   bigint;
    pkey   text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'options_trades'::regclass) = 'p' THEN
        RETURN;  -- already partitioned
    END IF;
    PERFORM set_config('DateStyle', 'ISO, YMD', true);
    PERFORM set_config('TimeZone', 'UTC', true);
    -- A row dated after tomorrow would stretch the legacy partition over the days to come, which
    -- then could never get partitions of their own: such rows are the operator's to move first.
    SELECT count(*) INTO late FROM options_trades WHERE ts >= date_trunc('day', now()) + interval '2 days';
    IF late > 0 THEN
        RAISE EXCEPTION 'options_trades holds % rows dated after tomorrow (UTC); move or delete them, then migrate again (docs/operations.md §6)', late;
    END IF;
    ALTER TABLE options_trades RENAME TO options_trades_legacy;
    -- The key by what it is, whatever an operator named it.
    SELECT i.relname INTO pkey FROM pg_constraint c JOIN pg_class i ON i.oid = c.conindid
    WHERE c.conrelid = 'options_trades_legacy'::regclass AND c.contype = 'p';
    IF pkey IS NOT NULL AND pkey <> 'options_trades_legacy_pkey' THEN
        EXECUTE format('ALTER INDEX %I RENAME TO options_trades_legacy_pkey', pkey);
    END IF;
    ALTER INDEX IF EXISTS options_trades_ts_idx RENAME TO options_trades_legacy_ts_idx;
    ALTER INDEX IF EXISTS options_trades_underlying_ts_idx RENAME TO options_trades_legacy_underlying_ts_idx;

    CREATE TABLE options_trades (LIKE options_trades_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (ts);
    ALTER TABLE options_trades ADD CONSTRAINT options_trades_pkey PRIMARY KEY (sym, ts, seq);
    CREATE INDEX options_trades_ts_idx ON options_trades (ts);
    CREATE INDEX options_trades_underlying_ts_idx ON options_trades (underlying, ts);

    -- The newest row by the ts index (its last entry, no scan).
    SELECT max(ts) INTO newest FROM options_trades_legacy;
    IF newest IS NULL THEN
        DROP TABLE options_trades_legacy;
    ELSE
        bound := date_trunc('day', newest) + interval '1 day';
        EXECUTE format(
            'ALTER TABLE options_trades ATTACH PARTITION options_trades_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
            to_char(bound, 'YYYY-MM-DD') || ' 00:00:00+00');
    END IF;
END
$$;

-- 0002: dead letters keep at most 4 KiB of their raw input (cut by the
-- writer) and its full length in bytes.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS raw_bytes LONG;

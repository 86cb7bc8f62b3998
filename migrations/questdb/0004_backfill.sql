-- 0004: the feed times of a gap and the state of its backfill from the REST
-- API (docs/design.md §5.8), as on PostgreSQL (migrations/0006_backfill.sql)
-- but without a CHECK (QuestDB has none: the writer only ever writes NULL or
-- 'pending'). QuestDB keeps no ingest_state row: the newest trade's feed time
-- is the designated timestamp ts of its last row (QuestDBDialect.lastReceived).
-- The backfill itself needs PostgreSQL (BackfillStore): these columns record
-- what a QuestDB deployment missed, for a backfill run against PostgreSQL or by hand.
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS from_t LONG;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS to_t LONG;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS backfill VARCHAR;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS backfill_rows LONG;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS backfill_requests INT;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS backfill_error VARCHAR;
ALTER TABLE feed_gaps ADD COLUMN IF NOT EXISTS backfill_at TIMESTAMP;

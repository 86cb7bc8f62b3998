-- 0002: the newest receive time in one row, so that a start costs the same on
-- a table of any size. The restart and failover gaps start at the newest
-- received_at; max(received_at) over options_trades (no index on it) is a full
-- scan, which on a large table takes longer than a leader's check may wait.
-- Every batch's transaction raises it (GREATEST) before COMMIT, so it moves
-- with what is committed and never with what is rolled back.

CREATE TABLE IF NOT EXISTS ingest_state (
    id               boolean     PRIMARY KEY DEFAULT true CHECK (id),
    last_received_at timestamptz
);

-- Seeded from the table once, here: the only full scan.
INSERT INTO ingest_state (id, last_received_at)
SELECT true, max(received_at) FROM options_trades
ON CONFLICT (id) DO UPDATE SET last_received_at = GREATEST(ingest_state.last_received_at, EXCLUDED.last_received_at);

-- "Is a gap open?" at start: only the open rows are indexed.
CREATE INDEX IF NOT EXISTS feed_gaps_open_idx ON feed_gaps (id) WHERE ended_at IS NULL;

-- 0006: what the gap backfill from the REST API needs (docs/design.md §5.8).
--
-- ingest_state.last_trade_t: the newest committed trade's feed time (t, the
-- SIP time, Unix ms), kept in O(1) like last_received_at and raised with
-- GREATEST in every batch's transaction: the backfill window of a restart
-- gap (after kill -9) starts there. Seeded once from max(ts), which the index
-- options_trades_ts_idx answers from its last entry (no scan).
ALTER TABLE ingest_state ADD COLUMN IF NOT EXISTS last_trade_t bigint;
INSERT INTO ingest_state (id, last_trade_t)
SELECT true, floor(extract(epoch FROM max(ts)) * 1000)::bigint FROM options_trades
ON CONFLICT (id) DO UPDATE SET last_trade_t = GREATEST(ingest_state.last_trade_t, EXCLUDED.last_trade_t);

-- feed_gaps: the gap's window in feed time and the state of its backfill.
--   from_t             t of the newest trade received before the gap (NULL: none seen)
--   to_t               t of the first trade after it (NULL while open, or unknown)
--   backfill           NULL: none asked; 'pending' (set by the close when BACKFILL is on),
--                      'done', 'failed' (retried after a while), 'partial' (BACKFILL_MAX_CONTRACTS reached)
--   backfill_rows      rows the backfill inserted
--   backfill_requests  REST requests it made
--   backfill_error     the last failure, at most 1 KiB, never a secret
--   backfill_at        when the state last changed
ALTER TABLE feed_gaps
    ADD COLUMN IF NOT EXISTS from_t            bigint,
    ADD COLUMN IF NOT EXISTS to_t              bigint,
    ADD COLUMN IF NOT EXISTS backfill          text CONSTRAINT feed_gaps_backfill_check
                                               CHECK (backfill IN ('pending', 'done', 'failed', 'partial')),
    ADD COLUMN IF NOT EXISTS backfill_rows     bigint,
    ADD COLUMN IF NOT EXISTS backfill_requests integer,
    ADD COLUMN IF NOT EXISTS backfill_error    text,
    ADD COLUMN IF NOT EXISTS backfill_at       timestamptz;

-- "What is left to backfill?" at start and after each gap: only those rows are indexed.
CREATE INDEX IF NOT EXISTS feed_gaps_backfill_todo_idx ON feed_gaps (id) WHERE backfill IN ('pending', 'failed');

-- 0005: the leadership term of an active/standby pair, a fence for feed_gaps.
-- A new leader raises leader_term as soon as it holds the lock; a leader's
-- feed_gaps transaction reads the term FOR SHARE and commits only if it is
-- still the one it leads under. The row lock orders the two: a term raised
-- while a gap transaction is in flight waits for it, and a gap transaction
-- that starts after the raise sees the new term and rolls back. A deposed
-- leader's gap change cannot land late.
--
-- From here on last_received_at is on the database's clock: each batch sets
-- it to clock_timestamp() minus the newest trade's age on the writer's host,
-- so that the gap a failover opens and the next leader closes compares no
-- two hosts' clocks.

ALTER TABLE ingest_state ADD COLUMN IF NOT EXISTS leader_term bigint NOT NULL DEFAULT 0;

-- 0006: the feed channel of a dead letter's event (T, A, AM, Q, FMV), as on
-- PostgreSQL (migrations/0009_dead_letter_event_type.sql).
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS event_type SYMBOL;

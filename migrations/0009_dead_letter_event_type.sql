-- 0009: the feed channel of a dead letter's event (T, A, AM, Q, FMV), so that
-- the refused events of each type can be counted and read apart
-- (docs/design.md §4.4). NULL for a letter that is not one event (a frame
-- that did not parse) and for letters written before this migration.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS event_type text;

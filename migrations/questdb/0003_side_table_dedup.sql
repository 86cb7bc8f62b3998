-- 0003: dedup keys on the health tables, so that a retry of the same rows
-- stores them once (QuestDB has no ON CONFLICT: a WAL table's DEDUP UPSERT
-- KEYS, which must include the designated timestamp, do it). dead_letters
-- gets none: its designated timestamp is the time of the write (now()), so a
-- retry is a new key; on QuestDB a retried dead letter may be stored twice.
ALTER TABLE symbol_health_history DEDUP ENABLE UPSERT KEYS(timestamp, symbol, status);
ALTER TABLE price_staleness_alerts DEDUP ENABLE UPSERT KEYS(detected_at, symbol);
ALTER TABLE websocket_health_logs DEDUP ENABLE UPSERT KEYS(timestamp, component, message);

-- 0004: natural keys on the side tables, so that a retry or a replay of the
-- same rows adds nothing (the writer inserts them with ON CONFLICT DO NOTHING):
--   dead_letters            (source, reason, raw_bytes, md5(raw))   raw may be 4 KiB: its hash is the key
--   symbol_health_history   (symbol, "timestamp", status)
--   price_staleness_alerts  (symbol, detected_at)
--   websocket_health_logs   ("timestamp", component, md5(message))
-- Copies stored before this migration are removed first, keeping the oldest (lowest id).

DELETE FROM dead_letters WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY source, reason, raw_bytes, md5(raw) ORDER BY id) AS copy FROM dead_letters
    ) AS numbered WHERE copy > 1);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_natural_key ON dead_letters (source, reason, raw_bytes, md5(raw));

DELETE FROM symbol_health_history WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY symbol, "timestamp", status ORDER BY id) AS copy FROM symbol_health_history
    ) AS numbered WHERE copy > 1);
CREATE UNIQUE INDEX IF NOT EXISTS symbol_health_history_natural_key ON symbol_health_history (symbol, "timestamp", status);

DELETE FROM price_staleness_alerts WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY symbol, detected_at ORDER BY id) AS copy FROM price_staleness_alerts
    ) AS numbered WHERE copy > 1);
CREATE UNIQUE INDEX IF NOT EXISTS price_staleness_alerts_natural_key ON price_staleness_alerts (symbol, detected_at);

DELETE FROM websocket_health_logs WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY "timestamp", component, md5(message) ORDER BY id) AS copy FROM websocket_health_logs
    ) AS numbered WHERE copy > 1);
CREATE UNIQUE INDEX IF NOT EXISTS websocket_health_logs_natural_key ON websocket_health_logs ("timestamp", component, md5(message));

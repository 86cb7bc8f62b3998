-- 0001: every table of SPEC §4, QuestDB dialect (PG wire, default port 8812).
--
-- Follows the QuestDB documentation:
--   CREATE TABLE  https://questdb.com/docs/query/sql/create-table/
--   dedup         https://questdb.com/docs/concept/deduplication/
--   PG wire       https://questdb.com/docs/pgwire/pgwire-intro (INSERT/UPDATE with
--                 bind parameters; no COPY FROM STDIN, no DELETE, no transactions for DDL)
-- A WAL table with a designated timestamp and DEDUP UPSERT KEYS stores a row
-- written twice once: that is what makes the writer's retries and replays
-- idempotent here (Postgres uses the primary key and ON CONFLICT instead).
-- Differences from the Postgres schema: no CHECK constraints, no sequences,
-- strike is DOUBLE (exact to 1/1000 for every listed strike), conditions are
-- a VARCHAR like '{209,219}' (QuestDB arrays hold doubles only).
-- Statements are separated by ';' at the end of a line: the migrator sends
-- them one at a time (QuestDB takes one statement per query).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    VARCHAR,
    applied_at TIMESTAMP
) TIMESTAMP(applied_at) PARTITION BY YEAR WAL DEDUP UPSERT KEYS(applied_at, version);

CREATE TABLE IF NOT EXISTS options_trades (
    sym         SYMBOL CAPACITY 262144,
    underlying  SYMBOL,
    expiry      DATE,
    option_type SYMBOL,
    strike      DOUBLE,
    exchange    SHORT,
    price       DOUBLE,
    size        LONG,
    notional    DOUBLE,
    conditions  VARCHAR,
    ts          TIMESTAMP,
    seq         LONG,
    received_at TIMESTAMP
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym, seq);

CREATE TABLE IF NOT EXISTS feed_gaps (
    started_at TIMESTAMP,
    ended_at   TIMESTAMP,
    reason     SYMBOL
) TIMESTAMP(started_at) PARTITION BY MONTH WAL DEDUP UPSERT KEYS(started_at, reason);

CREATE TABLE IF NOT EXISTS price_staleness_alerts (
    symbol            SYMBOL,
    detected_at       TIMESTAMP,
    staleness_seconds DOUBLE,
    alert_level       SYMBOL,
    resolved_at       TIMESTAMP,
    notes             VARCHAR
) TIMESTAMP(detected_at) PARTITION BY MONTH WAL;

CREATE TABLE IF NOT EXISTS symbol_health_history (
    symbol            SYMBOL,
    timestamp         TIMESTAMP,
    status            SYMBOL,
    staleness_seconds DOUBLE,
    update_count      LONG
) TIMESTAMP(timestamp) PARTITION BY DAY WAL;

CREATE TABLE IF NOT EXISTS websocket_health_logs (
    timestamp   TIMESTAMP,
    component   SYMBOL,
    message     VARCHAR,
    status_code INT,
    metadata    VARCHAR
) TIMESTAMP(timestamp) PARTITION BY DAY WAL;

CREATE TABLE IF NOT EXISTS dead_letters (
    created_at TIMESTAMP,
    source     SYMBOL,
    reason     SYMBOL,
    sqlstate   VARCHAR,
    message    VARCHAR,
    raw        VARCHAR
) TIMESTAMP(created_at) PARTITION BY MONTH WAL;

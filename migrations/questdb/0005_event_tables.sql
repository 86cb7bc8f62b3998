-- 0005: a table for each of the options feed's other event types
-- (docs/design.md §4.4), as on PostgreSQL (migrations/0008_event_tables.sql):
-- partitioned by day of the designated timestamp, their natural keys as
-- DEDUP UPSERT KEYS; strike DOUBLE, no CHECK constraints (QuestDB has none).

CREATE TABLE IF NOT EXISTS options_aggregates (
    sym         SYMBOL CAPACITY 262144,
    underlying  SYMBOL,
    expiry      DATE,
    option_type SYMBOL,
    strike      DOUBLE,
    period      SYMBOL,
    start_ts    TIMESTAMP,
    end_ts      TIMESTAMP,
    open        DOUBLE,
    high        DOUBLE,
    low         DOUBLE,
    close       DOUBLE,
    volume      LONG,
    vwap        DOUBLE,
    day_volume  LONG,
    day_vwap    DOUBLE,
    day_open    DOUBLE,
    avg_size    DOUBLE,
    received_at TIMESTAMP
) TIMESTAMP(start_ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(start_ts, sym, period);

CREATE TABLE IF NOT EXISTS options_quotes (
    sym          SYMBOL CAPACITY 262144,
    underlying   SYMBOL,
    expiry       DATE,
    option_type  SYMBOL,
    strike       DOUBLE,
    bid_exchange SHORT,
    ask_exchange SHORT,
    bid_price    DOUBLE,
    ask_price    DOUBLE,
    bid_size     LONG,
    ask_size     LONG,
    ts           TIMESTAMP,
    seq          LONG,
    received_at  TIMESTAMP
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym, seq);

CREATE TABLE IF NOT EXISTS options_fmv (
    sym         SYMBOL CAPACITY 262144,
    underlying  SYMBOL,
    expiry      DATE,
    option_type SYMBOL,
    strike      DOUBLE,
    fmv         DOUBLE,
    ts          TIMESTAMP,
    received_at TIMESTAMP
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym);

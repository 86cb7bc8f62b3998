-- 0001: every table of SPEC §4 (PostgreSQL dialect).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per trade; the natural key (sym, ts, seq) makes a second write of
-- the same trade a no-op (INSERT … ON CONFLICT DO NOTHING).
CREATE TABLE IF NOT EXISTS options_trades (
    sym         text             NOT NULL,
    underlying  text             NOT NULL,
    expiry      date             NOT NULL,
    option_type text             NOT NULL CHECK (option_type IN ('C', 'P')),
    strike      numeric(12, 3)   NOT NULL,
    exchange    smallint         NOT NULL,
    price       double precision NOT NULL CHECK (price > 0),
    size        bigint           NOT NULL CHECK (size > 0),
    notional    double precision NOT NULL,
    conditions  smallint[]       NOT NULL DEFAULT '{}',
    ts          timestamptz      NOT NULL,
    seq         bigint           NOT NULL,
    received_at timestamptz      NOT NULL,
    PRIMARY KEY (sym, ts, seq)
);
CREATE INDEX IF NOT EXISTS options_trades_ts_idx ON options_trades (ts);
CREATE INDEX IF NOT EXISTS options_trades_underlying_ts_idx ON options_trades (underlying, ts);

-- Every period in which the feed was not streaming: data may be missing there.
CREATE TABLE IF NOT EXISTS feed_gaps (
    id         bigserial PRIMARY KEY,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    reason     text        NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_gaps_started_at_idx ON feed_gaps (started_at);

-- Shapes from reference/003 (per-symbol staleness).
CREATE TABLE IF NOT EXISTS price_staleness_alerts (
    id                bigserial PRIMARY KEY,
    symbol            text        NOT NULL,
    detected_at       timestamptz NOT NULL,
    staleness_seconds double precision NOT NULL,
    alert_level       text        NOT NULL CHECK (alert_level IN ('warning', 'critical')),
    resolved_at       timestamptz,
    notes             text
);
CREATE INDEX IF NOT EXISTS price_staleness_alerts_symbol_idx ON price_staleness_alerts (symbol, detected_at);

CREATE TABLE IF NOT EXISTS symbol_health_history (
    id                bigserial PRIMARY KEY,
    symbol            text        NOT NULL,
    "timestamp"       timestamptz NOT NULL,
    status            text        NOT NULL CHECK (status IN ('healthy', 'degraded', 'stale', 'critical')),
    staleness_seconds double precision NOT NULL,
    update_count      bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS symbol_health_history_symbol_idx ON symbol_health_history (symbol, "timestamp");

CREATE TABLE IF NOT EXISTS websocket_health_logs (
    id          bigserial PRIMARY KEY,
    "timestamp" timestamptz NOT NULL,
    component   text        NOT NULL,
    message     text        NOT NULL,
    status_code integer,
    metadata    jsonb
);
CREATE INDEX IF NOT EXISTS websocket_health_logs_timestamp_idx ON websocket_health_logs ("timestamp");

-- Trades or frames that could not be stored: the raw input, why, and when.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    reason      text        NOT NULL,
    sqlstate    text,
    message     text,
    raw         text        NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_created_at_idx ON dead_letters (created_at);

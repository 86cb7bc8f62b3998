-- 0008: a table for each of the options feed's other event types
-- (docs/design.md §4.4), each with its natural key, so that an event written
-- twice is stored once (ON CONFLICT DO NOTHING), and each partitioned by UTC
-- day of its time like options_trades (docs/design.md §4.3): the partitions
-- are created ahead and on demand by the same functions (0007). The parsed
-- parts of the symbol are columns, as in options_trades, so that a query by
-- underlying, expiry or strike needs no parsing.

-- A (period 'second') and AM ('minute') bars; start_ts/end_ts are the event's s/e.
CREATE TABLE IF NOT EXISTS options_aggregates (
    sym         text             NOT NULL,
    underlying  text             NOT NULL,
    expiry      date             NOT NULL,
    option_type text             NOT NULL CHECK (option_type IN ('C', 'P')),
    strike      numeric(12, 3)   NOT NULL,
    period      text             NOT NULL CHECK (period IN ('second', 'minute')),
    start_ts    timestamptz      NOT NULL,
    end_ts      timestamptz      NOT NULL,
    open        double precision NOT NULL CHECK (open > 0),
    high        double precision NOT NULL CHECK (high > 0),
    low         double precision NOT NULL CHECK (low > 0),
    close       double precision NOT NULL CHECK (close > 0),
    volume      bigint           NOT NULL CHECK (volume > 0),
    vwap        double precision NOT NULL CHECK (vwap > 0),
    day_volume  bigint,
    day_vwap    double precision,
    day_open    double precision,
    avg_size    double precision,
    received_at timestamptz      NOT NULL,
    PRIMARY KEY (sym, period, start_ts)
) PARTITION BY RANGE (start_ts);
CREATE INDEX IF NOT EXISTS options_aggregates_start_ts_idx ON options_aggregates (start_ts);
CREATE INDEX IF NOT EXISTS options_aggregates_underlying_idx ON options_aggregates (underlying, period, start_ts);

-- Q quotes: ts is the event's t (ms), seq its q.
CREATE TABLE IF NOT EXISTS options_quotes (
    sym          text             NOT NULL,
    underlying   text             NOT NULL,
    expiry       date             NOT NULL,
    option_type  text             NOT NULL CHECK (option_type IN ('C', 'P')),
    strike       numeric(12, 3)   NOT NULL,
    bid_exchange smallint         NOT NULL,
    ask_exchange smallint         NOT NULL,
    bid_price    double precision NOT NULL CHECK (bid_price >= 0),
    ask_price    double precision NOT NULL CHECK (ask_price >= 0),
    bid_size     bigint           NOT NULL CHECK (bid_size >= 0),
    ask_size     bigint           NOT NULL CHECK (ask_size >= 0),
    ts           timestamptz      NOT NULL,
    seq          bigint           NOT NULL,
    received_at  timestamptz      NOT NULL,
    PRIMARY KEY (sym, ts, seq)
) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS options_quotes_ts_idx ON options_quotes (ts);

-- FMV values: ts is the event's t, nanoseconds cut to the µs timestamptz keeps.
CREATE TABLE IF NOT EXISTS options_fmv (
    sym         text             NOT NULL,
    underlying  text             NOT NULL,
    expiry      date             NOT NULL,
    option_type text             NOT NULL CHECK (option_type IN ('C', 'P')),
    strike      numeric(12, 3)   NOT NULL,
    fmv         double precision NOT NULL CHECK (fmv >= 0),
    ts          timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    PRIMARY KEY (sym, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS options_fmv_ts_idx ON options_fmv (ts);

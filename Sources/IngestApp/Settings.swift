/// One configuration setting, declared once: its environment variable, its
/// command-line flag (derived from the name), its default, what it accepts and
/// what it means. `Setting.all` is the only list of them: it drives the
/// environment and `.env` lookups (`ConfigurationSources`), the flags
/// (`Setting.split(arguments:)`), `--help` (`Setting.helpText`),
/// `.env.example` and the table in `docs/configuration.md`
/// (`Setting.envExample`, `Setting.markdownTable`); a test keeps the two files
/// equal to what these produce and parses every flag and variable.
public struct Setting: Sendable, Hashable {
    /// Environment variable name, e.g. `POLYGON_API_KEY`.
    public let name: String
    /// Default value; `nil` when the variable is required or has no default.
    public let defaultValue: String?
    /// One line of meaning, for `--help`.
    public let help: String
    /// The fuller meaning (Markdown) for `docs/configuration.md` and `.env.example`; `help` when there is no more to say.
    public let details: String
    /// Never printed (API key, passwords).
    public let isSecret: Bool
    /// For a whole-number setting, the values accepted; anything else exits 64 naming the variable.
    public let wholeNumbers: ClosedRange<Int>?
    /// Further flags that set it besides `flag` (`--record` for `RECORD_FILE`).
    public let aliases: [String]

    /// The command-line twin: `POLYGON_API_KEY` → `--polygon-api-key`.
    public var flag: String { "--" + name.lowercased().replacing("_", with: "-") }

    /// Every flag that sets it: `flag`, then the aliases.
    public var flags: [String] { [flag] + aliases }

    init(
        _ name: String, _ defaultValue: String?, wholeNumber: ClosedRange<Int>? = nil, secret: Bool = false, aliases: [String] = [],
        help: String, details: String? = nil
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.wholeNumbers = wholeNumber
        self.isSecret = secret
        self.aliases = aliases
        self.help = help
        self.details = details ?? help
    }
}

extension Setting {
    public static let apiKey = Setting(
        "POLYGON_API_KEY", nil, secret: true,
        help: "Polygon/Massive API key (required; never logged).",
        details: "Polygon/Massive API key (required); never logged.")
    public static let wsURL = Setting(
        "POLYGON_WS_URL", "wss://socket.polygon.io/options",
        help: "Options WebSocket feed URL (ws:// or wss://).",
        details: "Options WebSocket feed URL (`ws://` or `wss://`). Polygon also serves `wss://socket.massive.com/options`.")
    public static let subscriptions = Setting(
        "POLYGON_SUBSCRIPTIONS", "T.*",
        help: "Comma-separated subscriptions sent after auth (T, A, AM: * or a ticker; Q, FMV: named contracts, at most 1 000 quotes).",
        details: "Comma-separated subscriptions sent after auth, checked before connecting (docs/design.md §5.1): `T.*`, `A.*`, `AM.*` or a ticker; `Q.O:…` and `FMV.O:…` take named contracts only (`Q.*`, `FMV.*` and more than 1 000 quote contracts exit 64). Each channel's events go to their own table (docs/design.md §4.4); the notional threshold applies to trades only.")
    public static let threshold = Setting(
        "POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "10000",
        help: "Minimum notional in USD (price × size × 100) to keep a trade; 0 keeps all.",
        details: "Minimum notional in USD (price × size × 100) to keep a trade; `0` keeps all. Trades only: bars, quotes and FMV values are all kept.")
    public static let databaseURL = Setting(
        "DATABASE_URL", nil, secret: true,
        help: "libpq connection URI of the database (required unless QUESTDB_HOST is set).",
        details: "libpq connection URI (or `key=value` string) of the database (required unless `QUESTDB_HOST` is set), e.g. `postgresql://user:password@host:5432/dbname` (`scripts/pg start` prints a local one).")
    public static let dbFlavor = Setting(
        "DB_FLAVOR", "auto",
        help: "auto (ask the server), postgres or questdb; QuestDB is written with bound INSERTs.",
        details: "`auto` asks the server (`SELECT version()`), `postgres` or `questdb`. QuestDB is always written with bound INSERTs.")
    public static let questdbHost = Setting(
        "QUESTDB_HOST", nil,
        help: "QuestDB host; used when DATABASE_URL is not set (implies DB_FLAVOR=questdb).",
        details: "QuestDB host, used when `DATABASE_URL` is not set (implies `DB_FLAVOR=questdb`).")
    public static let questdbPort = Setting(
        "QUESTDB_PORT", "8812", wholeNumber: 1...65535,
        help: "QuestDB PG wire port.")
    public static let questdbUser = Setting(
        "QUESTDB_USER", "admin",
        help: "QuestDB user.")
    public static let questdbPassword = Setting(
        "QUESTDB_PASSWORD", "quest", secret: true,
        help: "QuestDB password (never logged).",
        details: "QuestDB password; never logged.")
    public static let questdbDB = Setting(
        "QUESTDB_DB", "qdb",
        help: "QuestDB database name (QuestDB ignores it).")
    public static let dbPoolSize = Setting(
        "DB_POOL_SIZE", "2", wholeNumber: 1...64,
        help: "Writer connections; under load that many batches are written at once.",
        details: "Writer connections; when more than one batch waits, that many are written at once.")
    public static let dbHealthCheckMs = Setting(
        "DB_HEALTH_CHECK_MS", "60000", wholeNumber: 100...86_400_000,
        help: "Health query (SELECT 1) on idle connections this often.",
        details: "Health query (`SELECT 1`) on idle pooled connections this often; a broken one is replaced on its next use.")
    public static let dbIdleCloseMs = Setting(
        "DB_IDLE_CLOSE_MS", "1800000", wholeNumber: 1000...604_800_000,
        help: "Idle connections beyond the first are closed after this long.",
        details: "Idle pooled connections beyond the first are closed after this long (30 min).")
    public static let maxRetries = Setting(
        "MAX_RETRIES", "3", wholeNumber: 0...100,
        help: "Retries of a failed batch write before it is handed back to the buffer.")
    public static let retryDelayMs = Setting(
        "RETRY_DELAY_MS", "1000", wholeNumber: 1...600_000,
        help: "First retry delay in ms; doubles per retry, capped at 10 s.",
        details: "First retry delay; doubles per retry, capped at 10 s.")
    public static let dbStartMaxAttempts = Setting(
        "DB_START_MAX_ATTEMPTS", "0", wholeNumber: 0...1_000_000,
        help: "At start, attempts to reach the database (and apply migrations) before exit 75; 0 = wait forever. Delays from RETRY_DELAY_MS, ×2, capped at 30 s.",
        details: "At start, attempts to reach the database and apply migrations before exit 75; `0` = wait forever. Each failure is logged (`the database is not reachable; retrying`, or `the database rejected the credentials …` for a wrong password) and retried after `RETRY_DELAY_MS`, doubling up to 30 s; SIGINT/SIGTERM end the wait (exit 0).")
    public static let writeMode = Setting(
        "WRITE_MODE", "copy",
        help: "copy (COPY binary + staging + ON CONFLICT) or insert (bound multi-row INSERT, the QuestDB path).",
        details: "`copy`: COPY binary into a staging table + `INSERT … ON CONFLICT DO NOTHING`; `insert`: bound multi-row `INSERT … ON CONFLICT DO NOTHING` (the QuestDB path, runs on Postgres too).")
    public static let dbBreakerFailures = Setting(
        "DB_BREAKER_FAILURES", "5", wholeNumber: 1...1000,
        help: "Consecutive failed database operations that open the database circuit breaker.")
    public static let dbBreakerOpenMs = Setting(
        "DB_BREAKER_OPEN_MS", "30000", wholeNumber: 0...3_600_000,
        help: "How long the open database breaker makes no database calls; then a SELECT 1 probe.",
        details: "How long the open breaker makes no database calls; then a `SELECT 1` probe and one real batch decide.")
    public static let spoolDir = Setting(
        "SPOOL_DIR", ".data/spool",
        help: "Folder of the disk spool (buffer overflow, breaker open, shutdown leftovers).")
    public static let spoolMaxBytes = Setting(
        "SPOOL_MAX_BYTES", "1073741824", wholeNumber: 0...(1 << 50),
        help: "Most bytes the spool holds; beyond it trades are dropped, counted and alerted. 0 = no spool.",
        details: "Most bytes the spool holds; beyond it trades are dropped, counted and alerted. `0` = no spool: the feed reader waits for room.")
    public static let spoolSegmentBytes = Setting(
        "SPOOL_SEGMENT_BYTES", "8388608", wholeNumber: 4096...(1 << 30),
        help: "A spool segment is fsynced and sealed at this size.")
    public static let spoolSyncMs = Setting(
        "SPOOL_SYNC_MS", "500", wholeNumber: 0...60_000,
        help: "A spooled record is fdatasynced within this many ms of being written (group commit); 0 = before each append returns.",
        details: "Group commit: a spooled record is fdatasynced within this many ms of being written, by the spool's own thread (it does not wait for the flusher); a power loss costs at most this much of the spool. `0` = fdatasync every record before the append returns.")
    public static let logLevel = Setting(
        "LOG_LEVEL", "info",
        help: "trace, debug, info, notice, warning, error or critical.",
        details: "`trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`.")
    public static let logFormat = Setting(
        "LOG_FORMAT", "json",
        help: "json (one object per line) or text.",
        details: "`json` (one object per line: `ts`, `level`, `logger`, `msg`, fields) or `text`.")
    public static let logFile = Setting(
        "LOG_FILE", "logs/app.log",
        help: "Also append logs here (directory created); empty for stdout only.",
        details: "Also append logs here (directory created; the file is made mode 0640 whatever the umask, and an existing one loses access beyond 0640); empty for stdout only. Keeps every line, even when the console does not.")
    public static let flushIntervalMs = Setting(
        "FLUSH_INTERVAL_MS", "5000", wholeNumber: 10...3_600_000,
        help: "Flush waiting trades at least this often (ms).")
    public static let flushMinBatch = Setting(
        "FLUSH_MIN_BATCH", "100", wholeNumber: 1...1_000_000,
        help: "Flush at once when this many trades wait.")
    public static let flushMaxBatch = Setting(
        "FLUSH_MAX_BATCH", "10000", wholeNumber: 1...1_000_000,
        help: "Most trades in one batch (one transaction).")
    public static let bufferCapacity = Setting(
        "BUFFER_CAPACITY", "20000", wholeNumber: 1...100_000_000,
        help: "Trades the in-memory buffer holds (64 bytes each); beyond it trades go to the spool (without one, the feed reader waits).",
        details: "Trades the in-memory buffer holds (64 bytes each); beyond it trades go to the spool (without one, the feed reader waits). 20 000 is two full batches, 1 s at 20 000 trades/s and 40 s at 500, ~1.3 MB when full: a database that falls behind for longer sends the rest to disk, where a SIGKILL cannot lose it, and the process stays under 40 MB however far the feed outruns the database. Raise it to ride out longer stalls in memory, at 6.4 MB per 100 000 (and when there is no spool, `SPOOL_MAX_BYTES=0`, so that the feed reader waits less often); the memory follows what waits, 256 KiB at a time, not the capacity (see [performance](performance.md)).")
    public static let wsMaxFrameBytes = Setting(
        "WS_MAX_FRAME_BYTES", "1048576", wholeNumber: 1024...(256 << 20),
        help: "Largest WebSocket frame accepted from the feed.")
    public static let wsPingIntervalMs = Setting(
        "WS_PING_INTERVAL_MS", "10000", wholeNumber: 100...600_000,
        help: "WebSocket ping period; a peer silent for two periods is dropped.",
        details: "WebSocket ping period; a peer that misses a pong by the next ping is dropped, so a dead peer is found within 20 s.")
    public static let wsReadCoalesceMs = Setting(
        "WS_READ_COALESCE_MS", "100", wholeNumber: 0...200,
        help: "At low rates, read the feed's socket at most this often, so that small frames share a wake-up; 0 = read each at once.",
        details: "At low rates, read the feed's socket at most this often: after a read that brought fewer than 32 frames the connection's thread waits out the rest of this interval, so that the small frames a real day sends share one wake-up instead of one each. A frame waits at most this long before it is read (its `received_at` is when it was read); a faster feed fills its reads and is never held. `0` reads every frame at once (see [performance](performance.md)).")
    public static let wsMaxReconnectAttempts = Setting(
        "WS_MAX_RECONNECT_ATTEMPTS", "10", wholeNumber: 0...1_000_000,
        help: "Consecutive failed connection attempts before exit 75; 0 = retry forever.",
        details: "Consecutive failed connection attempts before giving up (flush, exit 75); `0` = retry forever.")
    public static let wsBackoffInitialMs = Setting(
        "WS_BACKOFF_INITIAL_MS", "1000", wholeNumber: 1...3_600_000,
        help: "First reconnect delay; doubles per failure.",
        details: "First reconnect delay; doubles per consecutive failure; jitter takes off up to 20 %.")
    public static let wsBackoffMaxMs = Setting(
        "WS_BACKOFF_MAX_MS", "30000", wholeNumber: 1...3_600_000,
        help: "Reconnect delay cap (also the delay after max_connections).",
        details: "Reconnect delay cap; also the delay after `max_connections`/`force_disconnect`.")
    public static let wsStableAfterMs = Setting(
        "WS_STABLE_AFTER_MS", "30000", wholeNumber: 0...86_400_000,
        help: "Streaming this long resets the failed-attempt counter and the backoff.")
    public static let wsBreakerFailures = Setting(
        "WS_BREAKER_FAILURES", "3", wholeNumber: 1...1000,
        help: "Consecutive failed attempts that open the connect circuit breaker.")
    public static let wsBreakerOpenMs = Setting(
        "WS_BREAKER_OPEN_MS", "60000", wholeNumber: 0...86_400_000,
        help: "How long the open connect breaker blocks attempts.",
        details: "How long the open breaker blocks attempts; then one half-open attempt decides.")
    public static let wsConnectTimeoutMs = Setting(
        "WS_CONNECT_TIMEOUT_MS", "10000", wholeNumber: 100...600_000,
        help: "TCP connect + WebSocket upgrade + connected status must finish within this.",
        details: "TCP connect + WebSocket upgrade + `connected` status must finish within this.")
    public static let wsAuthTimeoutMs = Setting(
        "WS_AUTH_TIMEOUT_MS", "10000", wholeNumber: 100...600_000,
        help: "auth sent → auth_success within this.",
        details: "`auth` sent → `auth_success` within this.")
    public static let wsSubscribeTimeoutMs = Setting(
        "WS_SUBSCRIBE_TIMEOUT_MS", "10000", wholeNumber: 100...600_000,
        help: "subscribe sent → acknowledgement or first data within this.",
        details: "`subscribe` sent → acknowledgement or first data within this.")
    public static let wsStaleAfterMs = Setting(
        "WS_STALE_AFTER_MS", "120000", wholeNumber: 100...86_400_000,
        help: "No data this long while streaming → feed_stale ALERT.",
        details: "No data this long while streaming → `feed_stale` ALERT (open/resolved log lines).")
    public static let wsStaleReconnectAfterMs = Setting(
        "WS_STALE_RECONNECT_AFTER_MS", "600000", wholeNumber: 100...86_400_000,
        help: "No data this long → forced reconnect.")
    public static let shutdownTimeoutMs = Setting(
        "SHUTDOWN_TIMEOUT_MS", "30000", wholeNumber: 0...3_600_000,
        help: "On SIGINT/SIGTERM, time allowed to flush the buffer before exit.",
        details: "On SIGINT/SIGTERM, time allowed to flush the buffer before exit; then writes in flight are cancelled and the rest is spooled (exit within this + 2 s).")
    public static let healthReportIntervalMs = Setting(
        "HEALTH_REPORT_INTERVAL_MS", "300000", wholeNumber: 1000...86_400_000,
        help: "Log the health report this often (SIGUSR1 prints it at any time).",
        details: "Log the health report this often; SIGUSR1 prints it at any time.")
    public static let watchSymbols = Setting(
        "WATCH_SYMBOLS", "",
        help: "Comma-separated contracts (O:…) or underlyings whose staleness is watched; empty = the 20 most active underlyings.",
        details: "Contracts (`O:…`) or underlyings (`SPY`) whose staleness is watched, comma-separated; empty = the 20 most active underlyings seen.")
    public static let marketHours = Setting(
        "MARKET_HOURS", "us-options",
        help: "us-options (staleness only 09:30-16:00 America/New_York, Mon-Fri) or always.",
        details: "`us-options`: staleness counts only 09:30–16:00 America/New_York, Monday–Friday (holidays not modelled); `always`: at every hour.")
    public static let symbolDegradedAfterMs = Setting(
        "SYMBOL_DEGRADED_AFTER_MS", "180000", wholeNumber: 1000...604_800_000,
        help: "A watched symbol without trades this long is degraded.")
    public static let symbolStaleAfterMs = Setting(
        "SYMBOL_STALE_AFTER_MS", "300000", wholeNumber: 1000...604_800_000,
        help: "…stale (price_staleness_alerts warning).",
        details: "…stale: a `price_staleness_alerts` `warning` row, status degraded.")
    public static let symbolCriticalAfterMs = Setting(
        "SYMBOL_CRITICAL_AFTER_MS", "3600000", wholeNumber: 1000...604_800_000,
        help: "…critical (price_staleness_alerts critical).",
        details: "…critical: a `price_staleness_alerts` `critical` row.")
    public static let symbolEvictAfterMs = Setting(
        "SYMBOL_EVICT_AFTER_MS", "1800000", wholeNumber: 1000...604_800_000,
        help: "Tracked symbols that are not watched are forgotten after this long without trades.")
    public static let alertFeedDownMs = Setting(
        "ALERT_FEED_DOWN_MS", "120000", wholeNumber: 1000...86_400_000,
        help: "feed_disconnected alert: not streaming this long.",
        details: "`feed_disconnected` alert: not streaming this long.")
    public static let alertBufferItems = Setting(
        "ALERT_BUFFER_ITEMS", "1000", wholeNumber: 1...100_000_000,
        help: "buffer_high alert: more records than this waiting, in the buffer and in the spool behind it.",
        details: "`buffer_high` alert: more records than this waiting for the database, in the buffer and (trades) in the spool behind it: when the database falls behind, a live feed's frames follow the spool's backlog to disk, so the buffer itself stays nearly empty.")
    public static let alertRssMB = Setting(
        "ALERT_RSS_MB", "500", wholeNumber: 1...1_000_000,
        help: "rss_high alert: resident memory above this many MiB.",
        details: "`rss_high` alert: resident memory above this many MiB.")
    public static let alertErrorsPerMinute = Setting(
        "ALERT_ERRORS_PER_MINUTE", "10", wholeNumber: 0...1_000_000,
        help: "error_rate_high alert: more network, rate-limit, authentication and database errors than this in a minute.",
        details: "`error_rate_high` alert: more errors than this in the last minute, counting network, rate-limit, authentication and database errors; invalid feed data (`data`) does not count (see `ALERT_INVALID_TRADES_PERCENT`).")
    /// 5 %: feed-sim's demo sends 0.5–1 % invalid trades and stays well below it;
    /// a feed whose format the decoder no longer reads goes far above. A share, not
    /// a count, because feeds run from ten to ten thousand trades a second.
    public static let alertInvalidTradesPercent = Setting(
        "ALERT_INVALID_TRADES_PERCENT", "5", wholeNumber: 0...100,
        help: "invalid_trades_high alert: more than this % of the last minute's trades invalid (and at least 10).",
        details: "`invalid_trades_high` alert: more than this percentage of the trades seen in the last minute were invalid, and at least 10 of them; `100` never opens it.")
    public static let alertNoMessagesMs = Setting(
        "ALERT_NO_MESSAGES_MS", "300000", wholeNumber: 1000...86_400_000,
        help: "no_messages alert: no frame at all this long.",
        details: "`no_messages` alert: no frame at all this long.")
    public static let backfill = Setting(
        "BACKFILL", "off",
        help: "off, or watched: after every gap, fetch the missed trades of the watched contracts from the REST API.",
        details: "`off`, or `watched`: after every feed gap the trades it missed are fetched from the REST API and merged into `options_trades` once each, for the contracts `WATCH_SYMBOLS` names and, for each underlying it names, the contracts its chain snapshot shows trading in the gap (docs/design.md §5.8.1). PostgreSQL only.")
    public static let restURL = Setting(
        "POLYGON_REST_URL", "https://api.polygon.io",
        help: "REST API base URL for the backfill (http:// or https://); the key goes as a bearer token.",
        details: "REST API base URL for the backfill (`http://` or `https://`; Polygon also serves `https://api.massive.com`). `POLYGON_API_KEY` is sent as `Authorization: Bearer`, never in a URL.")
    public static let backfillMarginMs = Setting(
        "BACKFILL_MARGIN_MS", "2000", wholeNumber: 0...3_600_000,
        help: "A gap's backfill window is widened by this much on both sides (feed time).",
        details: "A gap's backfill window (from the newest trade `t` before it to the first after it, in feed time) is widened by this much on both sides.")
    public static let backfillRequestsPerS = Setting(
        "BACKFILL_REQUESTS_PER_S", "10", wholeNumber: 1...1000,
        help: "Most REST requests a second (paid plans are asked to stay under 100); a 429 waits its Retry-After.",
        details: "Most REST requests a second, retries included (Polygon asks paid plans to stay under 100); a 429 holds every request until its `Retry-After`.")
    public static let backfillMaxContracts = Setting(
        "BACKFILL_MAX_CONTRACTS", "200", wholeNumber: 1...1_000_000,
        help: "Most contracts backfilled for one gap; the rest is logged and the gap marked partial.",
        details: "Most contracts backfilled for one gap (the quietest are cut first); what is cut is logged and the gap marked `partial`.")
    public static let alertBackfillLagMs = Setting(
        "ALERT_BACKFILL_LAG_MS", "900000", wholeNumber: 1000...604_800_000,
        help: "backfill_lagging alert: a closed gap waits this long for its backfill.",
        details: "`backfill_lagging` alert: a closed gap has waited this long for its backfill (or it failed).")
    public static let recordFile = Setting(
        "RECORD_FILE", "", aliases: ["--record"],
        help: "Append every received feed text frame to this file (JSON lines, for replay); empty = off.",
        details: "Append every received feed text frame to this file as one JSON line `{\"rx\":…,\"frame\":\"…\"}`, for `ingest-options replay`. Empty = off. Flag: `--record FILE` (or `--record-file`).")
    public static let recordMaxBytes = Setting(
        "RECORD_MAX_BYTES", "268435456", wholeNumber: 4096...(1 << 50),
        help: "The recording rotates (FILE → FILE.1 → FILE.2 …) before it would pass this size.",
        details: "The recording rotates (`FILE` → `FILE.1` → `FILE.2` …) before it would pass this size (256 MiB); fsynced at each rotation and at exit.")
    public static let recordKeep = Setting(
        "RECORD_KEEP", "5", wholeNumber: 1...10_000,
        help: "Rotated recording files kept (FILE.1 … FILE.N); older ones are deleted.",
        details: "Rotated recording files kept (`FILE.1` … `FILE.N`); older ones are deleted, so a recording uses less than (N + 1) × `RECORD_MAX_BYTES`.")
    public static let statusAddr = Setting(
        "STATUS_ADDR", "",
        help: "host:port of the status server (/health, /metrics, /events, /); empty = off. e.g. 127.0.0.1:9464.",
        details: "`host:port` of the status server (`/health`, `/metrics`, `/events`, `/`), e.g. `127.0.0.1:9464`; port `0` picks a free one (logged); empty = off. Binds where you say: keep it on loopback unless `STATUS_TOKEN` is set.")
    public static let statusToken = Setting(
        "STATUS_TOKEN", "", secret: true,
        help: "Bearer token required by every status route but /health; empty = none (warned off loopback).",
        details: "Bearer token every status route but `/health` requires (`Authorization: Bearer …`; the page `/` and `/events` also take `?token=`, `/metrics` never); compared in constant time; never logged. A non-loopback `STATUS_ADDR` without it logs a warning.")
    public static let statusEventsIntervalMs = Setting(
        "STATUS_EVENTS_INTERVAL_MS", "2000", wholeNumber: 100...600_000,
        help: "A report event on /events this often.",
        details: "A `report` event on `/events` this often.")
    public static let migrationsDir = Setting(
        "MIGRATIONS_DIR", "migrations",
        help: "Folder of the numbered SQL migrations.",
        details: "Folder of the numbered SQL migrations (found beside the binary's checkout when the default is not in the working directory).")
    public static let partitionsAheadDays = Setting(
        "PARTITIONS_AHEAD_DAYS", "3", wholeNumber: 1...366,
        help: "Daily partitions of options_trades exist from today to this many UTC days ahead (created at start and hourly).",
        details: "Daily partitions of `options_trades` exist from today to this many UTC days ahead: created by `migrate`, at start and every hour (docs/design.md §4.3). A trade after the last of them is dead-lettered (`no_partition`).")
    public static let retentionDays = Setting(
        "RETENTION_DAYS", "0", wholeNumber: 0...36_500,
        help: "Drop trade partitions whose whole UTC day is more than this many days before today (hourly); 0 keeps all.",
        details: "Every hour, detach and drop the partitions of `options_trades` whose whole range ends before the start of the UTC day this many days before today (`1` keeps yesterday and today); `0` keeps every day. A trade older than that is dead-lettered (`no_partition`), never written into a partition about to go (docs/operations.md, \"Retention\").")
    public static let sideRetentionDays = Setting(
        "SIDE_RETENTION_DAYS", "0", wholeNumber: 0...36_500,
        help: "Delete rows of feed_gaps, dead_letters and the health tables older than this many days (hourly); 0 keeps all.",
        details: "Every hour, delete the rows of `feed_gaps` (closed, not pending or failed a backfill), `dead_letters`, `price_staleness_alerts`, `symbol_health_history` and `websocket_health_logs` older than this many days, 10 000 rows a statement; `0` keeps them all.")
    public static let haMode = Setting(
        "HA_MODE", "off",
        help: "off (one instance streams) or leader (active/standby: only the holder of a database advisory lock streams).",
        details: "`off`: this instance always streams (role `single`). `leader`: active/standby — only the holder of a PostgreSQL advisory lock streams; see [running a pair](operations.md#4-running-a-pair-activestandby).")
    public static let haGroup = Setting(
        "HA_GROUP", "ingest-options",
        help: "Instances with the same group and database compete for one leader lock.",
        details: "Instances with the same group on the same database compete for one leader lock (key `hashtext('ingest-options:ha'), hashtext(HA_GROUP)`).")
    public static let haRetryMs = Setting(
        "HA_RETRY_MS", "1000", wholeNumber: 50...600_000,
        help: "A standby asks for the leader lock this often (ms).",
        details: "A standby asks for the lock (`pg_try_advisory_lock`) this often; takeover after a `kill -9` is about this plus the feed handshake.")
    public static let haCheckMs = Setting(
        "HA_CHECK_MS", "1000", wholeNumber: 50...600_000,
        help: "The leader checks it still holds the lock this often (ms).",
        details: "The leader checks on its lock connection that it still holds the lock this often.")
    public static let haLeaseMs = Setting(
        "HA_LEASE_MS", "5000", wholeNumber: 100...600_000,
        help: "A leader without a good lock check this long stops streaming (ms); must end before the server's keepalives would free the lock.",
        details: "A leader without a good check this long stops streaming; a broken lock connection stops it at once. Must be less than `HA_KEEPALIVE_IDLE_S` + 3 s.")
    public static let haKeepaliveIdleS = Setting(
        "HA_KEEPALIVE_IDLE_S", "5", wholeNumber: 1...7200,
        help: "TCP keepalive idle time (s) of the lock connection, both ends; then 3 probes 1 s apart: a vanished leader frees the lock after idle + 3 s.",
        details: "TCP keepalive idle time of the lock connection, set on both ends (then 3 probes 1 s apart): the server frees a vanished leader's lock after about this + 3 s.")

    /// Every setting, in the order documented.
    public static let all: [Setting] = [
        apiKey, wsURL, subscriptions, threshold, databaseURL, dbFlavor, questdbHost, questdbPort, questdbUser, questdbPassword,
        questdbDB, writeMode, dbPoolSize, dbHealthCheckMs, dbIdleCloseMs, maxRetries, retryDelayMs, dbStartMaxAttempts, dbBreakerFailures, dbBreakerOpenMs, spoolDir, spoolMaxBytes, spoolSegmentBytes, spoolSyncMs, logLevel, logFormat, logFile,
        flushIntervalMs, flushMinBatch, flushMaxBatch, bufferCapacity, wsMaxFrameBytes, wsPingIntervalMs, wsReadCoalesceMs,
        wsMaxReconnectAttempts, wsBackoffInitialMs, wsBackoffMaxMs, wsStableAfterMs, wsBreakerFailures, wsBreakerOpenMs,
        wsConnectTimeoutMs, wsAuthTimeoutMs, wsSubscribeTimeoutMs, wsStaleAfterMs, wsStaleReconnectAfterMs,
        shutdownTimeoutMs, recordFile, recordMaxBytes, recordKeep, migrationsDir, partitionsAheadDays, retentionDays, sideRetentionDays,
        healthReportIntervalMs, watchSymbols, marketHours, symbolDegradedAfterMs,
        symbolStaleAfterMs, symbolCriticalAfterMs, symbolEvictAfterMs, alertFeedDownMs, alertBufferItems, alertRssMB,
        alertErrorsPerMinute, alertInvalidTradesPercent, alertNoMessagesMs, backfill, restURL, backfillMarginMs, backfillRequestsPerS, backfillMaxContracts,
        alertBackfillLagMs, statusAddr, statusToken, statusEventsIntervalMs, haMode, haGroup, haRetryMs, haCheckMs,
        haLeaseMs, haKeepaliveIdleS,
    ]
}

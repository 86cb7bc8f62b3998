/// One configuration variable: its environment name, default and meaning.
/// The single list of them (`Setting.all`) drives `.env.example`, the
/// README table and the command-line flags' help (SPEC §3).
public struct Setting: Sendable, Hashable {
    /// Environment variable name, e.g. `POLYGON_API_KEY`.
    public let name: String
    /// Default value; `nil` when the variable is required or has no default.
    public let defaultValue: String?
    /// One line of meaning.
    public let help: String
    /// Never printed (API key, passwords).
    public let isSecret: Bool

    /// The command-line twin: `POLYGON_API_KEY` → `--polygon-api-key`.
    public var flag: String { "--" + name.lowercased().replacingOccurrences(of: "_", with: "-") }

    init(_ name: String, _ defaultValue: String?, _ help: String, secret: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        self.help = help
        self.isSecret = secret
    }
}

extension Setting {
    public static let apiKey = Setting("POLYGON_API_KEY", nil, "Polygon/Massive API key (required; never logged).", secret: true)
    public static let wsURL = Setting("POLYGON_WS_URL", "wss://socket.polygon.io/options", "Options WebSocket feed URL (ws:// or wss://).")
    public static let subscriptions = Setting("POLYGON_SUBSCRIPTIONS", "T.*", "Comma-separated subscriptions sent after auth.")
    public static let threshold = Setting(
        "POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "10000", "Minimum notional in USD (price × size × 100) to keep a trade; 0 keeps all.")
    public static let databaseURL = Setting(
        "DATABASE_URL", nil, "libpq connection URI of the database (required unless QUESTDB_HOST is set).", secret: true)
    public static let dbFlavor = Setting(
        "DB_FLAVOR", "auto", "auto (ask the server), postgres or questdb; QuestDB is written with bound INSERTs.")
    public static let questdbHost = Setting("QUESTDB_HOST", nil, "QuestDB host; used when DATABASE_URL is not set (implies DB_FLAVOR=questdb).")
    public static let questdbPort = Setting("QUESTDB_PORT", "8812", "QuestDB PG wire port.")
    public static let questdbUser = Setting("QUESTDB_USER", "admin", "QuestDB user.")
    public static let questdbPassword = Setting("QUESTDB_PASSWORD", "quest", "QuestDB password (never logged).", secret: true)
    public static let questdbDB = Setting("QUESTDB_DB", "qdb", "QuestDB database name (QuestDB ignores it).")
    public static let dbPoolSize = Setting("DB_POOL_SIZE", "2", "Writer connections; under load that many batches are written at once.")
    public static let dbHealthCheckMs = Setting("DB_HEALTH_CHECK_MS", "60000", "Health query (SELECT 1) on idle connections this often.")
    public static let dbIdleCloseMs = Setting("DB_IDLE_CLOSE_MS", "1800000", "Idle connections beyond the first are closed after this long.")
    public static let maxRetries = Setting("MAX_RETRIES", "3", "Retries of a failed batch write before it is handed back to the buffer.")
    public static let retryDelayMs = Setting("RETRY_DELAY_MS", "1000", "First retry delay in ms; doubles per retry, capped at 10 s.")
    public static let dbStartMaxAttempts = Setting(
        "DB_START_MAX_ATTEMPTS", "0",
        "At start, attempts to reach the database (and apply migrations) before exit 75; 0 = wait forever. Delays from RETRY_DELAY_MS, ×2, capped at 30 s.")
    public static let writeMode = Setting(
        "WRITE_MODE", "copy", "copy (COPY binary + staging + ON CONFLICT) or insert (bound multi-row INSERT, the QuestDB path).")
    public static let dbBreakerFailures = Setting(
        "DB_BREAKER_FAILURES", "5", "Consecutive failed database operations that open the database circuit breaker.")
    public static let dbBreakerOpenMs = Setting(
        "DB_BREAKER_OPEN_MS", "30000", "How long the open database breaker makes no database calls; then a SELECT 1 probe.")
    public static let spoolDir = Setting("SPOOL_DIR", ".data/spool", "Folder of the disk spool (buffer overflow, breaker open, shutdown leftovers).")
    public static let spoolMaxBytes = Setting(
        "SPOOL_MAX_BYTES", "1073741824", "Most bytes the spool holds; beyond it trades are dropped, counted and alerted. 0 = no spool.")
    public static let spoolSegmentBytes = Setting("SPOOL_SEGMENT_BYTES", "8388608", "A spool segment is fsynced and sealed at this size.")
    public static let spoolSyncMs = Setting(
        "SPOOL_SYNC_MS", "500", "A spooled record is fdatasynced within this many ms of being written (group commit); 0 = before each append returns.")
    public static let logLevel = Setting("LOG_LEVEL", "info", "trace, debug, info, notice, warning, error or critical.")
    public static let logFormat = Setting("LOG_FORMAT", "json", "json (one object per line) or text.")
    public static let logFile = Setting("LOG_FILE", "logs/app.log", "Also append logs here (directory created); empty for stdout only.")
    public static let flushIntervalMs = Setting("FLUSH_INTERVAL_MS", "5000", "Flush waiting trades at least this often (ms).")
    public static let flushMinBatch = Setting("FLUSH_MIN_BATCH", "100", "Flush at once when this many trades wait.")
    public static let flushMaxBatch = Setting("FLUSH_MAX_BATCH", "10000", "Most trades in one batch (one transaction).")
    public static let bufferCapacity = Setting(
        "BUFFER_CAPACITY", "100000", "Trades the in-memory buffer holds (64 bytes each); beyond it trades go to the spool (without one, the feed reader waits).")
    public static let wsMaxFrameBytes = Setting("WS_MAX_FRAME_BYTES", "1048576", "Largest WebSocket frame accepted from the feed.")
    public static let wsPingIntervalMs = Setting(
        "WS_PING_INTERVAL_MS", "10000", "WebSocket ping period; a peer silent for two periods is dropped.")
    public static let wsMaxReconnectAttempts = Setting(
        "WS_MAX_RECONNECT_ATTEMPTS", "10", "Consecutive failed connection attempts before exit 75; 0 = retry forever.")
    public static let wsBackoffInitialMs = Setting("WS_BACKOFF_INITIAL_MS", "1000", "First reconnect delay; doubles per failure.")
    public static let wsBackoffMaxMs = Setting("WS_BACKOFF_MAX_MS", "30000", "Reconnect delay cap (also the delay after max_connections).")
    public static let wsStableAfterMs = Setting(
        "WS_STABLE_AFTER_MS", "30000", "Streaming this long resets the failed-attempt counter and the backoff.")
    public static let wsBreakerFailures = Setting(
        "WS_BREAKER_FAILURES", "3", "Consecutive failed attempts that open the connect circuit breaker.")
    public static let wsBreakerOpenMs = Setting("WS_BREAKER_OPEN_MS", "60000", "How long the open connect breaker blocks attempts.")
    public static let wsConnectTimeoutMs = Setting(
        "WS_CONNECT_TIMEOUT_MS", "10000", "TCP connect + WebSocket upgrade + connected status must finish within this.")
    public static let wsAuthTimeoutMs = Setting("WS_AUTH_TIMEOUT_MS", "10000", "auth sent → auth_success within this.")
    public static let wsSubscribeTimeoutMs = Setting(
        "WS_SUBSCRIBE_TIMEOUT_MS", "10000", "subscribe sent → acknowledgement or first data within this.")
    public static let wsStaleAfterMs = Setting("WS_STALE_AFTER_MS", "120000", "No data this long while streaming → feed_stale ALERT.")
    public static let wsStaleReconnectAfterMs = Setting(
        "WS_STALE_RECONNECT_AFTER_MS", "600000", "No data this long → forced reconnect.")
    public static let shutdownTimeoutMs = Setting(
        "SHUTDOWN_TIMEOUT_MS", "30000", "On SIGINT/SIGTERM, time allowed to flush the buffer before exit.")
    public static let healthReportIntervalMs = Setting(
        "HEALTH_REPORT_INTERVAL_MS", "300000", "Log the health report this often (SIGUSR1 prints it at any time).")
    public static let watchSymbols = Setting(
        "WATCH_SYMBOLS", "", "Comma-separated contracts (O:…) or underlyings whose staleness is watched; empty = the 20 most active underlyings.")
    public static let marketHours = Setting(
        "MARKET_HOURS", "us-options", "us-options (staleness only 09:30-16:00 America/New_York, Mon-Fri) or always.")
    public static let symbolDegradedAfterMs = Setting("SYMBOL_DEGRADED_AFTER_MS", "180000", "A watched symbol without trades this long is degraded.")
    public static let symbolStaleAfterMs = Setting("SYMBOL_STALE_AFTER_MS", "300000", "…stale (price_staleness_alerts warning).")
    public static let symbolCriticalAfterMs = Setting("SYMBOL_CRITICAL_AFTER_MS", "3600000", "…critical (price_staleness_alerts critical).")
    public static let symbolEvictAfterMs = Setting(
        "SYMBOL_EVICT_AFTER_MS", "1800000", "Tracked symbols that are not watched are forgotten after this long without trades.")
    public static let alertFeedDownMs = Setting("ALERT_FEED_DOWN_MS", "120000", "feed_disconnected alert: not streaming this long.")
    public static let alertBufferItems = Setting("ALERT_BUFFER_ITEMS", "1000", "buffer_high alert: more trades than this waiting.")
    public static let alertRssMB = Setting("ALERT_RSS_MB", "500", "rss_high alert: resident memory above this many MiB.")
    public static let alertErrorsPerMinute = Setting("ALERT_ERRORS_PER_MINUTE", "10", "error_rate_high alert: more errors than this in a minute.")
    public static let alertNoMessagesMs = Setting("ALERT_NO_MESSAGES_MS", "300000", "no_messages alert: no frame at all this long.")
    public static let recordFile = Setting(
        "RECORD_FILE", "", "Append every received feed text frame to this file (JSON lines, for replay); empty = off.")
    public static let recordMaxBytes = Setting(
        "RECORD_MAX_BYTES", "268435456", "The recording rotates (FILE → FILE.1 → FILE.2 …) before it would pass this size.")
    public static let recordKeep = Setting("RECORD_KEEP", "5", "Rotated recording files kept (FILE.1 … FILE.N); older ones are deleted.")
    public static let statusAddr = Setting(
        "STATUS_ADDR", "", "host:port of the status server (/health, /metrics, /events, /); empty = off. e.g. 127.0.0.1:9464.")
    public static let statusToken = Setting(
        "STATUS_TOKEN", "", "Bearer token required by every status route but /health; empty = none (warned off loopback).", secret: true)
    public static let statusEventsIntervalMs = Setting(
        "STATUS_EVENTS_INTERVAL_MS", "2000", "A report event on /events this often.")
    public static let migrationsDir = Setting("MIGRATIONS_DIR", "migrations", "Folder of the numbered SQL migrations.")
    public static let haMode = Setting(
        "HA_MODE", "off", "off (one instance streams) or leader (active/standby: only the holder of a database advisory lock streams).")
    public static let haGroup = Setting("HA_GROUP", "ingest-options", "Instances with the same group and database compete for one leader lock.")
    public static let haRetryMs = Setting("HA_RETRY_MS", "1000", "A standby asks for the leader lock this often (ms).")
    public static let haCheckMs = Setting("HA_CHECK_MS", "1000", "The leader checks it still holds the lock this often (ms).")
    public static let haLeaseMs = Setting(
        "HA_LEASE_MS", "5000", "A leader without a good lock check this long stops streaming (ms); must end before the server's keepalives would free the lock.")
    public static let haKeepaliveIdleS = Setting(
        "HA_KEEPALIVE_IDLE_S", "5", "TCP keepalive idle time (s) of the lock connection, both ends; then 3 probes 1 s apart: a vanished leader frees the lock after idle + 3 s.")

    /// Every variable, in the order documented.
    public static let all: [Setting] = [
        apiKey, wsURL, subscriptions, threshold, databaseURL, dbFlavor, questdbHost, questdbPort, questdbUser, questdbPassword,
        questdbDB, writeMode, dbPoolSize, dbHealthCheckMs, dbIdleCloseMs, maxRetries, retryDelayMs, dbStartMaxAttempts, dbBreakerFailures, dbBreakerOpenMs, spoolDir, spoolMaxBytes, spoolSegmentBytes, spoolSyncMs, logLevel, logFormat, logFile,
        flushIntervalMs, flushMinBatch, flushMaxBatch, bufferCapacity, wsMaxFrameBytes, wsPingIntervalMs,
        wsMaxReconnectAttempts, wsBackoffInitialMs, wsBackoffMaxMs, wsStableAfterMs, wsBreakerFailures, wsBreakerOpenMs,
        wsConnectTimeoutMs, wsAuthTimeoutMs, wsSubscribeTimeoutMs, wsStaleAfterMs, wsStaleReconnectAfterMs,
        shutdownTimeoutMs, recordFile, recordMaxBytes, recordKeep, migrationsDir, healthReportIntervalMs, watchSymbols, marketHours, symbolDegradedAfterMs,
        symbolStaleAfterMs, symbolCriticalAfterMs, symbolEvictAfterMs, alertFeedDownMs, alertBufferItems, alertRssMB,
        alertErrorsPerMinute, alertNoMessagesMs, statusAddr, statusToken, statusEventsIntervalMs, haMode, haGroup, haRetryMs, haCheckMs,
        haLeaseMs, haKeepaliveIdleS,
    ]
}

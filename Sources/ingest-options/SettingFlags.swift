import ArgumentParser
import Foundation
import IngestService

/// Every configuration variable as a flag (`POLYGON_API_KEY` → `--polygon-api-key`).
/// Flags win over the environment, which wins over `.env` (docs/design.md §3).
struct SettingFlags: ParsableArguments {
    @Option(name: .customLong("polygon-api-key"), help: .init(Setting.apiKey.help, valueName: "POLYGON_API_KEY"))
    var apiKey: String?

    @Option(name: .customLong("polygon-ws-url"), help: .init(Setting.wsURL.help, valueName: "POLYGON_WS_URL"))
    var wsURL: String?

    @Option(name: .customLong("polygon-subscriptions"), help: .init(Setting.subscriptions.help, valueName: "POLYGON_SUBSCRIPTIONS"))
    var subscriptions: String?

    @Option(name: .customLong("polygon-option-trade-value-threshold"), help: .init(Setting.threshold.help, valueName: "POLYGON_OPTION_TRADE_VALUE_THRESHOLD"))
    var threshold: String?

    @Option(name: .customLong("database-url"), help: .init(Setting.databaseURL.help, valueName: "DATABASE_URL"))
    var databaseURL: String?

    @Option(name: .customLong("max-retries"), help: .init(Setting.maxRetries.help, valueName: "MAX_RETRIES"))
    var maxRetries: String?

    @Option(name: .customLong("retry-delay-ms"), help: .init(Setting.retryDelayMs.help, valueName: "RETRY_DELAY_MS"))
    var retryDelayMs: String?

    @Option(name: .customLong("db-start-max-attempts"), help: .init(Setting.dbStartMaxAttempts.help, valueName: "DB_START_MAX_ATTEMPTS"))
    var dbStartMaxAttempts: String?

    @Option(name: .customLong("log-level"), help: .init(Setting.logLevel.help, valueName: "LOG_LEVEL"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: .init(Setting.logFormat.help, valueName: "LOG_FORMAT"))
    var logFormat: String?

    @Option(name: .customLong("log-file"), help: .init(Setting.logFile.help, valueName: "LOG_FILE"))
    var logFile: String?

    @Option(name: .customLong("flush-interval-ms"), help: .init(Setting.flushIntervalMs.help, valueName: "FLUSH_INTERVAL_MS"))
    var flushIntervalMs: String?

    @Option(name: .customLong("flush-min-batch"), help: .init(Setting.flushMinBatch.help, valueName: "FLUSH_MIN_BATCH"))
    var flushMinBatch: String?

    @Option(name: .customLong("flush-max-batch"), help: .init(Setting.flushMaxBatch.help, valueName: "FLUSH_MAX_BATCH"))
    var flushMaxBatch: String?

    @Option(name: .customLong("buffer-capacity"), help: .init(Setting.bufferCapacity.help, valueName: "BUFFER_CAPACITY"))
    var bufferCapacity: String?

    @Option(name: .customLong("ws-max-frame-bytes"), help: .init(Setting.wsMaxFrameBytes.help, valueName: "WS_MAX_FRAME_BYTES"))
    var wsMaxFrameBytes: String?

    @Option(name: .customLong("ws-ping-interval-ms"), help: .init(Setting.wsPingIntervalMs.help, valueName: "WS_PING_INTERVAL_MS"))
    var wsPingIntervalMs: String?

    @Option(name: .customLong("shutdown-timeout-ms"), help: .init(Setting.shutdownTimeoutMs.help, valueName: "SHUTDOWN_TIMEOUT_MS"))
    var shutdownTimeoutMs: String?

    @Option(name: .customLong("migrations-dir"), help: .init(Setting.migrationsDir.help, valueName: "MIGRATIONS_DIR"))
    var migrationsDir: String?

    @Option(name: .customLong("write-mode"), help: .init(Setting.writeMode.help, valueName: "WRITE_MODE"))
    var writeMode: String?
    @Option(name: .customLong("db-breaker-failures"), help: .init(Setting.dbBreakerFailures.help, valueName: "DB_BREAKER_FAILURES"))
    var dbBreakerFailures: String?
    @Option(name: .customLong("db-breaker-open-ms"), help: .init(Setting.dbBreakerOpenMs.help, valueName: "DB_BREAKER_OPEN_MS"))
    var dbBreakerOpenMs: String?
    @Option(name: .customLong("ws-max-reconnect-attempts"), help: .init(Setting.wsMaxReconnectAttempts.help, valueName: "WS_MAX_RECONNECT_ATTEMPTS"))
    var wsMaxReconnectAttempts: String?
    @Option(name: .customLong("ws-backoff-initial-ms"), help: .init(Setting.wsBackoffInitialMs.help, valueName: "WS_BACKOFF_INITIAL_MS"))
    var wsBackoffInitialMs: String?
    @Option(name: .customLong("ws-backoff-max-ms"), help: .init(Setting.wsBackoffMaxMs.help, valueName: "WS_BACKOFF_MAX_MS"))
    var wsBackoffMaxMs: String?
    @Option(name: .customLong("ws-stable-after-ms"), help: .init(Setting.wsStableAfterMs.help, valueName: "WS_STABLE_AFTER_MS"))
    var wsStableAfterMs: String?
    @Option(name: .customLong("ws-breaker-failures"), help: .init(Setting.wsBreakerFailures.help, valueName: "WS_BREAKER_FAILURES"))
    var wsBreakerFailures: String?
    @Option(name: .customLong("ws-breaker-open-ms"), help: .init(Setting.wsBreakerOpenMs.help, valueName: "WS_BREAKER_OPEN_MS"))
    var wsBreakerOpenMs: String?
    @Option(name: .customLong("ws-connect-timeout-ms"), help: .init(Setting.wsConnectTimeoutMs.help, valueName: "WS_CONNECT_TIMEOUT_MS"))
    var wsConnectTimeoutMs: String?
    @Option(name: .customLong("ws-auth-timeout-ms"), help: .init(Setting.wsAuthTimeoutMs.help, valueName: "WS_AUTH_TIMEOUT_MS"))
    var wsAuthTimeoutMs: String?
    @Option(name: .customLong("ws-subscribe-timeout-ms"), help: .init(Setting.wsSubscribeTimeoutMs.help, valueName: "WS_SUBSCRIBE_TIMEOUT_MS"))
    var wsSubscribeTimeoutMs: String?
    @Option(name: .customLong("ws-stale-after-ms"), help: .init(Setting.wsStaleAfterMs.help, valueName: "WS_STALE_AFTER_MS"))
    var wsStaleAfterMs: String?
    @Option(name: .customLong("ws-stale-reconnect-after-ms"), help: .init(Setting.wsStaleReconnectAfterMs.help, valueName: "WS_STALE_RECONNECT_AFTER_MS"))
    var wsStaleReconnectAfterMs: String?
    @Option(name: .customLong("spool-dir"), help: .init(Setting.spoolDir.help, valueName: "SPOOL_DIR"))
    var spoolDir: String?
    @Option(name: .customLong("spool-max-bytes"), help: .init(Setting.spoolMaxBytes.help, valueName: "SPOOL_MAX_BYTES"))
    var spoolMaxBytes: String?
    @Option(name: .customLong("spool-segment-bytes"), help: .init(Setting.spoolSegmentBytes.help, valueName: "SPOOL_SEGMENT_BYTES"))
    var spoolSegmentBytes: String?
    @Option(name: .customLong("spool-sync-ms"), help: .init(Setting.spoolSyncMs.help, valueName: "SPOOL_SYNC_MS"))
    var spoolSyncMs: String?
    @Option(name: .customLong("db-flavor"), help: .init(Setting.dbFlavor.help, valueName: "DB_FLAVOR"))
    var dbFlavor: String?
    @Option(name: .customLong("questdb-host"), help: .init(Setting.questdbHost.help, valueName: "QUESTDB_HOST"))
    var questdbHost: String?
    @Option(name: .customLong("questdb-port"), help: .init(Setting.questdbPort.help, valueName: "QUESTDB_PORT"))
    var questdbPort: String?
    @Option(name: .customLong("questdb-user"), help: .init(Setting.questdbUser.help, valueName: "QUESTDB_USER"))
    var questdbUser: String?
    @Option(name: .customLong("questdb-password"), help: .init(Setting.questdbPassword.help, valueName: "QUESTDB_PASSWORD"))
    var questdbPassword: String?
    @Option(name: .customLong("questdb-db"), help: .init(Setting.questdbDB.help, valueName: "QUESTDB_DB"))
    var questdbDB: String?
    @Option(name: .customLong("db-pool-size"), help: .init(Setting.dbPoolSize.help, valueName: "DB_POOL_SIZE"))
    var dbPoolSize: String?
    @Option(name: .customLong("db-health-check-ms"), help: .init(Setting.dbHealthCheckMs.help, valueName: "DB_HEALTH_CHECK_MS"))
    var dbHealthCheckMs: String?
    @Option(name: .customLong("db-idle-close-ms"), help: .init(Setting.dbIdleCloseMs.help, valueName: "DB_IDLE_CLOSE_MS"))
    var dbIdleCloseMs: String?
    @Option(name: .customLong("health-report-interval-ms"), help: .init(Setting.healthReportIntervalMs.help, valueName: "HEALTH_REPORT_INTERVAL_MS"))
    var healthReportIntervalMs: String?
    @Option(name: .customLong("watch-symbols"), help: .init(Setting.watchSymbols.help, valueName: "WATCH_SYMBOLS"))
    var watchSymbols: String?
    @Option(name: .customLong("market-hours"), help: .init(Setting.marketHours.help, valueName: "MARKET_HOURS"))
    var marketHours: String?
    @Option(name: .customLong("symbol-degraded-after-ms"), help: .init(Setting.symbolDegradedAfterMs.help, valueName: "SYMBOL_DEGRADED_AFTER_MS"))
    var symbolDegradedAfterMs: String?
    @Option(name: .customLong("symbol-stale-after-ms"), help: .init(Setting.symbolStaleAfterMs.help, valueName: "SYMBOL_STALE_AFTER_MS"))
    var symbolStaleAfterMs: String?
    @Option(name: .customLong("symbol-critical-after-ms"), help: .init(Setting.symbolCriticalAfterMs.help, valueName: "SYMBOL_CRITICAL_AFTER_MS"))
    var symbolCriticalAfterMs: String?
    @Option(name: .customLong("symbol-evict-after-ms"), help: .init(Setting.symbolEvictAfterMs.help, valueName: "SYMBOL_EVICT_AFTER_MS"))
    var symbolEvictAfterMs: String?
    @Option(name: .customLong("alert-feed-down-ms"), help: .init(Setting.alertFeedDownMs.help, valueName: "ALERT_FEED_DOWN_MS"))
    var alertFeedDownMs: String?
    @Option(name: .customLong("alert-buffer-items"), help: .init(Setting.alertBufferItems.help, valueName: "ALERT_BUFFER_ITEMS"))
    var alertBufferItems: String?
    @Option(name: .customLong("alert-rss-mb"), help: .init(Setting.alertRssMB.help, valueName: "ALERT_RSS_MB"))
    var alertRssMB: String?
    @Option(name: .customLong("alert-errors-per-minute"), help: .init(Setting.alertErrorsPerMinute.help, valueName: "ALERT_ERRORS_PER_MINUTE"))
    var alertErrorsPerMinute: String?
    @Option(name: .customLong("alert-no-messages-ms"), help: .init(Setting.alertNoMessagesMs.help, valueName: "ALERT_NO_MESSAGES_MS"))
    var alertNoMessagesMs: String?
    @Option(name: [.customLong("record-file"), .customLong("record")], help: .init(Setting.recordFile.help, valueName: "RECORD_FILE"))
    var recordFile: String?
    @Option(name: .customLong("record-max-bytes"), help: .init(Setting.recordMaxBytes.help, valueName: "RECORD_MAX_BYTES"))
    var recordMaxBytes: String?
    @Option(name: .customLong("record-keep"), help: .init(Setting.recordKeep.help, valueName: "RECORD_KEEP"))
    var recordKeep: String?
    @Option(name: .customLong("status-addr"), help: .init(Setting.statusAddr.help, valueName: "STATUS_ADDR"))
    var statusAddr: String?
    @Option(name: .customLong("status-token"), help: .init(Setting.statusToken.help, valueName: "STATUS_TOKEN"))
    var statusToken: String?
    @Option(name: .customLong("status-events-interval-ms"), help: .init(Setting.statusEventsIntervalMs.help, valueName: "STATUS_EVENTS_INTERVAL_MS"))
    var statusEventsIntervalMs: String?
    @Option(name: .customLong("ha-mode"), help: .init(Setting.haMode.help, valueName: "HA_MODE"))
    var haMode: String?
    @Option(name: .customLong("ha-group"), help: .init(Setting.haGroup.help, valueName: "HA_GROUP"))
    var haGroup: String?
    @Option(name: .customLong("ha-retry-ms"), help: .init(Setting.haRetryMs.help, valueName: "HA_RETRY_MS"))
    var haRetryMs: String?
    @Option(name: .customLong("ha-check-ms"), help: .init(Setting.haCheckMs.help, valueName: "HA_CHECK_MS"))
    var haCheckMs: String?
    @Option(name: .customLong("ha-lease-ms"), help: .init(Setting.haLeaseMs.help, valueName: "HA_LEASE_MS"))
    var haLeaseMs: String?
    @Option(name: .customLong("ha-keepalive-idle-s"), help: .init(Setting.haKeepaliveIdleS.help, valueName: "HA_KEEPALIVE_IDLE_S"))
    var haKeepaliveIdleS: String?
    @Option(name: .customLong("env-file"), help: "Read variables from this file (default: .env in the working directory, if present).")
    var envFile: String?

    var values: [String: String] {
        let pairs: [(Setting, String?)] = [
            (Setting.apiKey, apiKey),
            (Setting.wsURL, wsURL),
            (Setting.subscriptions, subscriptions),
            (Setting.threshold, threshold),
            (Setting.databaseURL, databaseURL),
            (Setting.maxRetries, maxRetries),
            (Setting.retryDelayMs, retryDelayMs),
            (Setting.dbStartMaxAttempts, dbStartMaxAttempts),
            (Setting.logLevel, logLevel),
            (Setting.logFormat, logFormat),
            (Setting.logFile, logFile),
            (Setting.flushIntervalMs, flushIntervalMs),
            (Setting.flushMinBatch, flushMinBatch),
            (Setting.flushMaxBatch, flushMaxBatch),
            (Setting.bufferCapacity, bufferCapacity),
            (Setting.wsMaxFrameBytes, wsMaxFrameBytes),
            (Setting.wsPingIntervalMs, wsPingIntervalMs),
            (Setting.shutdownTimeoutMs, shutdownTimeoutMs),
            (Setting.migrationsDir, migrationsDir),
            (Setting.writeMode, writeMode),
            (Setting.dbBreakerFailures, dbBreakerFailures),
            (Setting.dbBreakerOpenMs, dbBreakerOpenMs),
            (Setting.wsMaxReconnectAttempts, wsMaxReconnectAttempts),
            (Setting.wsBackoffInitialMs, wsBackoffInitialMs),
            (Setting.wsBackoffMaxMs, wsBackoffMaxMs),
            (Setting.wsStableAfterMs, wsStableAfterMs),
            (Setting.wsBreakerFailures, wsBreakerFailures),
            (Setting.wsBreakerOpenMs, wsBreakerOpenMs),
            (Setting.wsConnectTimeoutMs, wsConnectTimeoutMs),
            (Setting.wsAuthTimeoutMs, wsAuthTimeoutMs),
            (Setting.wsSubscribeTimeoutMs, wsSubscribeTimeoutMs),
            (Setting.wsStaleAfterMs, wsStaleAfterMs),
            (Setting.wsStaleReconnectAfterMs, wsStaleReconnectAfterMs),
            (Setting.spoolDir, spoolDir),
            (Setting.spoolMaxBytes, spoolMaxBytes),
            (Setting.spoolSegmentBytes, spoolSegmentBytes),
            (Setting.spoolSyncMs, spoolSyncMs),
            (Setting.statusAddr, statusAddr),
            (Setting.statusToken, statusToken),
            (Setting.statusEventsIntervalMs, statusEventsIntervalMs),
            (Setting.healthReportIntervalMs, healthReportIntervalMs),
            (Setting.watchSymbols, watchSymbols),
            (Setting.marketHours, marketHours),
            (Setting.symbolDegradedAfterMs, symbolDegradedAfterMs),
            (Setting.symbolStaleAfterMs, symbolStaleAfterMs),
            (Setting.symbolCriticalAfterMs, symbolCriticalAfterMs),
            (Setting.symbolEvictAfterMs, symbolEvictAfterMs),
            (Setting.alertFeedDownMs, alertFeedDownMs),
            (Setting.alertBufferItems, alertBufferItems),
            (Setting.alertRssMB, alertRssMB),
            (Setting.alertErrorsPerMinute, alertErrorsPerMinute),
            (Setting.alertNoMessagesMs, alertNoMessagesMs),
            (Setting.dbFlavor, dbFlavor),
            (Setting.questdbHost, questdbHost),
            (Setting.questdbPort, questdbPort),
            (Setting.questdbUser, questdbUser),
            (Setting.questdbPassword, questdbPassword),
            (Setting.questdbDB, questdbDB),
            (Setting.dbPoolSize, dbPoolSize),
            (Setting.dbHealthCheckMs, dbHealthCheckMs),
            (Setting.dbIdleCloseMs, dbIdleCloseMs),
            (Setting.recordFile, recordFile),
            (Setting.recordMaxBytes, recordMaxBytes),
            (Setting.recordKeep, recordKeep),
            (Setting.haMode, haMode),
            (Setting.haGroup, haGroup),
            (Setting.haRetryMs, haRetryMs),
            (Setting.haCheckMs, haCheckMs),
            (Setting.haLeaseMs, haLeaseMs),
            (Setting.haKeepaliveIdleS, haKeepaliveIdleS),
        ]
        var values: [String: String] = [:]
        for (setting, value) in pairs {
            if let value { values[setting.name] = value }
        }
        return values
    }

    /// Loads the configuration or exits 64 with one line naming the variable.
    func configuration(requireFeed: Bool) throws -> IngestConfiguration {
        var dotEnv: [String: String] = [:]
        let path = envFile ?? ".env"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            dotEnv = ConfigurationSources.parseDotEnv(text)
        } else if envFile != nil {
            FileHandle.standardError.write(Data("error: --env-file: cannot read \(path)\n".utf8))
            throw ExitCode(64)
        }
        let sources = ConfigurationSources(flags: values, environment: ProcessInfo.processInfo.environment, dotEnv: dotEnv)
        do {
            return try IngestConfiguration(sources: sources, requireFeed: requireFeed)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(64)
        }
    }
}

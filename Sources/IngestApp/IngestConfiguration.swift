#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestDatabase
import IngestPipeline
import IngestService
import IngestSpool
import IngestStatus
import Logging
import OptionsFeed

/// A configuration value that cannot be used: names the variable, never its
/// value when it is secret. The service prints `description` and exits 64.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var variable: String
    public var reason: String

    public var description: String { "\(variable): \(reason)" }
}

/// Where values come from, in precedence order: flags > environment > `.env` > defaults (docs/design.md §3).
public struct ConfigurationSources: Sendable {
    public var flags: [String: String]
    public var environment: [String: String]
    public var dotEnv: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = [:], dotEnv: [String: String] = [:]) {
        self.flags = flags
        self.environment = environment
        self.dotEnv = dotEnv
    }

    /// The value of a setting, or its default; empty strings count as set.
    public func value(_ setting: Setting) -> String? {
        flags[setting.name] ?? environment[setting.name] ?? dotEnv[setting.name] ?? setting.defaultValue
    }

    /// Parses a `.env` file: `KEY=value` lines, `#` comments, optional
    /// `export `, single or double quotes around the value.
    public static func parseDotEnv(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingWhitespace()
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingWhitespace() }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace()
            var value = line[line.index(after: equals)...].trimmingWhitespace()
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.firstRange(of: " #") {
                value = value[..<hash.lowerBound].trimmingWhitespace()
            }
            values[key] = value
        }
        return values
    }
}

/// The service's validated configuration.
public struct IngestConfiguration: Sendable, CustomStringConvertible {
    /// What any log or error shows of it: never a secret.
    public var description: String {
        "IngestConfiguration(feed: \(maskedWSURL), db: \(PGConnection.masked(conninfo: databaseURL)), apiKey: \(maskSecret(apiKey)))"
    }

    public var apiKey: String
    public var wsURL: String
    public var subscriptions: [String]
    public var notionalThreshold: Double
    /// The libpq connection string: `DATABASE_URL`, or one made of the `QUESTDB_*` variables.
    public var databaseURL: String
    /// `nil`: `DB_FLAVOR=auto`, the server is asked at start.
    public var databaseFlavor: DatabaseFlavor?
    public var writeMode: WriteMode
    public var dbPoolSize: Int
    public var poolMaintenance: PoolMaintenance<ContinuousClock.Instant>.Configuration
    public var maxRetries: Int
    public var dbBreakerFailures: Int
    public var dbBreakerOpen: Duration
    /// `nil` when `SPOOL_MAX_BYTES` is 0: no spool, the feed reader waits for room instead.
    public var spool: Spool.Configuration?
    public var retryDelay: Duration
    /// Waiting for the database at start: `DB_START_MAX_ATTEMPTS`, delays from `RETRY_DELAY_MS`.
    public var databaseStartup: DatabaseStartup.Policy
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var logFile: String?
    public var flushInterval: Duration
    public var flushMinBatch: Int
    public var flushMaxBatch: Int
    public var bufferCapacity: Int
    public var wsMaxFrameBytes: Int
    public var wsPingInterval: Duration
    /// `WS_READ_COALESCE_MS`: how often the feed's socket is read when frames are small and far apart (docs/design.md §7).
    public var readPacing: ReadPacing.Configuration
    public var shutdownTimeout: Duration
    public var migrationsDir: String
    /// `PARTITIONS_AHEAD_DAYS`, `RETENTION_DAYS`, `SIDE_RETENTION_DAYS` (docs/design.md §4.3).
    public var retention: TableRetention
    /// `nil` when `RECORD_FILE` is empty: the feed is not recorded (docs/design.md §5.6).
    public var recording: FrameRecorder.Configuration?
    public var connection: FeedConnectionMachine<ContinuousClock.Instant>.Configuration
    public var watchdog: SessionWatchdog<ContinuousClock.Instant>.Configuration
    /// `HEALTH_REPORT_INTERVAL_MS`: the report is logged this often (docs/design.md §5.4: 5 min).
    public var healthReportInterval: Duration
    public var marketHours: MarketHours
    public var symbols: StalenessConfiguration
    public var alerts: HealthMonitor.AlertThresholds
    /// `nil`: no status server (`STATUS_ADDR` empty).
    public var statusServer: StatusServer.Configuration?
    /// `nil` when `HA_MODE=off` (the default): the instance always streams.
    public var highAvailability: HighAvailability?
    /// The REST API and backfill settings (`POLYGON_REST_URL`, `BACKFILL_*`), read whatever `BACKFILL` says:
    /// `ingest-options backfill` uses them with `BACKFILL=off` too.
    public var backfillSettings: BackfillService.Configuration
    /// `BACKFILL=watched`; off by default: gaps are recorded, not backfilled (docs/design.md §5.8.1).
    public var backfillEnabled: Bool
    /// The settings when the service backfills its gaps, `nil` when `BACKFILL=off`.
    public var backfill: BackfillService.Configuration? { backfillEnabled ? backfillSettings : nil }

    /// An active/standby pair (docs/design.md §5.5, `HA_MODE=leader`).
    public struct HighAvailability: Sendable, Equatable {
        /// `HA_GROUP`: the name the leader lock's key is made from.
        public var group: String
        /// `HA_RETRY_MS`, `HA_CHECK_MS`, `HA_LEASE_MS`.
        public var election: LeaderElection<ContinuousClock.Instant>.Configuration
        /// `HA_KEEPALIVE_IDLE_S`, then 3 probes 1 s apart; `tcp_user_timeout` = the lease.
        public var keepalive: LeaderLock.Keepalive
    }

    /// Reads and validates every setting. The first bad one throws.
    public init(sources: ConfigurationSources, requireFeed: Bool = true) throws(ConfigurationError) {
        func string(_ setting: Setting) -> String { sources.value(setting) ?? "" }
        func required(_ setting: Setting) throws(ConfigurationError) -> String {
            let value = string(setting).trimmingWhitespace()
            guard !value.isEmpty else { throw ConfigurationError(variable: setting.name, reason: "is required but not set") }
            return value
        }
        /// A whole number within the range the setting declares.
        func integer(_ setting: Setting) throws(ConfigurationError) -> Int {
            guard let range = setting.wholeNumbers else { preconditionFailure("\(setting.name) declares no whole-number range") }
            let text = string(setting).trimmingWhitespace()
            guard let value = Int(text) else {
                throw ConfigurationError(variable: setting.name, reason: "\"\(text)\" is not a whole number")
            }
            guard range.contains(value) else {
                throw ConfigurationError(variable: setting.name, reason: "\(value) is outside \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }

        apiKey = requireFeed ? try required(.apiKey) : string(.apiKey)

        wsURL = try required(.wsURL)
        if requireFeed {
            guard let url = URL(string: wsURL), let scheme = url.scheme?.lowercased(), scheme == "ws" || scheme == "wss",
                let host = url.host, !host.isEmpty
            else {
                throw ConfigurationError(variable: Setting.wsURL.name, reason: "must be a ws:// or wss:// URL with a host")
            }
        }

        do {
            // Checked before connecting: the feed refuses Q.*, FMV.* and more than 1 000 quote contracts (docs/design.md §5.1).
            subscriptions = try FeedSubscriptions(string(.subscriptions)).items
        } catch {
            throw ConfigurationError(variable: Setting.subscriptions.name, reason: error.description)
        }

        let thresholdText = string(.threshold).trimmingWhitespace()
        guard let threshold = Double(thresholdText), threshold.isFinite, threshold >= 0 else {
            throw ConfigurationError(
                variable: Setting.threshold.name, reason: "\"\(thresholdText)\" is not a non-negative number of USD")
        }
        notionalThreshold = threshold

        let questDBHost = string(.questdbHost).trimmingWhitespace()
        let url = string(.databaseURL).trimmingWhitespace()
        if url.isEmpty, !questDBHost.isEmpty {
            let port = try integer(.questdbPort)
            func quoted(_ value: String) -> String {
                "'" + value.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'"
            }
            databaseURL = [
                "host=\(quoted(questDBHost))", "port=\(port)", "user=\(quoted(string(.questdbUser)))",
                "password=\(quoted(string(.questdbPassword)))", "dbname=\(quoted(string(.questdbDB)))",
            ].joined(separator: " ")
        } else {
            databaseURL = try required(.databaseURL)
        }
        let flavorText = string(.dbFlavor).lowercased()
        switch flavorText {
        case "auto": databaseFlavor = url.isEmpty && !questDBHost.isEmpty ? .questdb : nil
        case "postgres", "postgresql": databaseFlavor = .postgres
        case "questdb": databaseFlavor = .questdb
        default: throw ConfigurationError(variable: Setting.dbFlavor.name, reason: "\"\(flavorText)\" is not auto, postgres or questdb")
        }
        dbPoolSize = try integer(.dbPoolSize)
        poolMaintenance = .init(
            healthCheckInterval: .milliseconds(try integer(.dbHealthCheckMs)),
            idleTimeout: .milliseconds(try integer(.dbIdleCloseMs)))
        if let problem = PGConnection.validate(conninfo: databaseURL) {
            throw ConfigurationError(variable: Setting.databaseURL.name, reason: "is not a valid libpq connection string (\(problem))")
        }

        let modeText = string(.writeMode).lowercased()
        guard let mode = WriteMode(rawValue: modeText) else {
            throw ConfigurationError(variable: Setting.writeMode.name, reason: "\"\(modeText)\" is not copy or insert")
        }
        writeMode = mode
        dbBreakerFailures = try integer(.dbBreakerFailures)
        dbBreakerOpen = .milliseconds(try integer(.dbBreakerOpenMs))
        let spoolMax = try integer(.spoolMaxBytes)
        let spoolSegment = try integer(.spoolSegmentBytes)
        let spoolSync = try integer(.spoolSyncMs)
        let spoolDirectory = string(.spoolDir).trimmingWhitespace()
        guard spoolMax == 0 || !spoolDirectory.isEmpty else {
            throw ConfigurationError(variable: Setting.spoolDir.name, reason: "is empty while SPOOL_MAX_BYTES is not 0")
        }
        spool = spoolMax == 0 ? nil : Spool.Configuration(
            directory: spoolDirectory, maxBytes: Int64(spoolMax), segmentBytes: spoolSegment, syncInterval: .milliseconds(spoolSync))
        maxRetries = try integer(.maxRetries)
        retryDelay = .milliseconds(try integer(.retryDelayMs))
        databaseStartup = DatabaseStartup.Policy(
            maxAttempts: try integer(.dbStartMaxAttempts), initialDelay: retryDelay, maximumDelay: .seconds(30))

        let levelText = string(.logLevel).lowercased()
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ConfigurationError(variable: Setting.logLevel.name, reason: "\"\(levelText)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
        let formatText = string(.logFormat).lowercased()
        guard let format = LogFormat(rawValue: formatText) else {
            throw ConfigurationError(variable: Setting.logFormat.name, reason: "\"\(formatText)\" is not json or text")
        }
        logFormat = format
        let file = string(.logFile).trimmingWhitespace()
        logFile = file.isEmpty ? nil : file

        flushInterval = .milliseconds(try integer(.flushIntervalMs))
        flushMinBatch = try integer(.flushMinBatch)
        flushMaxBatch = try integer(.flushMaxBatch)
        guard flushMaxBatch >= flushMinBatch else {
            throw ConfigurationError(variable: Setting.flushMaxBatch.name, reason: "must be at least FLUSH_MIN_BATCH (\(flushMinBatch))")
        }
        bufferCapacity = try integer(.bufferCapacity)
        guard bufferCapacity >= flushMaxBatch else {
            throw ConfigurationError(variable: Setting.bufferCapacity.name, reason: "must be at least FLUSH_MAX_BATCH (\(flushMaxBatch))")
        }
        wsMaxFrameBytes = try integer(.wsMaxFrameBytes)
        wsPingInterval = .milliseconds(try integer(.wsPingIntervalMs))
        readPacing = ReadPacing.Configuration(interval: .milliseconds(try integer(.wsReadCoalesceMs)))
        shutdownTimeout = .milliseconds(try integer(.shutdownTimeoutMs))
        migrationsDir = string(.migrationsDir)
        retention = TableRetention(
            aheadDays: try integer(.partitionsAheadDays), tradeDays: try integer(.retentionDays), sideDays: try integer(.sideRetentionDays))

        let recordPath = string(.recordFile).trimmingWhitespace()
        let recordMaxBytes = try integer(.recordMaxBytes)
        let recordKeep = try integer(.recordKeep)
        recording = recordPath.isEmpty
            ? nil : FrameRecorder.Configuration(path: recordPath, rotation: .init(maxBytes: Int64(recordMaxBytes), keep: recordKeep))

        let backoffInitial = try integer(.wsBackoffInitialMs)
        let backoffMax = try integer(.wsBackoffMaxMs)
        guard backoffMax >= backoffInitial else {
            throw ConfigurationError(variable: Setting.wsBackoffMaxMs.name, reason: "must be at least WS_BACKOFF_INITIAL_MS (\(backoffInitial))")
        }
        connection = .init(
            backoff: Backoff(initial: .milliseconds(backoffInitial), maximum: .milliseconds(backoffMax)),
            maxReconnectAttempts: try integer(.wsMaxReconnectAttempts),
            stablePeriod: .milliseconds(try integer(.wsStableAfterMs)),
            breakerFailures: try integer(.wsBreakerFailures),
            breakerOpenDuration: .milliseconds(try integer(.wsBreakerOpenMs)))
        let staleAfter = try integer(.wsStaleAfterMs)
        let staleReconnect = try integer(.wsStaleReconnectAfterMs)
        guard staleReconnect > staleAfter else {
            throw ConfigurationError(
                variable: Setting.wsStaleReconnectAfterMs.name, reason: "must be more than WS_STALE_AFTER_MS (\(staleAfter))")
        }
        watchdog = .init(
            connectTimeout: .milliseconds(try integer(.wsConnectTimeoutMs)),
            authTimeout: .milliseconds(try integer(.wsAuthTimeoutMs)),
            subscribeTimeout: .milliseconds(try integer(.wsSubscribeTimeoutMs)),
            staleAfter: .milliseconds(staleAfter), reconnectAfter: .milliseconds(staleReconnect))
        (healthReportInterval, marketHours, symbols, alerts) = try Self.health(sources, integer: integer)
        let statusAddress = string(.statusAddr).trimmingWhitespace()
        let eventsInterval = try integer(.statusEventsIntervalMs)
        if statusAddress.isEmpty {
            statusServer = nil
        } else {
            guard let (host, port) = StatusServer.Configuration.address(statusAddress) else {
                throw ConfigurationError(variable: Setting.statusAddr.name, reason: "must be host:port, e.g. 127.0.0.1:9464")
            }
            let token = string(.statusToken).trimmingWhitespace()
            statusServer = .init(host: host, port: port, token: token.isEmpty ? nil : token, eventsInterval: .milliseconds(eventsInterval))
        }
        highAvailability = try Self.highAvailability(sources, integer: integer)
        (backfillEnabled, backfillSettings) = try Self.backfill(
            sources, apiKey: apiKey, watched: symbols.watched, flavor: databaseFlavor, integer: integer)
        // The backfill keeps what the live path keeps (docs/design.md §5.8.1).
        backfillSettings.notionalThreshold = notionalThreshold
    }

    /// The `BACKFILL*` settings (docs/design.md §5.8.1), and whether `BACKFILL`
    /// is on. When it is, `WATCH_SYMBOLS` must name contracts or underlyings
    /// (empty watches the most active underlyings seen, which a restart would
    /// not know), and QuestDB is refused: it cannot hold a merge in one transaction.
    static func backfill(
        _ sources: ConfigurationSources, apiKey: String, watched: [String], flavor: DatabaseFlavor?,
        integer: (Setting) throws(ConfigurationError) -> Int
    ) throws(ConfigurationError) -> (enabled: Bool, settings: BackfillService.Configuration) {
        let mode = (sources.value(.backfill) ?? "").trimmingWhitespace().lowercased()
        guard mode == "off" || mode == "watched" else {
            throw ConfigurationError(variable: Setting.backfill.name, reason: "\"\(mode)\" is not off or watched")
        }
        let urlText = (sources.value(.restURL) ?? "").trimmingWhitespace()
        guard let endpoint = RESTEndpoint(urlText) else {
            throw ConfigurationError(variable: Setting.restURL.name, reason: "must be an http:// or https:// URL with a host, no query")
        }
        let settings = BackfillService.Configuration(
            endpoint: endpoint, apiKey: apiKey, watched: watched, marginMs: Int64(try integer(.backfillMarginMs)),
            requestsPerSecond: Double(try integer(.backfillRequestsPerS)), maxContracts: try integer(.backfillMaxContracts),
            lagAlert: .milliseconds(try integer(.alertBackfillLagMs)))
        guard mode == "watched" else { return (false, settings) }
        guard !watched.isEmpty else {
            throw ConfigurationError(variable: Setting.backfill.name, reason: "is watched but WATCH_SYMBOLS names no contract or underlying")
        }
        guard flavor != .questdb else {
            throw ConfigurationError(variable: Setting.backfill.name, reason: "needs PostgreSQL (QuestDB has no transactions for the merge)")
        }
        return (true, settings)
    }

    /// The `HA_*` settings (docs/design.md §5.5). The lease must run out before the
    /// server could notice a vanished leader and free its lock (keepalive idle
    /// + 3 probes × 1 s): otherwise a cut-off leader could still be streaming
    /// when a standby gets the lock.
    static func highAvailability(_ sources: ConfigurationSources, integer: (Setting) throws(ConfigurationError) -> Int)
        throws(ConfigurationError) -> HighAvailability?
    {
        let mode = (sources.value(.haMode) ?? "").trimmingWhitespace().lowercased()
        switch mode {
        case "off": return nil
        case "leader": break
        default: throw ConfigurationError(variable: Setting.haMode.name, reason: "\"\(mode)\" is not off or leader")
        }
        let group = (sources.value(.haGroup) ?? "").trimmingWhitespace()
        guard !group.isEmpty else { throw ConfigurationError(variable: Setting.haGroup.name, reason: "is empty while HA_MODE=leader") }
        let retry = try integer(.haRetryMs)
        let check = try integer(.haCheckMs)
        let lease = try integer(.haLeaseMs)
        let idle = try integer(.haKeepaliveIdleS)
        let keepalive = LeaderLock.Keepalive(idleSeconds: idle, intervalSeconds: 1, count: 3, userTimeoutMs: lease)
        guard lease > check else {
            throw ConfigurationError(variable: Setting.haLeaseMs.name, reason: "must be more than HA_CHECK_MS (\(check))")
        }
        let serverNotices = (keepalive.idleSeconds + keepalive.intervalSeconds * keepalive.count) * 1000
        guard lease < serverNotices else {
            throw ConfigurationError(
                variable: Setting.haLeaseMs.name,
                reason: "must be less than HA_KEEPALIVE_IDLE_S + 3 s (\(serverNotices) ms), when the server frees a vanished leader's lock")
        }
        return HighAvailability(
            group: group,
            election: .init(retryInterval: .milliseconds(retry), checkInterval: .milliseconds(check), lease: .milliseconds(lease)),
            keepalive: keepalive)
    }

    /// The health settings (docs/design.md §5.4); split out to keep `init` readable.
    static func health(_ sources: ConfigurationSources, integer: (Setting) throws(ConfigurationError) -> Int)
        throws(ConfigurationError) -> (Duration, MarketHours, StalenessConfiguration, HealthMonitor.AlertThresholds)
    {
        let interval = Duration.milliseconds(try integer(.healthReportIntervalMs))
        let hoursText = (sources.value(.marketHours) ?? "").trimmingWhitespace().lowercased()
        guard let hours = MarketHours(setting: hoursText) else {
            throw ConfigurationError(variable: Setting.marketHours.name, reason: "\"\(hoursText)\" is not us-options or always")
        }
        let watched = (sources.value(.watchSymbols) ?? "").split(separator: ",").map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
        for symbol in watched where symbol.hasPrefix("O:") && OptionSymbol(symbol) == nil {
            throw ConfigurationError(variable: Setting.watchSymbols.name, reason: "\"\(symbol)\" is not an option contract like O:SPY251219C00650000")
        }
        let degraded = try integer(.symbolDegradedAfterMs)
        let stale = try integer(.symbolStaleAfterMs)
        let critical = try integer(.symbolCriticalAfterMs)
        guard degraded < stale, stale < critical else {
            throw ConfigurationError(
                variable: Setting.symbolStaleAfterMs.name, reason: "must lie between SYMBOL_DEGRADED_AFTER_MS and SYMBOL_CRITICAL_AFTER_MS")
        }
        let symbols = StalenessConfiguration(
            watched: watched, degradedAfter: .milliseconds(degraded), staleAfter: .milliseconds(stale),
            criticalAfter: .milliseconds(critical), evictIdleAfter: .milliseconds(try integer(.symbolEvictAfterMs)))
        var alerts = HealthMonitor.AlertThresholds()
        alerts.feedDownAfter = .milliseconds(try integer(.alertFeedDownMs))
        alerts.bufferItems = try integer(.alertBufferItems)
        alerts.rssBytes = try integer(.alertRssMB) << 20
        alerts.errorsPerMinute = try integer(.alertErrorsPerMinute)
        alerts.invalidTradesPercent = try integer(.alertInvalidTradesPercent)
        alerts.noMessagesAfter = .milliseconds(try integer(.alertNoMessagesMs))
        return (interval, hours, symbols, alerts)
    }

    /// The feed URL for logs: no user info, no query (keys sometimes ride there).
    public var maskedWSURL: String {
        guard var components = URLComponents(string: wsURL) else { return "***" }
        components.user = nil
        components.password = nil
        if components.query != nil { components.query = "***" }
        return components.string ?? "***"
    }
}

/// Masks a secret for display: `abc…xyz` for long ones, `***` otherwise (docs/design.md §3).
public func maskSecret(_ secret: String) -> String {
    guard secret.count >= 12 else { return "***" }
    return "\(secret.prefix(3))…\(secret.suffix(3))"
}

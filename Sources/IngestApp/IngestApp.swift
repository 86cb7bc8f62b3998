#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IngestDatabase
import IngestPipeline
import IngestService
import IngestStatus
import Logging
import OptionsFeed
import ServiceLifecycle
import UnixSignals

/// Process exit codes (docs/design.md §2).
public enum ExitStatus: Int32, Sendable {
    case clean = 0
    case badConfiguration = 64
    case internalError = 70
    case gaveUpReconnecting = 75
    case authenticationRejected = 77
}

/// Wires configuration, logging, migrations and the services together.
public enum IngestApp {
    /// Reported in logs and the health report.
    public static let version = "0.4.0"

    /// Sets up logging for the process; call once, before any logger is made.
    /// `console`: where log lines go besides `LOG_FILE` (stdout, or stderr for `replay`).
    public static func bootstrapLogging(_ configuration: IngestConfiguration, console: Int32 = STDOUT_FILENO) throws {
        let sink = try LogSink(format: configuration.logFormat, filePath: configuration.logFile, console: console)
        LogSink.current.withLock { $0 = sink }
        // A console whose reader went away must not kill the process: the write fails (EPIPE) and
        // the line is counted as dropped instead. Sockets are unaffected (NIO uses MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        // At exit, the last lines reach a console that reads; a stalled one holds the exit 2 s at most.
        atexit { _ = LogSink.current.withLock { $0 }?.flushConsole(timeout: .seconds(2)) }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, sink: sink, level: level) }
    }

    /// Applies the migrations (`ingest-options migrate`, and at start).
    public static func migrate(_ configuration: IngestConfiguration) throws -> [String] {
        try migrate(configuration, flavor: resolveFlavor(configuration))
    }

    static func migrate(_ configuration: IngestConfiguration, flavor: DatabaseFlavor) throws -> [String] {
        let logger = Logger(label: "database")
        guard let directory = Migrator.locate(configured: configuration.migrationsDir) else {
            throw ConfigurationError(
                variable: Setting.migrationsDir.name, reason: "folder \"\(configuration.migrationsDir)\" not found")
        }
        let applied = try Migrator(directory: directory).apply(conninfo: configuration.databaseURL, flavor: flavor, logger: logger)
        if flavor == .postgres {
            // Today's partition and PARTITIONS_AHEAD_DAYS after it, so that a write never meets a missing one (docs/design.md §4.3).
            let created = try TableMaintenance.createPartitionsAhead(conninfo: configuration.databaseURL, retention: configuration.retention)
            if created > 0 { logger.info("partitions created ahead", metadata: ["partitions": "\(created)"]) }
        }
        return applied
    }

    /// `DB_FLAVOR`, or for `auto` what the server says it is; a server that
    /// cannot be asked now is taken for PostgreSQL (logged).
    static func resolveFlavor(_ configuration: IngestConfiguration) -> DatabaseFlavor {
        if let flavor = configuration.databaseFlavor { return flavor }
        do {
            return try DatabaseFlavor.detect(conninfo: configuration.databaseURL)
        } catch {
            Logger(label: "database").warning(
                "DB_FLAVOR=auto: the server could not be asked; assuming postgres", metadata: ["error": "\(error)"])
            return .postgres
        }
    }

    /// Runs the service until SIGINT/SIGTERM (exit 0) or a fatal condition.
    public static func run(_ configuration: IngestConfiguration, migrate runMigrations: Bool) async -> ExitStatus {
        tuneAllocator()
        let logger = Logger(label: "system")
        logger.info(
            "starting ingest-options",
            metadata: [
                "pid": "\(ProcessInfo.processInfo.processIdentifier)", "feed": "\(configuration.maskedWSURL)",
                "db": "\(PGConnection.masked(conninfo: configuration.databaseURL))",
                "api_key": "\(maskSecret(configuration.apiKey))",
                "threshold_usd": "\(configuration.notionalThreshold)", "db_pool_size": "\(configuration.dbPoolSize)",
                "ha_mode": "\(configuration.highAvailability == nil ? "off" : "leader")",
                "ha_group": "\(configuration.highAvailability?.group ?? "")",
            ])
        let flavor: DatabaseFlavor
        if runMigrations {
            // A database that is down or refuses the password at start is waited for, not fatal (docs/guarantees.md).
            switch await DatabaseStartup.prepare(configuration, policy: configuration.databaseStartup, logger: Logger(label: "database")) {
            case .ready(let resolved): flavor = resolved
            case .exit(let status): return status
            }
        } else {
            flavor = resolveFlavor(configuration)
            // Without migrations the table is still checked: direct COPY is exactly-once only with the natural key.
            if flavor == .postgres {
                do {
                    if let problem = try SchemaCheck.problems(conninfo: configuration.databaseURL).first {
                        return DatabaseStartup.refuse(schemaProblem: problem, logger: Logger(label: "database"))
                    }
                } catch {
                    logger.warning("the schema could not be checked at start (the database does not answer yet)", metadata: ["error": "\(error)"])
                }
            }
        }
        if configuration.highAvailability != nil, flavor != .postgres {
            // The leader lock is a PostgreSQL advisory lock; QuestDB has none.
            logger.critical(
                "HA_MODE=leader needs PostgreSQL (advisory locks); the database is \(flavor.rawValue)",
                metadata: ["variable": "\(Setting.haMode.name)"])
            return .badConfiguration
        }

        // The one wall clock: receive times, gap times, report and health-table times.
        let wallClock = WallClock.system
        let stats = IngestStats()
        let buffer = makeBuffer(configuration)
        let writer = makeWriter(configuration, flavor: flavor, wallClock: wallClock)
        writer.startMaintenance()
        guard let spool = openSpool(configuration, logger: logger) else { return .internalError }
        if let snapshot = spool?.snapshot, snapshot.bytes > 0 {
            logger.info("spool left by an earlier run will be replayed first", metadata: ["bytes": "\(snapshot.bytes)", "segments": "\(snapshot.segments)"])
        }
        if configuration.backfill != nil, flavor != .postgres {
            logger.critical(
                "BACKFILL=watched needs PostgreSQL (one transaction per merge); the database is \(flavor.rawValue)",
                metadata: ["variable": "\(Setting.backfill.name)"])
            return .badConfiguration
        }
        // With BACKFILL on, every gap's close marks its row for the backfill (docs/design.md §5.8.1).
        let gaps = GapLedger(backfillOnClose: configuration.backfill != nil)
        // In a pair, the gap before this instance streams is measured when it gets the lock (LeaderService).
        if flavor == .postgres, configuration.highAvailability == nil, let lastData = try? Migrator.unrecordedRestartGap(conninfo: configuration.databaseURL) {
            // The previous run ended without recording a gap (crash, kill -9): the restart is one.
            gaps.restarted(lastDataAt: lastData.start, fromT: lastData.lastTradeT)
        }
        let deadLetters = DeadLetterQueue()
        let recorder: FrameRecorder?
        do {
            recorder = try configuration.recording.map { try FrameRecorder(configuration: $0, logger: Logger(label: "system")) }
        } catch {
            // A bad configuration value: the one-line error on stderr, as for every other setting (docs/design.md §2).
            StandardStreams.error("error: \(Setting.recordFile.name): \(error)\n")
            logger.critical(
                "the recording file cannot be opened", metadata: ["variable": "\(Setting.recordFile.name)", "error": "\(error)"])
            return .badConfiguration
        }
        if let recorder {
            logger.info(
                "recording the feed", metadata: ["file": "\(recorder.configuration.path)",
                                                 "max_bytes": "\(recorder.configuration.rotation.maxBytes)",
                                                 "keep": "\(recorder.configuration.rotation.keep)"])
        }
        let monitor = FeedMonitor(configuration: configuration.connection, wallClock: wallClock)
        let healthEvents = HealthEventQueue()
        let metrics = IngestMetrics()
        metrics.bootstrap()
        let role = InstanceRole(configuration.highAvailability == nil ? .single : .standby, wallClock: wallClock)
        let databaseMonitor = DatabaseMonitor(flavor: flavor.rawValue) { metrics.dbWriteSeconds.record($0) }
        let errors = ErrorLog(
            secrets: [configuration.apiKey, configuration.statusServer?.token ?? ""]
                + [PGConnection.password(in: configuration.databaseURL)].compactMap { $0 }, wallClock: wallClock)
        let backfillProgress = BackfillProgress(enabled: configuration.backfill != nil, lagAlert: configuration.backfill?.lagAlert)
        let health = HealthMonitor(
            configuration: .init(
                version: Self.version, maskedURL: configuration.maskedWSURL, subscriptions: configuration.subscriptions,
                alerts: configuration.alerts, marketHours: configuration.marketHours, symbols: configuration.symbols),
            stats: stats, buffer: buffer, spool: spool, feed: monitor, database: databaseMonitor, errors: errors, healthEvents: healthEvents, role: role,
            gaps: gaps, deadLetters: deadLetters, backfill: backfillProgress, wallClock: wallClock)
        let intake = FeedIntake(
            buffer: buffer, stats: stats, gaps: gaps, deadLetters: deadLetters, spool: spool, notionalThreshold: configuration.notionalThreshold,
            health: health, logger: Logger(label: "websocket"))
        let session = FeedSession(
            configuration: FeedSessionConfiguration(
                url: configuration.wsURL, apiKey: configuration.apiKey, subscriptions: configuration.subscriptions,
                maxFrameBytes: configuration.wsMaxFrameBytes, pingInterval: configuration.wsPingInterval,
                watchdog: configuration.watchdog, readPacing: configuration.readPacing),
            intake: intake, monitor: monitor, recorder: recorder, wallClock: wallClock, logger: Logger(label: "websocket"))
        let feed = FeedService(session: session, monitor: monitor, gaps: gaps, stats: stats, errors: errors, logger: Logger(label: "websocket"))
        // HA_MODE=leader: the feed runs only while this instance holds the leader lock.
        let leaderLock = configuration.highAvailability.map {
            LeaderLock(conninfo: configuration.databaseURL, group: $0.group, keepalive: $0.keepalive, logger: Logger(label: "database"))
        }
        let feedService: any Service = if let ha = configuration.highAvailability, let leaderLock {
            LeaderService(election: ha.election, lock: leaderLock, feed: feed, gaps: gaps, role: role, logger: Logger(label: "system"))
        } else {
            feed
        }
        let flusher = makeFlusher(
            configuration, buffer: buffer, gaps: gaps, deadLetters: deadLetters, healthEvents: healthEvents, monitor: databaseMonitor,
            errors: errors, spool: spool, writer: writer, stats: stats, wallClock: wallClock)

        let backfill = configuration.backfill.flatMap { settings in
            makeBackfill(
                settings, conninfo: configuration.databaseURL, retention: configuration.retention, watermark: flusher.watermark, role: role, progress: backfillProgress,
                errors: errors, wallClock: wallClock)
        }

        // Graceful shutdown runs in reverse order: the backfill stops first, the feed stops reading, then the flusher drains,
        // then health and the status server (which show the drain while it lasts).
        var statusServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let status = configuration.statusServer {
            statusServices.append(
                .init(
                    service: StatusServer(configuration: status, monitor: health, metrics: metrics, logger: Logger(label: "health")),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: statusServices + [
                    .init(service: HealthService(
                        monitor: health, interval: configuration.healthReportInterval, logger: Logger(label: "health"),
                        stdout: LogSink.writeStdoutOrPrint),
                          successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
                    .init(service: flusher, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: feedService, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(
                        service: TableMaintenanceService(writer: writer, role: role, logger: Logger(label: "database")),
                        successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
                ] + (backfill.map { [.init(service: $0.service, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "system", factory: { _ in SwiftLogNoOpLogHandler() })
            ))

        let interrupts = watchStopSignals(flusher: flusher, spool: spool, stats: stats, logger: logger) { recorder?.close() }
        defer { interrupts.cancel() }

        var status = ExitStatus.clean
        do {
            try await group.run()
        } catch let error as FeedError {
            switch error {
            case .authenticationRejected: status = .authenticationRejected
            case .gaveUp: status = .gaveUpReconnecting
            }
        } catch {
            logger.critical("service failed", metadata: ["error": "\(error)"])
            status = .internalError
        }
        if let leaderLock {
            // After the drain: the standby takes over once everything this leader read is written.
            // A lock connection hung in a dead network must not hold the exit: closing the process frees it too.
            let released = await LeaderService.value(by: .now.advanced(by: .seconds(3))) { await leaderLock.close() } != nil
            logger.info("leader lock released", metadata: ["role": "\(role.role.rawValue)", "clean": .stringConvertible(released)])
        }
        if let backfill {
            await backfill.client.shutdown()
            await backfill.store.shutdown()
        }
        await writer.shutdown()
        closeSpool(spool, logger: logger)
        if let recorder {
            // The feed reader has stopped: what is queued is written and fsynced now.
            recorder.close()
            logger.info(
                "recording closed",
                metadata: ["file": "\(recorder.configuration.path)", "frames": "\(recorder.recordedFrames)",
                           "left_out": "\(recorder.leftOutFrames)", "rotations": "\(recorder.rotations)",
                           "failed": .stringConvertible(recorder.failure != nil)])
        }
        logger.info(
            "stopped",
            metadata: stats.summary.merging(health.pendingLosses.summary) { $1 }.mapValues { "\($0)" }
                .merging(["exit_code": "\(status.rawValue)"]) { $1 })
        return status
    }
}

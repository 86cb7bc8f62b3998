#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestDatabase
import IngestPipeline
import IngestService
import Logging
import OptionsFeed
import ServiceLifecycle
import UnixSignals

/// What `ingest-options replay` was asked to do.
public struct ReplayRequest: Sendable {
    /// Recording files in the order to read them; `-` is standard input.
    public var inputs: [String]
    public var schedule: ReplaySchedule
    /// Apply `migrations/` first (unless `--no-migrate`).
    public var migrate: Bool

    public init(inputs: [String], schedule: ReplaySchedule = .init(), migrate: Bool = true) {
        self.inputs = inputs
        self.schedule = schedule
        self.migrate = migrate
    }
}

extension IngestApp {
    /// Replays recorded frames through the live pipeline (docs/design.md §2, §5.6)
    /// and prints one JSON summary line on stdout. No feed connection, no
    /// API key, no `feed_gaps` changes; migrations, buffer, flusher, writer,
    /// spool and dead letters exactly as the service has them.
    ///
    /// Exit 0 once every input was read and every accepted trade reached the
    /// database (or SIGINT/SIGTERM stopped the reading: the summary says
    /// `"complete":false`); 75 when the database did not take everything
    /// within `SHUTDOWN_TIMEOUT_MS` after the last line (the rest is in the
    /// spool, which the next run or replay writes first); 70 when migrations fail.
    public static func replay(_ configuration: IngestConfiguration, request: ReplayRequest) async -> ExitStatus {
        tuneAllocator()
        let logger = Logger(label: "system")
        logger.info(
            "starting replay",
            metadata: [
                "pid": "\(ProcessInfo.processInfo.processIdentifier)", "inputs": "\(request.inputs.joined(separator: " "))",
                "db": "\(PGConnection.masked(conninfo: configuration.databaseURL))",
                "threshold_usd": "\(configuration.notionalThreshold)", "speed": "\(request.schedule.speed.map { "\($0)" } ?? "max")",
            ])
        let flavor = resolveFlavor(configuration)
        if request.migrate {
            do {
                let applied = try migrate(configuration, flavor: flavor)
                logger.info("migrations up to date", metadata: ["applied_now": "\(applied.count)"])
            } catch {
                logger.critical("migrations failed", metadata: ["error": "\(error)"])
                return .internalError
            }
        }

        let started = ContinuousClock.now
        let stats = IngestStats()
        let counters = ReplayCounters()
        let buffer = makeBuffer(configuration)
        let writer = makeWriter(configuration, flavor: flavor, wallClock: .system)
        guard let spool = openSpool(configuration, logger: logger) else { return .internalError }
        // A replay streams no feed: it neither opens nor closes `feed_gaps` rows.
        let gaps = GapLedger(startsOpen: false)
        let deadLetters = DeadLetterQueue()
        let intake = FeedIntake(
            buffer: buffer, stats: stats, gaps: gaps, deadLetters: deadLetters, spool: spool,
            notionalThreshold: configuration.notionalThreshold, spoolsBehindBacklog: false, logger: Logger(label: "replay"))
        let reader = ReplayService(
            inputs: request.inputs, schedule: request.schedule, intake: intake, counters: counters, clock: ContinuousClock(),
            logger: Logger(label: "replay"))
        let flusher = makeFlusher(configuration, buffer: buffer, gaps: gaps, deadLetters: deadLetters, spool: spool, writer: writer, stats: stats, wallClock: .system)

        // The reader finishing ends the group; graceful shutdown runs in reverse
        // order, so the flusher then drains everything read (docs/design.md §5.2 drain).
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: flusher, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: reader, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "system", factory: { _ in SwiftLogNoOpLogHandler() })
            ))

        // Stop signals bound the drain as in the service: a second SIGINT spools the rest at once.
        let interrupts = watchStopSignals(flusher: flusher, spool: spool, stats: stats, logger: logger)
        defer { interrupts.cancel() }

        var status = ExitStatus.clean
        do {
            try await group.run()
        } catch {
            logger.critical("replay failed", metadata: ["error": "\(error)"])
            status = .internalError
        }
        await writer.shutdown()
        closeSpool(spool, logger: logger)

        let spoolHoldsTrades = spool.map { !$0.isEmpty } ?? false
        let spooled = spoolHoldsTrades
            ? max(0, stats.spooledTrades.load(ordering: .relaxed) - stats.spoolReplayedTrades.load(ordering: .relaxed)) : 0
        let databaseTookAll = buffer.count == 0 && !spoolHoldsTrades && stats.tradesDropped.load(ordering: .relaxed) == 0
        let readAll = counters.finishedReading.load(ordering: .relaxed)
        if status == .clean, !databaseTookAll {
            logger.error(
                "the database did not take every replayed trade in time; the rest waits in the spool",
                metadata: ["spool_dir": "\(configuration.spool?.directory ?? "")", "dropped": "\(stats.tradesDropped.load(ordering: .relaxed))"])
            status = .gaveUpReconnecting
        }
        let elapsed = started.duration(to: .now)
        let seconds = elapsed.seconds
        let summary = ReplaySummary(
            stats: stats, counters: counters, seconds: seconds, spooled: spooled,
            complete: readAll && databaseTookAll && status == .clean)
        logger.info("replay finished", metadata: stats.summary.mapValues { "\($0)" }.merging(["exit_code": "\(status.rawValue)"]) { $1 })
        StandardStreams.output(summary.jsonLine + "\n")
        return status
    }
}

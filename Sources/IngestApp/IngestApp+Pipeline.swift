import CMalloc
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
import IngestSpool
import Logging
import OptionsFeed
import UnixSignals

/// The parts the live service and `replay` build alike: one writer, one spool,
/// one flusher, one second-SIGINT rule, so that a replay really runs the same
/// pipeline as the feed (docs/design.md §5.6).
extension IngestApp {
    /// Allocations from `mmapThreshold` up get pages of their own from the
    /// kernel, returned when freed. glibc's default threshold rises with every
    /// large block freed (up to 32 MiB), after which batches, COPY buffers and
    /// spool reads of a few hundred KiB come from the heaps of several threads
    /// and leave holes there: ~3 MB of RSS at `--rate 0` (docs/performance.md). A few page
    /// faults per batch cost nothing next to writing it.
    static let mmapThreshold: Int32 = 256 << 10

    /// Fixes the allocator's mmap threshold (see `mmapThreshold`); once, at
    /// start, before the heaps hold free blocks that large requests would take
    /// first. (glibc 2.36 answers 1 to any value, so there is nothing to check.)
    static func tuneAllocator() {
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
    }

    static func makeBuffer(_ configuration: IngestConfiguration) -> RecordBuffer {
        RecordBuffer(capacity: configuration.bufferCapacity, flushThreshold: configuration.flushMinBatch)
    }

    /// The pooled writer for `flavor`, as configured.
    static func makeWriter(_ configuration: IngestConfiguration, flavor: DatabaseFlavor, wallClock: WallClock) -> PostgresTradeWriter {
        PostgresTradeWriter(
            conninfo: configuration.databaseURL, flavor: flavor, mode: configuration.writeMode, poolSize: configuration.dbPoolSize,
            maintenance: configuration.poolMaintenance, wallClock: wallClock, retention: configuration.retention, logger: Logger(label: "database"))
    }

    /// Opens `SPOOL_DIR` (`nil` spool when `SPOOL_MAX_BYTES=0`); `nil` result: it cannot be used (logged).
    static func openSpool(_ configuration: IngestConfiguration, logger: Logger) -> Spool?? {
        do {
            return .some(try configuration.spool.map { try Spool(configuration: $0) })
        } catch {
            logger.critical("the spool directory cannot be used", metadata: ["dir": "\(configuration.spool?.directory ?? "")", "error": "\(error)"])
            return nil
        }
    }

    /// The flusher under the configured flush policy, retries, breaker and shutdown timeout.
    static func makeFlusher(
        _ configuration: IngestConfiguration, buffer: RecordBuffer, gaps: GapLedger, deadLetters: DeadLetterQueue,
        healthEvents: HealthEventQueue = .init(), monitor: DatabaseMonitor = .init(flavor: "postgres"), errors: ErrorLog = .init(),
        spool: Spool?, writer: PostgresTradeWriter, stats: IngestStats, wallClock: WallClock
    ) -> FlushService<ContinuousClock> {
        FlushService(
            buffer: buffer, gaps: gaps, deadLetters: deadLetters, healthEvents: healthEvents, monitor: monitor, errors: errors,
            spool: spool, writer: writer,
            policy: .init(
                interval: configuration.flushInterval, minimumBatch: configuration.flushMinBatch,
                maximumBatch: configuration.flushMaxBatch),
            retry: RetrySchedule(maxRetries: configuration.maxRetries, initialDelay: configuration.retryDelay),
            breakerFailures: configuration.dbBreakerFailures, breakerOpenDuration: configuration.dbBreakerOpen,
            shutdownTimeout: configuration.shutdownTimeout, stats: stats, clock: ContinuousClock(),
            logger: Logger(label: "buffer"), wallClock: wallClock)
    }

    /// How long after the shutdown deadline the process may still be running
    /// before it spools what is left and exits by itself (docs/faults.md,
    /// "Shutdown"): the bound of a shutdown is `SHUTDOWN_TIMEOUT_MS` plus this.
    static let shutdownBackstop: Duration = .milliseconds(1500)

    /// Watches the stop signals. The first SIGINT/SIGTERM starts the shutdown
    /// deadline (the service group drains meanwhile); a second SIGINT expires
    /// it at once: writes in flight are cancelled and everything not committed
    /// is spooled, exit 0. Should the process still run `shutdownBackstop`
    /// after the deadline (a write that did not return, a service that does not
    /// stop), the last resort spools the buffer and the batches in flight
    /// itself and exits 0. `beforeExit` closes what else must be synced (the recording).
    static func watchStopSignals(
        flusher: FlushService<ContinuousClock>, spool: Spool?, stats: IngestStats, logger: Logger,
        beforeExit: @escaping @Sendable () -> Void = {}
    ) -> Task<Void, Never> {
        let deadline = flusher.deadline
        let timeout = flusher.shutdownTimeout
        return Task {
            var backstop: Task<Void, Never>?
            var interrupts = 0
            for await signal in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                if signal == .sigint { interrupts += 1 }
                let atOnce = interrupts >= 2
                if atOnce {
                    logger.warning("second SIGINT: cancelling the writes in flight and spooling the rest")
                    deadline.expireNow()
                } else {
                    deadline.begin()
                }
                guard backstop == nil || atOnce else { continue }
                backstop?.cancel()
                backstop = Task {
                    try? await Task.sleep(for: (atOnce ? .zero : timeout) + shutdownBackstop)
                    guard !Task.isCancelled else { return }
                    let rest = flusher.takeUncommitted()
                    if let spool {
                        for batch in rest { spoolOrDrop(batch, spool: spool, stats: stats, logger: logger) }
                        try? spool.close()
                    } else {
                        for batch in rest { stats.dropped(batch.kind, batch.count) }
                    }
                    beforeExit()
                    logger.error(
                        "shutdown did not finish in time; exiting with the rest spooled",
                        metadata: ["records": "\(rest.reduce(0) { $0 + $1.count })"])
                    logger.info("stopped", metadata: stats.summary.mapValues { "\($0)" }.merging(["exit_code": "0", "forced": "true"]) { $1 })
                    exit(0)
                }
            }
            backstop?.cancel()
        }
    }

    /// Seals the spool's open segment at exit (fsync) and frees the directory.
    static func closeSpool(_ spool: Spool?, logger: Logger) {
        do {
            try spool?.close()
        } catch {
            logger.error("spool could not be synced at exit", metadata: ["error": "\(error)"])
        }
    }
}

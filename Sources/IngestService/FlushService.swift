import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed
import ServiceLifecycle
import Synchronization

/// Moves trades from the buffer to the database under the flush policy
/// (SPEC §5.2). At graceful shutdown it drains the buffer within the
/// shutdown timeout, then stops.
public struct FlushService<C: Clock>: Service where C.Duration == Duration {
    let buffer: TradeBuffer
    let gaps: GapLedger
    let writer: PostgresTradeWriter
    let policyConfiguration: FlushPolicy<C.Instant>.Configuration
    let retry: RetrySchedule
    let shutdownTimeout: Duration
    let stats: IngestStats
    let clock: C
    let logger: Logger

    public init(
        buffer: TradeBuffer, gaps: GapLedger, writer: PostgresTradeWriter, policy: FlushPolicy<C.Instant>.Configuration,
        retry: RetrySchedule, shutdownTimeout: Duration, stats: IngestStats, clock: C, logger: Logger
    ) {
        self.buffer = buffer
        self.gaps = gaps
        self.writer = writer
        self.policyConfiguration = policy
        self.retry = retry
        self.shutdownTimeout = shutdownTimeout
        self.stats = stats
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let shuttingDown = Atomic<Bool>(false)
        var policy = FlushPolicy(configuration: policyConfiguration, now: clock.now)
        var drainDeadline: C.Instant?
        await withGracefulShutdownHandler {
            while true {
                if shuttingDown.load(ordering: .acquiring), !policy.isDraining {
                    policy.drain()
                    drainDeadline = clock.now.advanced(by: shutdownTimeout)
                    logger.info("draining buffer before exit", metadata: ["items": "\(buffer.count)"])
                }
                await writeGaps()
                switch policy.decide(waiting: buffer.count, now: clock.now) {
                case .flush(let maximumItems):
                    let batch = buffer.take(upTo: maximumItems)
                    await write(batch, giveUpAt: drainDeadline)
                    policy.flushFinished(now: clock.now)
                case .wait:
                    if policy.isDraining {
                        if buffer.count == 0, gaps.isEmpty { return }
                        if let drainDeadline, clock.now >= drainDeadline {
                            let left = buffer.take(upTo: Int.max).count
                            stats.tradesDropped.add(left)
                            logger.error("shutdown timeout reached; trades not written", metadata: ["trades": "\(left)"])
                            return
                        }
                    }
                    await waitForWork(until: policy.deadline)
                }
            }
        } onGracefulShutdown: {
            shuttingDown.store(true, ordering: .releasing)
            buffer.wakeFlusher()
        }
        logger.info("flusher stopped", metadata: stats.summary.mapValues { "\($0)" })
    }

    /// Writes waiting `feed_gaps` changes; on failure they stay queued for the next round.
    private func writeGaps() async {
        let events = gaps.drain()
        guard !events.isEmpty else { return }
        do {
            try await writer.recordGaps(events)
        } catch {
            gaps.putBack(events)
            logger.warning("feed gap changes not written yet", metadata: ["events": "\(events.count)", "error": "\(error)"])
        }
    }

    /// Sleeps until the deadline or until enough trades wait.
    private func waitForWork(until deadline: C.Instant?) async {
        let clock = self.clock
        let buffer = self.buffer
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { try? await clock.sleep(until: deadline, tolerance: nil) }
            }
            group.addTask { await buffer.waitForData() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Writes a batch, retrying retryable failures with backoff. A batch that
    /// still fails goes back to the front of the buffer (never dropped by the
    /// retry policy), except at the end of the shutdown drain.
    private func write(_ batch: [OptionTrade], giveUpAt deadline: C.Instant?) async {
        var attempt = 0
        while true {
            let started = clock.now
            do {
                let result = try await writer.write(batch)
                stats.batchesWritten.add(1)
                stats.tradesWritten.add(result.trades)
                stats.rowsInserted.add(result.inserted)
                logger.debug(
                    "batch committed",
                    metadata: [
                        "trades": "\(result.trades)", "inserted": "\(result.inserted)",
                        "duration_ms": "\(started.duration(to: clock.now).milliseconds)", "waiting": "\(buffer.count)",
                    ])
                return
            } catch {
                stats.batchesFailed.add(1)
                let databaseError = error as? DatabaseError
                let retryable = databaseError?.isRetryable ?? false
                logger.error(
                    "batch write failed",
                    metadata: [
                        "trades": "\(batch.count)", "class": "\(databaseError?.kind.rawValue ?? "other")",
                        "sqlstate": "\(databaseError?.sqlState ?? "")", "error": "\(databaseError?.message ?? "\(error)")",
                        "attempt": "\(attempt + 1)",
                    ])
                if !retryable {
                    // Rows the database refuses are isolated and dead-lettered by a later stage; for now they are counted.
                    stats.tradesDropped.add(batch.count)
                    logger.error("batch rejected by the database; trades counted as dropped", metadata: ["trades": "\(batch.count)"])
                    return
                }
                if attempt >= retry.maxRetries {
                    if let deadline, clock.now >= deadline {
                        stats.tradesDropped.add(batch.count)
                        logger.error("shutdown timeout reached; batch not written", metadata: ["trades": "\(batch.count)"])
                        return
                    }
                    buffer.putBack(batch)
                    logger.warning("batch handed back to the buffer", metadata: ["trades": "\(batch.count)"])
                    try? await clock.sleep(for: retry.maximumDelay)
                    return
                }
                stats.retries.add(1)
                try? await clock.sleep(for: retry.delay(forRetry: attempt))
                attempt += 1
            }
        }
    }
}

/// Retry timing of batch writes (SPEC §5.3: `MAX_RETRIES` 3, from
/// `RETRY_DELAY_MS` 1 s, ×2, capped at 10 s).
public struct RetrySchedule: Sendable, Equatable {
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(maxRetries: Int = 3, initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(10)) {
        self.maxRetries = maxRetries
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Delay before retry number `retry` (0-based).
    public func delay(forRetry retry: Int) -> Duration {
        var delay = initialDelay
        for _ in 0..<min(retry, 30) where delay < maximumDelay { delay *= 2 }
        return min(delay, maximumDelay)
    }
}

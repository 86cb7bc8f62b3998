import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed
import ServiceLifecycle
import Synchronization

/// Moves trades from the buffer to the database under the flush policy
/// (SPEC §5.2), behind the database circuit breaker (SPEC §5.3: open after 5
/// consecutive failed operations, 30 s without database calls, then a
/// `SELECT 1` probe and one real batch). Feed gaps and dead letters ride the
/// same path. A batch that cannot be written goes back to the front of the
/// buffer: the retry policy never drops one. While the breaker is open the
/// buffer is moved to the disk spool; once the database is healthy the spool
/// is replayed oldest-first (a spool left by an earlier run too). At graceful
/// shutdown it drains buffer and spool within the shutdown timeout, spools
/// what is left, and stops.
public struct FlushService<C: Clock>: Service where C.Duration == Duration {
    let buffer: TradeBuffer
    let gaps: GapLedger
    let deadLetters: DeadLetterQueue
    /// Staleness transitions and connection events for the health tables.
    let healthEvents: HealthEventQueue
    /// What the health report says about the database.
    let monitor: DatabaseMonitor
    /// Errors by class for the health report; `record(class, count, message)`.
    let errors: ErrorLog
    /// `nil`: no spool (`SPOOL_MAX_BYTES=0`); the buffer alone holds what waits.
    let spool: Spool?
    let writer: PostgresTradeWriter
    let policyConfiguration: FlushPolicy<C.Instant>.Configuration
    let retry: RetrySchedule
    let breakerFailures: Int
    let breakerOpenDuration: Duration
    let shutdownTimeout: Duration
    let stats: IngestStats
    let clock: C
    let logger: Logger
    /// When the drain must be over: begins at the first signal, expires after
    /// `shutdownTimeout` or at a second SIGINT (docs/faults.md, "Shutdown").
    public let deadline: ShutdownDeadline
    /// Batches taken from the buffer and not yet committed or handed back: at
    /// the deadline they are spooled with the buffer.
    public let inFlight: BatchesInFlight

    public init(
        buffer: TradeBuffer, gaps: GapLedger, deadLetters: DeadLetterQueue, healthEvents: HealthEventQueue = .init(),
        monitor: DatabaseMonitor = .init(flavor: "postgres"), errors: ErrorLog = .init(), spool: Spool?, writer: PostgresTradeWriter,
        policy: FlushPolicy<C.Instant>.Configuration, retry: RetrySchedule, breakerFailures: Int = 5,
        breakerOpenDuration: Duration = .seconds(30), shutdownTimeout: Duration, stats: IngestStats, clock: C, logger: Logger,
        deadline: ShutdownDeadline = .init(), inFlight: BatchesInFlight = .init()
    ) {
        self.deadline = deadline
        self.inFlight = inFlight
        self.buffer = buffer
        self.gaps = gaps
        self.deadLetters = deadLetters
        self.healthEvents = healthEvents
        self.monitor = monitor
        self.errors = errors
        self.spool = spool
        self.writer = writer
        self.policyConfiguration = policy
        self.retry = retry
        self.breakerFailures = breakerFailures
        self.breakerOpenDuration = breakerOpenDuration
        self.shutdownTimeout = shutdownTimeout
        self.stats = stats
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let shuttingDown = Atomic<Bool>(false)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await watchDeadline() }
                await flushUntilDone(shuttingDown)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            shuttingDown.store(true, ordering: .releasing)
            deadline.begin()
            buffer.wakeFlusher()
        }
        logger.info("flusher stopped", metadata: stats.summary.mapValues { "\($0)" })
    }

    /// At the deadline: statements in flight are cancelled (their batches fail
    /// at once and are spooled by the loop), and the loop is woken.
    private func watchDeadline() async {
        await deadline.waitForExpiry(timeout: shutdownTimeout, clock: clock)
        guard deadline.isExpired else { return }
        logger.warning("shutdown timeout reached; cancelling the writes in flight", metadata: ["waiting": "\(buffer.count)"])
        writer.cancelInFlight()
        buffer.wakeFlusher()
    }

    private func flushUntilDone(_ shuttingDown: borrowing Atomic<Bool>) async {
        var policy = FlushPolicy(configuration: policyConfiguration, now: clock.now)
        var breaker = CircuitBreaker<C.Instant>(failureThreshold: breakerFailures, openDuration: breakerOpenDuration)
        var drainDeadline: C.Instant?
        do {
            while true {
                if shuttingDown.load(ordering: .acquiring), !policy.isDraining {
                    policy.drain()
                    drainDeadline = clock.now.advanced(by: shutdownTimeout)
                    logger.info("draining buffer before exit", metadata: ["items": "\(buffer.count)"])
                }
                if deadline.isExpired || drainDeadline.map({ clock.now >= $0 }) == true {
                    spoolTheRest()
                    return
                }
                if policy.isDraining, buffer.count == 0, spool?.isEmpty ?? true, gaps.isEmpty, deadLetters.isEmpty,
                    healthEvents.isEmpty
                { return }

                // Breaker open: no database calls until it lets one through; the buffer goes to disk.
                if let reopens = breaker.reopensAt(), clock.now < reopens {
                    spoolBuffer()
                    await waitForWork(until: min(reopens, drainDeadline ?? reopens))
                    continue
                }
                await writeSideTables(&breaker)
                if let spool, !spool.isEmpty {
                    await replayOldestSegment(spool, &breaker)
                    continue
                }
                switch policy.decide(waiting: buffer.count, now: clock.now) {
                case .flush(let maximumItems) where writer.poolSize > 1 && buffer.count > maximumItems && breaker.state == .closed(consecutiveFailures: 0):
                    // Under load: one batch per pooled connection at once.
                    await writeConcurrently(maximumBatch: maximumItems, breaker: &breaker)
                    policy.flushFinished(now: clock.now)
                case .flush(let maximumItems):
                    let batch = buffer.take(upTo: maximumItems)
                    let token = inFlight.add(batch)
                    let written = await write(batch, breaker: &breaker)
                    // Back in the buffer before it leaves the in-flight list: never in neither.
                    if !written { buffer.putBack(batch) }
                    inFlight.remove(token)
                    if !written {
                        logger.warning("batch handed back to the buffer", metadata: ["trades": "\(batch.count)", "waiting": "\(buffer.count)"])
                        if breaker.reopensAt() == nil { await pause(for: retry.delay(forRetry: retry.maxRetries)) }
                    }
                    policy.flushFinished(now: clock.now)
                case .wait:
                    await waitForWork(until: policy.isDraining ? clock.now.advanced(by: .milliseconds(100)) : nextWake(policy))
                }
            }
        }
    }

    /// Sleeps for `duration`, but no longer than the shutdown deadline allows.
    private func pause(for duration: Duration) async {
        let until = clock.now.advanced(by: duration)
        while !deadline.isExpired, clock.now < until {
            try? await clock.sleep(until: min(until, clock.now.advanced(by: .milliseconds(100))), tolerance: nil)
        }
    }

    /// The shutdown timeout ran out: what the buffer holds goes to the spool
    /// for the next run; only what the spool refuses is lost, and counted.
    private func spoolTheRest() {
        let waiting = buffer.count
        // The side tables' rows have no spool: what is still queued is lost, and counted.
        let (gapChanges, letters, health) = (gaps.drain().events.count, deadLetters.drain().count, healthEvents.drain().count)
        stats.gapChangesLostAtShutdown.add(gapChanges)
        stats.deadLettersLostAtShutdown.add(letters)
        stats.healthEventsLostAtShutdown.add(health)
        let lost: Logger.Metadata = [
            "trades": "\(waiting)", "gap_changes_lost": "\(gapChanges)", "dead_letters_lost": "\(letters)", "health_events_lost": "\(health)",
        ]
        guard let spool else {
            stats.tradesDropped.add(buffer.take(upTo: Int.max).count)
            logger.error("shutdown timeout reached; trades not written (no spool)", metadata: lost)
            return
        }
        spoolBuffer(finally: true)
        logger.warning(
            "shutdown timeout reached; the rest stays in the spool for the next run",
            metadata: lost.merging(["spool_bytes": "\(spool.snapshot.bytes)"]) { $1 })
    }

    /// Everything not yet committed: the buffer and the batches in flight, for
    /// the last resort of a shutdown whose flusher did not return in time.
    public func takeUncommitted() -> [OptionTrade] {
        inFlight.takeAll() + buffer.take(upTo: Int.max)
    }

    /// Moves everything waiting in the buffer to the spool, a batch per record.
    /// A batch the disk refused goes back to the buffer, and the rest stays
    /// there: it waits in memory for the database or for the disk. At the
    /// shutdown deadline (`finally`) there is no later: what the disk refuses
    /// then is dropped and counted.
    private func spoolBuffer(finally: Bool = false) {
        guard let spool else { return }
        while true {
            let batch = buffer.take(upTo: policyConfiguration.maximumBatch)
            guard !batch.isEmpty else { return }
            guard spoolOrDrop(batch, spool: spool, stats: stats, logger: logger, keepOnWriteFailure: !finally) else {
                buffer.putBack(batch)
                return
            }
        }
    }

    /// Replays the oldest spool segment; it is deleted only once every batch in it is committed.
    private func replayOldestSegment(_ spool: Spool, _ breaker: inout CircuitBreaker<C.Instant>) async {
        // A segment is megabytes of trades: read it only once the database answers a probe,
        // not at every half-open attempt of an outage (each would decode a batch or two for nothing).
        if case .closed = breaker.state {} else {
            guard allowsAttempt(&breaker) else { return }
            do {
                try await writer.probe()
                recordSuccess(&breaker)
            } catch {
                recordFailure(&breaker, error)
                return
            }
        }
        let segment: Spool.Segment
        let reader: SpoolSegmentReader
        do {
            guard let oldest = try spool.oldestSegment() else { return }
            segment = oldest
        } catch {
            logger.error("spool segment could not be sealed", metadata: ["error": "\(error)"])
            await pause(for: retry.maximumDelay)
            return
        }
        do {
            reader = try spool.reader(for: segment)
        } catch {
            await segmentUnreadable(segment, spool: spool, error: error)
            return
        }
        // Full batches, one per pooled connection at once, as the buffer is written under load;
        // read as they are written, so that only the batches in flight are in memory.
        while true {
            let atOnce = writer.poolSize > 1 && breaker.state == .closed(consecutiveFailures: 0) ? writer.poolSize : 1
            var group: [[OptionTrade]] = []
            do {
                while group.count < atOnce, let batch = try reader.nextBatch(upTo: policyConfiguration.maximumBatch) {
                    group.append(batch)
                }
            } catch {
                await segmentUnreadable(segment, spool: spool, error: error)
                return
            }
            if group.isEmpty { break }
            guard await writeAtOnce(group, breaker: &breaker).isEmpty else {
                logger.warning("spool replay paused; the segment stays on disk", metadata: ["segment": "\(segment.path)"])
                if breaker.reopensAt() == nil { await pause(for: retry.delay(forRetry: retry.maxRetries)) }
                return
            }
        }
        if reader.corruptRecords > 0 {
            stats.spoolCorruptRecords.add(reader.corruptRecords)
            logger.error(
                "spool records skipped: torn or failed their checksum",
                metadata: ["segment": "\(segment.path)", "records": "\(reader.corruptRecords)"])
        }
        spool.commit(segment)
        stats.spoolReplayedTrades.add(reader.trades)
        logger.info("spool segment replayed", metadata: ["segment": "\(segment.path)", "trades": "\(reader.trades)"])
    }

    /// A segment could not be opened or read: tried again after a pause, a
    /// bounded number of times; then the spool quarantines it (or it vanished)
    /// and the next segment is served: one bad file never blocks the queue.
    private func segmentUnreadable(_ segment: Spool.Segment, spool: Spool, error: any Error) async {
        switch spool.readFailed(segment, error: error) {
        case .willRetry(let attempt):
            logger.error("spool segment unreadable; trying again", metadata: ["segment": "\(segment.path)", "error": "\(error)", "attempt": "\(attempt)"])
            await pause(for: retry.delay(forRetry: retry.maxRetries))
        case .quarantined(let path):
            logger.error(
                "spool segment quarantined: it could not be read; the trades in it that were not yet written are in the file",
                metadata: ["segment": "\(segment.path)", "quarantine": "\(path)", "error": "\(error)"])
        case .vanished:
            logger.error("spool segment vanished before it was replayed", metadata: ["segment": "\(segment.path)", "error": "\(error)"])
        }
    }

    /// Writes waiting `feed_gaps` changes and dead letters; on failure they stay queued.
    private func writeSideTables(_ breaker: inout CircuitBreaker<C.Instant>) async {
        let changes = gaps.drain()
        if !changes.events.isEmpty {
            do {
                try await writer.recordGaps(changes)
            } catch let error as GapFenceError {
                // Another instance leads: not a database fault. The leader service notices within the
                // lease and drops these (`GapLedger.leadershipLost`); until then they wait.
                gaps.putBack(changes.events)
                logger.warning("gap changes refused: another instance leads now", metadata: ["error": "\(error)"])
            } catch {
                gaps.putBack(changes.events)
                recordFailure(&breaker, error)
                return
            }
        }
        let letters = deadLetters.drain()
        if !letters.isEmpty {
            do {
                try await writer.recordDeadLetters(letters)
                stats.deadLetters.add(letters.count)
            } catch {
                deadLetters.putBack(letters)
                recordFailure(&breaker, error)
                return
            }
        }
        let health = healthEvents.drain()
        if !health.isEmpty {
            do {
                try await writer.recordHealthEvents(health)
            } catch {
                healthEvents.putBack(health)
                recordFailure(&breaker, error)
            }
        }
    }

    /// When to look again with nothing to flush: the policy's deadline, or,
    /// once that has passed with an empty buffer, one interval from now (for
    /// the side tables and the spool). Waiting on a past deadline returned at
    /// once, so an idle feed spun this loop at a full core.
    private func nextWake(_ policy: FlushPolicy<C.Instant>) -> C.Instant {
        let now = clock.now
        guard let deadline = policy.deadline, deadline > now else { return now.advanced(by: policyConfiguration.interval) }
        return deadline
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

    /// Writes a batch, retrying failures with backoff (`MAX_RETRIES`, from
    /// `RETRY_DELAY_MS` ×2 up to 10 s) while the breaker allows. `false`: not
    /// written; the caller keeps the batch.
    private func write(_ batch: [OptionTrade], breaker: inout CircuitBreaker<C.Instant>) async -> Bool {
        var attempt = 0
        while true {
            // Past the deadline nothing more is tried: the caller spools the batch.
            guard !deadline.isExpired, allowsAttempt(&breaker) else { break }
            if case .halfOpen = breaker.state {
                do {
                    try await writer.probe()
                } catch {
                    recordFailure(&breaker, error)
                    break
                }
            }
            let started = clock.now
            do {
                let result = try await writer.write(batch)
                recordSuccess(&breaker)
                recordCommitted(batch, result, duration: started.duration(to: clock.now))
                return true
            } catch {
                stats.batchesFailed.add(1)
                recordFailure(&breaker, error)
                let databaseError = error as? DatabaseError
                if databaseError?.kind == .schema {
                    // Not the rows: nothing is dead-lettered; the trades wait (buffer, spool) until an operator fixes the table.
                    logger.critical(
                        "the database schema is not what the writer needs; writes wait until it is fixed",
                        metadata: ["sqlstate": "\(databaseError?.sqlState ?? "")", "error": "\(databaseError?.message ?? "")"])
                }
                logger.error(
                    "batch write failed",
                    metadata: [
                        "trades": "\(batch.count)", "class": "\(databaseError?.kind.rawValue ?? "other")",
                        "sqlstate": "\(databaseError?.sqlState ?? "")", "error": "\(databaseError?.message ?? "\(error)")",
                        "attempt": "\(attempt + 1)",
                    ])
                guard attempt < retry.maxRetries, breaker.reopensAt() == nil, !deadline.isExpired else { break }
                stats.retries.add(1)
                await pause(for: retry.delay(forRetry: attempt))
                attempt += 1
            }
        }
        return false
    }

    /// Takes up to one batch per pooled connection and writes them at once;
    /// one that cannot be written goes back to the front of the buffer.
    private func writeConcurrently(maximumBatch: Int, breaker: inout CircuitBreaker<C.Instant>) async {
        var batches: [[OptionTrade]] = []
        while batches.count < writer.poolSize {
            let batch = buffer.take(upTo: maximumBatch)
            if batch.isEmpty { break }
            batches.append(batch)
        }
        let tokens = batches.map { inFlight.add($0) }
        let unwritten = await writeAtOnce(batches, breaker: &breaker).flatMap { $0 }
        if !unwritten.isEmpty { buffer.putBack(unwritten) }
        tokens.forEach(inFlight.remove)
        if !unwritten.isEmpty {
            logger.warning("batches handed back to the buffer", metadata: ["trades": "\(unwritten.count)", "waiting": "\(buffer.count)"])
        }
    }

    /// Writes the batches at once, each on its own pooled connection (give at
    /// most `writer.poolSize`). A batch that fails here goes through `write`
    /// (its retries and the breaker); returns the ones that still failed, in order.
    private func writeAtOnce(_ batches: [[OptionTrade]], breaker: inout CircuitBreaker<C.Instant>) async -> [[OptionTrade]] {
        if batches.count == 1 {
            return await write(batches[0], breaker: &breaker) ? [] : batches
        }
        let writer = self.writer
        let clock = self.clock
        let outcomes = await withTaskGroup(of: (Int, Result<BatchResult, any Error>, Duration).self) { group in
            for (index, batch) in batches.enumerated() {
                group.addTask {
                    let started = clock.now
                    do {
                        let result = try await writer.write(batch)
                        return (index, .success(result), started.duration(to: clock.now))
                    } catch {
                        return (index, .failure(error), started.duration(to: clock.now))
                    }
                }
            }
            var outcomes: [(Int, Result<BatchResult, any Error>, Duration)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }
        }
        var unwritten: [[OptionTrade]] = []
        for (index, outcome, duration) in outcomes {
            switch outcome {
            case .success(let result):
                recordSuccess(&breaker)
                recordCommitted(batches[index], result, duration: duration)
            case .failure:
                if await !write(batches[index], breaker: &breaker) { unwritten.append(batches[index]) }
            }
        }
        return unwritten
    }

    /// Counts and logs a committed batch.
    private func recordCommitted(_ batch: [OptionTrade], _ result: BatchResult, duration: Duration) {
        let now = WallClock.system.nowMicros()
        monitor.batchWritten(trades: result.trades, duration: duration, atMicros: now)
        monitor.committed(batch, atMicros: now)
        if !result.deadLetters.isEmpty {
            errors.record(.data, count: result.deadLetters.count, message: "rows refused by the database: \(result.deadLetters[0].message ?? "")")
        }
        stats.batchesWritten.add(1)
        stats.tradesWritten.add(result.trades - result.deadLetters.count)
        stats.rowsInserted.add(result.inserted)
        stats.deadLetters.add(result.deadLetters.count)
        logger.debug(
            "batch committed",
            metadata: [
                "trades": "\(result.trades)", "inserted": "\(result.inserted)", "dead_letters": "\(result.deadLetters.count)",
                "duration_ms": "\(duration.milliseconds)", "waiting": "\(buffer.count)",
            ])
    }

    private func allowsAttempt(_ breaker: inout CircuitBreaker<C.Instant>) -> Bool {
        let before = breaker.state.name
        let allowed = breaker.allowsAttempt(now: clock.now)
        logBreakerChange(from: before, breaker)
        return allowed
    }

    private func recordSuccess(_ breaker: inout CircuitBreaker<C.Instant>) {
        let before = breaker.state.name
        breaker.recordSuccess()
        logBreakerChange(from: before, breaker)
    }

    private func recordFailure(_ breaker: inout CircuitBreaker<C.Instant>, _ error: any Error) {
        monitor.failed(error, masked: errors.mask, atMicros: WallClock.system.nowMicros())
        let databaseError = error as? DatabaseError
        errors.record(
            databaseError?.kind == .auth ? .authentication : .database, count: 1,
            message: databaseError.map { "\($0.kind.rawValue) \($0.sqlState ?? ""): \($0.message)" } ?? "\(error)")
        let before = breaker.state.name
        breaker.recordFailure(now: clock.now)
        logBreakerChange(from: before, breaker, error: error)
    }

    private func logBreakerChange(from before: String, _ breaker: CircuitBreaker<C.Instant>, error: (any Error)? = nil) {
        let after = breaker.state.name
        guard after != before else { return }
        monitor.breakerChanged(to: after)
        var metadata: Logger.Metadata = ["breaker": "database", "from": "\(before)", "to": "\(after)"]
        if let error { metadata["error"] = "\(error)" }
        if after == "open" {
            metadata["open_s"] = "\(breakerOpenDuration.components.seconds)"
            logger.error("database circuit breaker state changed", metadata: metadata)
        } else {
            logger.notice("database circuit breaker state changed", metadata: metadata)
        }
    }
}

/// Appends a batch to the spool; when the spool is full the trades are
/// dropped, counted, and alerted (only then). A write the disk refused
/// (ENOSPC, EIO: the spool cut the record back) returns `false` when
/// `keepOnWriteFailure`: the caller keeps the batch in memory and tries again
/// later; otherwise (nowhere else to put it) it is dropped and counted.
@discardableResult
func spoolOrDrop(_ batch: [OptionTrade], spool: Spool, stats: IngestStats, logger: Logger, keepOnWriteFailure: Bool = false) -> Bool {
    do {
        if try spool.append(batch) {
            stats.spooledTrades.add(batch.count)
            return true
        }
        // The trades_dropped ALERT itself is raised once by the health monitor while drops go on.
        logger.error(
            "trades dropped",
            metadata: ["reason": "spool full", "trades": "\(batch.count)",
                       "spool_bytes": "\(spool.snapshot.bytes)", "spool_max_bytes": "\(spool.configuration.maxBytes)"])
    } catch Spool.SpoolError.writeFailed(let path, let code) where keepOnWriteFailure {
        logger.error(
            "spool write failed; the batch stays in memory",
            metadata: ["segment": "\(path)", "errno": "\(code)", "trades": "\(batch.count)"])
        return false
    } catch {
        logger.error("trades dropped", metadata: ["reason": "\(error)", "trades": "\(batch.count)"])
    }
    stats.tradesDropped.add(batch.count)
    return true
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

/// Batches the flusher took from the buffer and has not yet committed or
/// handed back, so that a shutdown that cannot wait for them spools them too.
public final class BatchesInFlight: Sendable {
    private let state = Mutex<(next: Int, batches: [Int: [OptionTrade]])>((0, [:]))

    public init() {}

    /// Registers a batch; `remove` the token once it is committed or handed back.
    public func add(_ batch: [OptionTrade]) -> Int {
        state.withLock { state in
            state.next += 1
            state.batches[state.next] = batch
            return state.next
        }
    }

    public func remove(_ token: Int) {
        _ = state.withLock { $0.batches.removeValue(forKey: token) }
    }

    /// Takes every registered batch, oldest first.
    public func takeAll() -> [OptionTrade] {
        state.withLock { state in
            defer { state.batches.removeAll() }
            return state.batches.sorted { $0.key < $1.key }.flatMap(\.value)
        }
    }

}

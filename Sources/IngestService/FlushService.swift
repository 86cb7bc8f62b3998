import IngestDatabase
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed
import ServiceLifecycle
import Synchronization

/// Moves trades from the buffer to the database under the flush policy
/// (docs/design.md §5.2), behind the database circuit breaker (docs/design.md §5.3: open after 5
/// consecutive failed operations, 30 s without database calls, then a
/// `SELECT 1` probe and one real batch). Feed gaps and dead letters ride the
/// same path. A batch that cannot be written goes back to the front of the
/// buffer: the retry policy never drops one. While the breaker is open the
/// buffer is moved to the disk spool; once the database is healthy the spool
/// is replayed oldest-first (a spool left by an earlier run too), after what
/// waits in the buffer, which came before it (docs/design.md §5.2.2). At graceful
/// shutdown it drains buffer and spool within the shutdown timeout, spools
/// what is left, and stops.
public struct FlushService<C: Clock>: Service where C.Duration == Duration {
    let buffer: RecordBuffer
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
    let writer: any TradeWriting
    let policyConfiguration: FlushPolicy<C.Instant>.Configuration
    let retry: RetrySchedule
    let breakerFailures: Int
    let breakerOpenDuration: Duration
    public let shutdownTimeout: Duration
    let stats: IngestStats
    let clock: C
    let logger: Logger
    /// Stamps commits and failures for the health report.
    let wallClock: WallClock
    /// Wakes the loop at the flush interval's deadline.
    private let alarm: FlushAlarm<C>
    /// When the drain must be over: begins at the first signal, expires after
    /// `shutdownTimeout` or at a second SIGINT (docs/faults.md, "Shutdown").
    public let deadline: ShutdownDeadline
    /// Batches taken from the buffer and not yet committed or handed back: at
    /// the deadline they are spooled with the buffer.
    public let inFlight: BatchesInFlight
    /// How far the commits have come, for the backfill (docs/design.md §5.8.1).
    public let watermark: CommitWatermark

    public init(
        buffer: RecordBuffer, gaps: GapLedger, deadLetters: DeadLetterQueue, healthEvents: HealthEventQueue = .init(),
        monitor: DatabaseMonitor = .init(flavor: "postgres"), errors: ErrorLog = .init(), spool: Spool?, writer: any TradeWriting,
        policy: FlushPolicy<C.Instant>.Configuration, retry: RetrySchedule, breakerFailures: Int = 5,
        breakerOpenDuration: Duration = .seconds(30), shutdownTimeout: Duration, stats: IngestStats, clock: C, logger: Logger,
        deadline: ShutdownDeadline = .init(), inFlight: BatchesInFlight = .init(), wallClock: WallClock = .system
    ) {
        self.wallClock = wallClock
        self.deadline = deadline
        self.inFlight = inFlight
        self.watermark = CommitWatermark(buffer: buffer, spool: spool)
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
        alarm = FlushAlarm(clock: clock)
        self.logger = logger
    }

    // The service runs on the continuous clock (tests inject others): specialized for it, the loop
    // and the flush machine it drives skip generic metadata and witness-table look-ups (docs/design.md §7).
    //
    // It runs on the writer's first connection thread when the writer has one (`flushExecutor`): a
    // write on that connection then runs where the flusher is, without waking another thread and a
    // pool thread after it (docs/design.md §7, "One thread a flush").
    @_specialize(where C == ContinuousClock)
    public func run() async throws {
        await withTaskExecutorPreference(writer.flushExecutor) { await flush() }
        logger.info("flusher stopped", metadata: stats.summary.mapValues { "\($0)" })
    }

    @_specialize(where C == ContinuousClock)
    private func flush() async {
        let shuttingDown = Atomic<Bool>(false)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // Not on the writer's thread: at the deadline it cancels the write that thread is blocked in.
                group.addTask(executorPreference: globalConcurrentExecutor) { await watchDeadline() }
                group.addTask { [buffer] in await alarm.run { buffer.wakeFlusher() } }
                await flushUntilDone(shuttingDown)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            shuttingDown.store(true, ordering: .releasing)
            deadline.begin()
            buffer.wakeFlusher()
        }
    }

    /// At the deadline: statements in flight are cancelled (their batches fail
    /// at once and are spooled by the loop), and the loop is woken.
    private func watchDeadline() async {
        await deadline.waitForExpiry(timeout: shutdownTimeout, clock: clock)
        guard deadline.isExpired else { return }
        logger.warning("shutdown timeout reached; cancelling the writes in flight", metadata: ["waiting": "\(buffer.count)"])
        writer.cancelInFlight(grace: .milliseconds(300))
        buffer.wakeFlusher()
    }

    private typealias Machine = FlushMachine<C.Instant>

    /// Feeds the machine its events and performs its actions, until it finishes.
    private func flushUntilDone(_ shuttingDown: borrowing Atomic<Bool>) async {
        var machine = Machine(
            configuration: .init(
                policy: policyConfiguration, retry: retry, breakerFailures: breakerFailures, breakerOpenDuration: breakerOpenDuration,
                shutdownTimeout: shutdownTimeout, poolSize: writer.poolSize),
            now: clock.now)
        // The batches of the write in progress, by the machine's index; in flight while they come from the buffer.
        var batches: [RecordBatch] = []
        var tokens: [Int] = []
        var replay: (segment: Spool.Segment, reader: SpoolSegmentReader)?
        var action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
        while true {
            switch action {
            case .finish:
                return
            case .finishAndSpoolTheRest:
                spoolTheRest()
                return
            case .spoolBuffer(let until):
                spoolBuffer()
                await waitForWork(until: until)
                action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
            case .wait(let until):
                // Nothing in flight and no segment open: the watermark may be read while the flusher waits.
                watermark.flusherWaiting(true)
                await waitForWork(until: until)
                watermark.flusherWaiting(false)
                action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
            case .pause(let until):
                await pause(until: until)
                action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
            case .writeSideTables:
                if let error = await writeSideTables() {
                    action = next(&machine, shuttingDown, failure: error) { $0.sideTablesFailed(now: $1, backlog: backlog) }
                } else {
                    action = next(&machine, shuttingDown) { $0.sideTablesWritten(now: $1, backlog: backlog) }
                }
            case .probe:
                do {
                    try await writer.probe()
                    action = next(&machine, shuttingDown) { $0.probeSucceeded(now: $1, backlog: backlog) }
                } catch {
                    action = next(&machine, shuttingDown, failure: error) { $0.probeFailed(now: $1, backlog: backlog) }
                }
            case .openOldestSegment:
                let oldest: Spool.Segment?
                do {
                    oldest = try spool?.oldestSegment()
                } catch {
                    logger.error("spool segment could not be sealed", metadata: ["error": "\(error)"])
                    action = next(&machine, shuttingDown) { $0.segmentSealFailed(now: $1) }
                    continue
                }
                guard let spool, let segment = oldest else {
                    action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
                    continue
                }
                do {
                    replay = (segment, try spool.reader(for: segment))
                    action = next(&machine, shuttingDown) { $0.segmentOpened(now: $1) }
                } catch {
                    let willRetry = segmentUnreadable(segment, spool: spool, error: error)
                    action = next(&machine, shuttingDown) { $0.segmentUnreadable(willRetry: willRetry, now: $1, backlog: backlog) }
                }
            case .readSegment(let count, let maximumItems):
                guard let spool, let open = replay else { preconditionFailure("no segment is open") }
                let (segment, reader) = open
                batches = []
                do {
                    while batches.count < count, let batch = try reader.nextBatch(upTo: maximumItems) { batches.append(batch) }
                    action = next(&machine, shuttingDown) { $0.batchesReady(batches.count, now: $1) }
                } catch {
                    replay = nil
                    let willRetry = segmentUnreadable(segment, spool: spool, error: error)
                    action = next(&machine, shuttingDown) { $0.segmentUnreadable(willRetry: willRetry, now: $1, backlog: backlog) }
                }
            case .commitSegment:
                if let spool, let replay { commit(replay.segment, replay.reader, spool: spool) }
                replay = nil
                action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
            case .takeFromBuffer(let count, let maximumItems):
                batches = []
                while batches.count < count {
                    let batch = buffer.take(upTo: maximumItems)
                    if batch.isEmpty { break }
                    batches.append(batch)
                }
                tokens = batches.map { inFlight.add($0) }
                action = next(&machine, shuttingDown) { $0.batchesReady(batches.count, now: $1) }
            case .write(let index):
                let started = clock.now
                do {
                    let result = try await writer.write(batches[index])
                    recordCommitted(batches[index], result, duration: started.duration(to: clock.now))
                    action = next(&machine, shuttingDown) { $0.batchWritten(now: $1) }
                } catch {
                    stats.batchesFailed.add(1)
                    logWriteFailure(error, batch: batches[index], attempt: machine.attempt)
                    action = next(&machine, shuttingDown, failure: error) { $0.batchFailed(now: $1) }
                }
            case .writeAtOnce(let count):
                let succeeded = await writeAtOnce(batches[0..<count])
                action = next(&machine, shuttingDown) { $0.batchesWritten(succeeded: succeeded, now: $1) }
            case .retry(_, let at):
                stats.retries.add(1)
                await pause(until: at)
                action = next(&machine, shuttingDown) { $0.retryDue(now: $1) }
            case .finishFlush(let handBack, let pauseUntil):
                let unwritten = handBack.map { batches[$0] }
                // Back in the buffer before it leaves the in-flight list: never in neither. The last first:
                // each goes to the front of its type's ring, so the first ends up in front.
                for batch in unwritten.reversed() { buffer.putBack(batch) }
                tokens.forEach(inFlight.remove)
                (batches, tokens) = ([], [])
                if !unwritten.isEmpty {
                    logger.warning(
                        "batches handed back to the buffer",
                        metadata: ["batches": "\(handBack.count)", "records": "\(unwritten.reduce(0) { $0 + $1.count })", "waiting": "\(buffer.count)"])
                }
                if let pauseUntil { await pause(until: pauseUntil) }
                action = next(&machine, shuttingDown) { $0.flushFinished(now: $1, backlog: backlog) }
            case .stopReplay(let pauseUntil):
                logger.warning("spool replay paused; the segment stays on disk", metadata: ["segment": "\(replay?.segment.path ?? "")"])
                (batches, replay) = ([], nil)
                if let pauseUntil { await pause(until: pauseUntil) }
                action = next(&machine, shuttingDown) { $0.tick(now: $1, backlog: backlog) }
            }
        }
    }

    /// Reports an event to the machine, after what it must know first: a
    /// shutdown that began, the deadline passed, the failure (for the health
    /// report). Logs the breaker's changes.
    private func next(
        _ machine: inout Machine, _ shuttingDown: borrowing Atomic<Bool>, failure: (any Error)? = nil,
        _ event: (inout Machine, C.Instant) -> Machine.Action
    ) -> Machine.Action {
        if shuttingDown.load(ordering: .acquiring), !machine.isDraining {
            machine.shutdownRequested(now: clock.now)
            logger.info("draining buffer before exit", metadata: ["items": "\(buffer.count)"])
        }
        if deadline.isExpired { machine.deadlineReached() }
        if let failure { recordFailure(failure) }
        let before = machine.breaker.state.phase
        let action = event(&machine, clock.now)
        logBreakerChange(from: before, machine.breaker, error: failure)
        return action
    }

    /// What waits, for the machine.
    private var backlog: Machine.Backlog {
        Machine.Backlog(
            waiting: buffer.count, spooled: !(spool?.isEmpty ?? true),
            sideTableRows: !(gaps.isEmpty && deadLetters.isEmpty && healthEvents.isEmpty))
    }

    /// Sleeps until `until`, but no longer than the shutdown deadline allows (or the task is cancelled).
    private func pause(until: C.Instant) async {
        while !deadline.isExpired, !Task.isCancelled, clock.now < until {
            try? await clock.sleep(until: min(until, clock.now.advanced(by: .milliseconds(100))), tolerance: nil)
        }
    }

    /// The shutdown timeout ran out: what the buffer holds goes to the spool
    /// for the next run; only what the spool refuses is lost, and counted.
    private func spoolTheRest() {
        let waiting = buffer.counts
        // The side tables' rows have no spool: what is still queued is lost, and counted.
        let (gapChanges, letters, health) = (gaps.drain().events.count, deadLetters.drain().count, healthEvents.drain().count)
        stats.gapChangesLostAtShutdown.add(gapChanges)
        stats.deadLettersLostAtShutdown.add(letters)
        stats.healthEventsLostAtShutdown.add(health)
        let lost: Logger.Metadata = [
            "trades": "\(waiting[.trade] ?? 0)", "other_records": "\(waiting.values.reduce(0, +) - (waiting[.trade] ?? 0))", "gap_changes_lost": "\(gapChanges)", "dead_letters_lost": "\(letters)", "health_events_lost": "\(health)",
        ]
        guard let spool else {
            for batch in buffer.takeAll() { stats.dropped(batch.kind, batch.count) }
            logger.error("shutdown timeout reached; records not written (no spool)", metadata: lost)
            return
        }
        spoolBuffer(finally: true)
        logger.warning(
            "shutdown timeout reached; the rest stays in the spool for the next run",
            metadata: lost.merging(["spool_bytes": "\(spool.snapshot.bytes)"]) { $1 })
    }

    /// Everything not yet committed: the buffer and the batches in flight, for
    /// the last resort of a shutdown whose flusher did not return in time.
    public func takeUncommitted() -> [RecordBatch] {
        RecordBatch.grouped(inFlight.takeAll() + buffer.takeAll())
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
            guard spoolOrDrop(batch, spool: spool, stats: stats, logger: logger, keepOnWriteFailure: !finally, gaps: gaps) else {
                buffer.putBack(batch)
                return
            }
        }
    }

    /// Every batch of the segment is committed: it is deleted, and counted.
    private func commit(_ segment: Spool.Segment, _ reader: SpoolSegmentReader, spool: Spool) {
        if reader.corruptRecords > 0 {
            stats.spoolCorruptRecords.add(reader.corruptRecords)
            logger.error(
                "spool records skipped: torn or failed their checksum",
                metadata: ["segment": "\(segment.path)", "records": "\(reader.corruptRecords)"])
        }
        spool.commit(segment)
        stats.spoolReplayedTrades.add(reader.trades)
        logger.info("spool segment replayed", metadata: ["segment": "\(segment.path)", "trades": "\(reader.trades)", "records": "\(reader.records)"])
    }

    /// A segment could not be opened or read: the spool keeps it for another
    /// try (`true`), a bounded number of times; then it quarantines it (or it
    /// vanished) and the next segment is served.
    private func segmentUnreadable(_ segment: Spool.Segment, spool: Spool, error: any Error) -> Bool {
        switch spool.readFailed(segment, error: error) {
        case .willRetry(let attempt):
            logger.error("spool segment unreadable; trying again", metadata: ["segment": "\(segment.path)", "error": "\(error)", "attempt": "\(attempt)"])
            return true
        case .quarantined(let path):
            logger.error(
                "spool segment quarantined: it could not be read; the trades in it that were not yet written are in the file",
                metadata: ["segment": "\(segment.path)", "quarantine": "\(path)", "error": "\(error)"])
        case .vanished:
            logger.error("spool segment vanished before it was replayed", metadata: ["segment": "\(segment.path)", "error": "\(error)"])
        }
        return false
    }

    /// Writes waiting `feed_gaps` changes, dead letters and health events, in
    /// that order; at the first failure it stops, and that queue keeps its rows.
    private func writeSideTables() async -> (any Error)? {
        if let error = await writeGaps() { return error }
        if let error = await writeQueued(deadLetters, with: { letters in
            try await writer.recordDeadLetters(letters)
            stats.deadLetters.add(letters.count)
        }) { return error }
        return await writeQueued(healthEvents) { try await writer.recordHealthEvents($0) }
    }

    private func writeGaps() async -> (any Error)? {
        let changes = gaps.drain()
        guard !changes.events.isEmpty else { return nil }
        do {
            try await writer.recordGaps(changes)
        } catch let error as GapFenceError {
            // Another instance leads: not a database fault. The leader service notices within the
            // lease and drops these (`GapLedger.leadershipLost`); until then they wait.
            gaps.putBack(changes.events)
            logger.warning("gap changes refused: another instance leads now", metadata: ["error": "\(error)"])
        } catch {
            gaps.putBack(changes.events)
            return error
        }
        return nil
    }

    private func writeQueued<Row: Sendable>(_ queue: PendingRows<Row>, with record: ([Row]) async throws -> Void) async -> (any Error)? {
        let rows = queue.drain()
        guard !rows.isEmpty else { return nil }
        do {
            try await record(rows)
            return nil
        } catch {
            queue.putBack(rows)
            return error
        }
    }

    /// Sleeps until the deadline or until enough records wait: the alarm
    /// wakes it at the deadline, or, for a deadline earlier than the alarm's,
    /// a sleeping task of its own.
    private func waitForWork(until deadline: C.Instant?) async {
        if let deadline, !alarm.set(deadline) {
            await waitForWork(orSleepUntil: deadline)
        } else {
            await buffer.waitForData()
        }
    }

    private func waitForWork(orSleepUntil deadline: C.Instant) async {
        let clock = self.clock
        let buffer = self.buffer
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline, tolerance: nil) }
            group.addTask { await buffer.waitForData() }
            await group.next()
            group.cancelAll()
        }
    }

    private func logWriteFailure(_ error: any Error, batch: RecordBatch, attempt: Int) {
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
                "records": "\(batch.count)", "type": "\(batch.kind.name)", "class": "\((databaseError?.kind ?? .other).rawValue)",
                "sqlstate": "\(databaseError?.sqlState ?? "")", "error": "\(databaseError?.message ?? "\(error)")",
                "attempt": "\(attempt + 1)",
            ])
    }

    /// Writes the batches at once, each on its own pooled connection (give at
    /// most `writer.poolSize`); whether each was committed, in order.
    private func writeAtOnce(_ batches: ArraySlice<RecordBatch>) async -> [Bool] {
        let writer = self.writer
        let clock = self.clock
        let outcomes = await withTaskGroup(of: (Int, Result<BatchResult, any Error>, Duration).self) { group in
            for (index, batch) in batches.enumerated() {
                // On the global executor, each write hops to its own connection's thread and they run
                // side by side; on the flusher's thread the first would hold it until it returned.
                group.addTask(executorPreference: globalConcurrentExecutor) {
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
        return outcomes.map { index, outcome, duration in
            guard case .success(let result) = outcome else { return false }
            recordCommitted(batches[batches.startIndex + index], result, duration: duration)
            return true
        }
    }

    /// Counts and logs a committed batch.
    private func recordCommitted(_ batch: RecordBatch, _ result: BatchResult, duration: Duration) {
        let now = wallClock.nowMicros()
        monitor.batchWritten(trades: result.trades, duration: duration, atMicros: now)
        monitor.committed(receivedAtMicros: batch.receivedAtMicros, atMicros: now)
        if !result.deadLetters.isEmpty {
            errors.record(.data, count: result.deadLetters.count, message: "rows refused by the database: \(result.deadLetters[0].message ?? "")")
        }
        stats.batchesWritten.add(1)
        stats.written(batch.kind, result.trades - result.deadLetters.count)
        stats.rowsInserted.add(result.inserted)
        stats.deadLetters.add(result.deadLetters.count)
        logger.debug(
            "batch committed",
            metadata: [
                "type": "\(batch.kind.name)", "records": "\(result.trades)", "inserted": "\(result.inserted)", "dead_letters": "\(result.deadLetters.count)",
                "duration_ms": "\(duration.milliseconds)", "waiting": "\(buffer.count)",
            ])
    }

    /// A failed database operation, for the health report's database state and error counts.
    private func recordFailure(_ error: any Error) {
        monitor.failed(error, masked: errors.mask, atMicros: wallClock.nowMicros())
        let databaseError = error as? DatabaseError
        errors.record(
            databaseError?.kind == .auth ? .authentication : .database, count: 1,
            message: databaseError.map { "\($0.kind.rawValue) \($0.sqlState ?? ""): \($0.message)" } ?? "\(error)")
    }

    private func logBreakerChange(from before: BreakerPhase, _ breaker: CircuitBreaker<C.Instant>, error: (any Error)? = nil) {
        let after = breaker.state.phase
        guard after != before else { return }
        monitor.breakerChanged(to: after)
        var metadata: Logger.Metadata = ["breaker": "database", "from": "\(before.rawValue)", "to": "\(after.rawValue)"]
        if let error { metadata["error"] = "\(error)" }
        if after == .open {
            metadata["open_s"] = "\(breakerOpenDuration.components.seconds)"
            logger.error("database circuit breaker state changed", metadata: metadata)
        } else {
            logger.notice("database circuit breaker state changed", metadata: metadata)
        }
    }
}

/// Appends a batch to the spool; when the spool is full the records are
/// dropped, counted, alerted (only then), and, for trades, recorded in `gaps`
/// as a `trades_dropped` gap (for the backfill, which fetches trades only). A write the disk refused
/// (ENOSPC, EIO: the spool cut the record back) returns `false` when
/// `keepOnWriteFailure`: the caller keeps the batch in memory and tries again
/// later; otherwise (nowhere else to put it) it is dropped and counted.
@discardableResult
package func spoolOrDrop(
    _ batch: RecordBatch, spool: Spool, stats: IngestStats, logger: Logger, keepOnWriteFailure: Bool = false, gaps: GapLedger? = nil
) -> Bool {
    do {
        if try spool.append(batch) {
            stats.spooled(batch)
            return true
        }
        // The trades_dropped ALERT itself is raised once by the health monitor while drops go on.
        logger.error(
            batch.kind == .trade ? "trades dropped" : "records dropped",
            metadata: ["reason": "spool full", "type": "\(batch.kind.name)", "records": "\(batch.count)",
                       "spool_bytes": "\(spool.snapshot.bytes)", "spool_max_bytes": "\(spool.configuration.maxBytes)"])
    } catch Spool.SpoolError.writeFailed(let path, let code) where keepOnWriteFailure {
        logger.error(
            "spool write failed; the batch stays in memory",
            metadata: ["segment": "\(path)", "errno": "\(code)", "records": "\(batch.count)"])
        return false
    } catch {
        logger.error("records dropped", metadata: ["reason": "\(error)", "type": "\(batch.kind.name)", "records": "\(batch.count)"])
    }
    stats.dropped(batch.kind, batch.count)
    if case .trades(let trades) = batch { gaps?.tradesDropped(trades) }
    return true
}

/// Batches the flusher took from the buffer and has not yet committed or
/// handed back, so that a shutdown that cannot wait for them spools them too.
public final class BatchesInFlight: Sendable {
    private let state = Mutex<(next: Int, batches: [Int: RecordBatch])>((0, [:]))

    public init() {}

    /// Registers a batch; `remove` the token once it is committed or handed back.
    public func add(_ batch: RecordBatch) -> Int {
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
    public func takeAll() -> [RecordBatch] {
        state.withLock { state in
            defer { state.batches.removeAll() }
            return state.batches.sorted { $0.key < $1.key }.map(\.value)
        }
    }

}

/// Every decision of the flusher (docs/design.md §5.2, §5.3; docs/faults.md,
/// "Shutdown") as a value-type state machine (docs/design.md §1.4): when to write, how
/// many batches at once, when to retry and after how long, when the database
/// circuit breaker sends the buffer to the spool, that records are written in
/// the order they came (the buffer's older records, then the spool's oldest
/// segment, then newer records), when the side tables
/// are written, and how a shutdown drains and ends. Events come in with their
/// instants and what waits (`Backlog`); actions come out. It reads no clock
/// and touches no buffer, spool or database: the flush service performs the
/// actions and reports how they went.
///
/// The batches of a write are the service's; the machine names them by their
/// index in the last `takeFromBuffer`/`readSegment` (0 ..< count).
public struct FlushMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// When to flush and how big a batch may be.
        public var policy: FlushPolicy<Instant>.Configuration
        /// Retries of a failed batch, and the pause after one that was handed back.
        public var retry: RetrySchedule
        /// The database breaker opens after this many consecutive failed operations (docs/design.md §5.3: 5)…
        public var breakerFailures: Int
        /// …for this long, without database calls (docs/design.md §5.3: 30 s).
        public var breakerOpenDuration: Duration
        /// A drain that takes longer ends by spooling the rest (`SHUTDOWN_TIMEOUT_MS`).
        public var shutdownTimeout: Duration
        /// Writer connections: batches written at once under load (docs/design.md §5.3 `DB_POOL_SIZE`: 2).
        public var poolSize: Int

        public init(
            policy: FlushPolicy<Instant>.Configuration = .init(), retry: RetrySchedule = .init(), breakerFailures: Int = 5,
            breakerOpenDuration: Duration = .seconds(30), shutdownTimeout: Duration = .seconds(10), poolSize: Int = 2
        ) {
            self.policy = policy
            self.retry = retry
            self.breakerFailures = breakerFailures
            self.breakerOpenDuration = breakerOpenDuration
            self.shutdownTimeout = shutdownTimeout
            self.poolSize = max(1, poolSize)
        }
    }

    /// What waits to be written, as the service sees it when it reports an event.
    public struct Backlog: Sendable, Equatable {
        /// Trades in the buffer.
        public var waiting: Int
        /// The spool holds at least one segment.
        public var spooled: Bool
        /// `feed_gaps` changes, dead letters or health events are queued.
        public var sideTableRows: Bool

        public init(waiting: Int = 0, spooled: Bool = false, sideTableRows: Bool = false) {
            self.waiting = waiting
            self.spooled = spooled
            self.sideTableRows = sideTableRows
        }
    }

    public enum Action: Sendable, Equatable {
        /// Drained: nothing waits any more. Stop.
        case finish
        /// The shutdown deadline passed: spool the buffer (the side tables' rows are lost and counted). Stop.
        case finishAndSpoolTheRest
        /// The breaker is open: move the buffer to the spool, then wait for trades or the instant; then `tick`.
        case spoolBuffer(thenWaitUntil: Instant)
        /// Nothing is due: wait for trades or the instant; then `tick`.
        case wait(until: Instant)
        /// Write the queued gaps, dead letters and health events, in that order, stopping at the first failure;
        /// report `sideTablesWritten` or `sideTablesFailed`.
        case writeSideTables
        /// `SELECT 1` for the half-open breaker; report `probeSucceeded` or `probeFailed`.
        case probe
        /// Open the spool's oldest segment; report `segmentOpened`, `segmentUnreadable`, `segmentSealFailed`,
        /// or `tick` when there is none.
        case openOldestSegment
        /// Read up to this many batches of the open segment; report `batchesReady` or `segmentUnreadable`.
        case readSegment(batches: Int, maximumItems: Int)
        /// Every batch of the open segment is committed: delete it, count it; then `tick`.
        case commitSegment
        /// Take up to this many batches from the buffer (they are in flight now); report `batchesReady`.
        case takeFromBuffer(batches: Int, maximumItems: Int)
        /// Write this batch; report `batchWritten` or `batchFailed`.
        case write(batch: Int)
        /// Write batches 0 ..< count at once, each on its own connection; report `batchesWritten`.
        case writeAtOnce(batches: Int)
        /// Wait until the instant (no later than the shutdown deadline), then report `retryDue`.
        case retry(batch: Int, at: Instant)
        /// The flush is over: put these batches back at the front of the buffer, release the rest,
        /// pause until the instant if given (no later than the shutdown deadline); report `flushFinished`.
        case finishFlush(handBack: [Int], pauseUntil: Instant?)
        /// A batch of the segment could not be written: it stays on disk. Pause until the instant if
        /// given (no later than the shutdown deadline); then `tick`.
        case stopReplay(pauseUntil: Instant?)
        /// Pause until the instant (no later than the shutdown deadline); then `tick`.
        case pause(until: Instant)
    }

    /// Where the batches of a write came from.
    private enum Source: Sendable, Equatable {
        case buffer
        case spool
    }

    /// The batches of one `takeFromBuffer`/`readSegment` on their way to the database.
    private struct Write: Sendable, Equatable {
        var source: Source
        var count: Int
        /// Taken to be written at once; a single batch handed back pauses the flusher, these do not.
        var atOnce: Bool
        /// The first attempt of each batch written at once; a failed one is then written alone, in order.
        var outcomes: [Bool]?
        var cursor = 0
        /// The batch written alone, and its attempt (0: the first).
        var current: Int?
        var attempt = 0
        var unwritten: [Int] = []
    }

    private enum Step: Sendable, Equatable {
        /// Between events that end at `tick`.
        case idle
        case sideTables
        /// The probe asked for before replaying the spool.
        case probingForReplay
        /// The probe asked for before writing the current batch.
        case probingForWrite(Write)
        case openingSegment
        case readingSegment
        case taking(atOnce: Bool)
        case writing(Write)
        case waitingToRetry(Write)
        case finishingFlush
        case finished
    }

    public let configuration: Configuration
    public private(set) var breaker: CircuitBreaker<Instant>
    private var policy: FlushPolicy<Instant>
    private var step: Step = .idle
    /// Set by `shutdownRequested`: the drain ends here whatever is left.
    public private(set) var drainDeadline: Instant?
    private var deadlinePassed = false

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public init(configuration: Configuration, now: Instant) {
        self.configuration = configuration
        self.breaker = CircuitBreaker(failureThreshold: configuration.breakerFailures, openDuration: configuration.breakerOpenDuration)
        self.policy = FlushPolicy(configuration: configuration.policy, now: now)
    }

    /// Whether `shutdownRequested` was reported.
    public var isDraining: Bool { policy.isDraining }

    /// The attempt (0: the first) of the batch being written alone.
    public var attempt: Int {
        switch step {
        case .writing(let write), .waitingToRetry(let write), .probingForWrite(let write): write.attempt
        default: 0
        }
    }

    // MARK: Shutdown

    /// A graceful shutdown began: from now on everything waiting is flushed at
    /// once, and what is left after `shutdownTimeout` is spooled.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func shutdownRequested(now: Instant) {
        guard !policy.isDraining else { return }
        policy.drain()
        drainDeadline = now.advanced(by: configuration.shutdownTimeout)
    }

    /// The shutdown deadline passed (the timeout, or a second SIGINT): nothing
    /// more is tried; the next `tick` finishes by spooling the rest.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func deadlineReached() {
        deadlinePassed = true
    }

    // MARK: The loop

    /// Decides the next step: at the start, and after every wait or pause.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func tick(now: Instant, backlog: Backlog) -> Action {
        precondition(step != .finished, "the flusher finished")
        if deadlinePassed || drainDeadline.map({ now >= $0 }) == true {
            step = .finished
            return .finishAndSpoolTheRest
        }
        if policy.isDraining, backlog.waiting == 0, !backlog.spooled, !backlog.sideTableRows {
            step = .finished
            return .finish
        }
        // Breaker open: no database calls until it lets one through; the buffer goes to disk.
        if let reopens = breaker.reopensAt(), now < reopens {
            step = .idle
            return .spoolBuffer(thenWaitUntil: min(reopens, drainDeadline ?? reopens))
        }
        if backlog.sideTableRows {
            step = .sideTables
            return .writeSideTables
        }
        return afterSideTables(now: now, backlog: backlog)
    }

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func sideTablesWritten(now: Instant, backlog: Backlog) -> Action {
        precondition(step == .sideTables, "no side tables were being written")
        return afterSideTables(now: now, backlog: backlog)
    }

    /// The rows stay queued for the next round.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func sideTablesFailed(now: Instant, backlog: Backlog) -> Action {
        precondition(step == .sideTables, "no side tables were being written")
        breaker.recordFailure(now: now)
        return afterSideTables(now: now, backlog: backlog)
    }

    /// In the order the records came (docs/design.md §5.2.2): with a spool
    /// backlog, what waits in the buffer first, at once, whatever its size
    /// (a live feed's frames go behind the backlog, so the buffer then holds
    /// only older records: the ring as it overflowed, a batch handed back);
    /// then the spool, oldest segment first; then the buffer under the flush
    /// policy.
    private mutating func afterSideTables(now: Instant, backlog: Backlog) -> Action {
        if backlog.spooled {
            guard backlog.waiting > 0 else { return startReplay(now: now, backlog: backlog) }
            policy.flushStarted()
            return takeFromBuffer(waiting: backlog.waiting, maximumItems: configuration.policy.maximumBatch)
        }
        switch policy.decide(waiting: backlog.waiting, now: now) {
        case .flush(let maximumItems):
            return takeFromBuffer(waiting: backlog.waiting, maximumItems: maximumItems)
        case .wait:
            step = .idle
            return .wait(until: policy.isDraining ? now.advanced(by: .milliseconds(100)) : nextWake(now: now))
        }
    }

    /// Under load: one batch per pooled connection at once.
    private mutating func takeFromBuffer(waiting: Int, maximumItems: Int) -> Action {
        let atOnce = configuration.poolSize > 1 && waiting > maximumItems && breaker.state == .closed(consecutiveFailures: 0)
        step = .taking(atOnce: atOnce)
        return .takeFromBuffer(batches: atOnce ? configuration.poolSize : 1, maximumItems: maximumItems)
    }

    /// When to look again with nothing to flush: the policy's deadline, or,
    /// once that has passed with an empty buffer, one interval from now (for
    /// the side tables and the spool). Waiting on a past deadline returned at
    /// once, so an idle feed spun the loop at a full core.
    private func nextWake(now: Instant) -> Instant {
        guard let deadline = policy.deadline, deadline > now else { return now.advanced(by: configuration.policy.interval) }
        return deadline
    }

    // MARK: Spool replay

    private mutating func startReplay(now: Instant, backlog: Backlog) -> Action {
        // A segment is megabytes of trades: read it only once the database answers a probe,
        // not at every half-open attempt of an outage (each would decode a batch or two for nothing).
        if case .closed = breaker.state {
            step = .openingSegment
            return .openOldestSegment
        }
        guard breaker.allowsAttempt(now: now) else {
            if breaker.reopensAt() != nil { return tick(now: now, backlog: backlog) }
            step = .idle
            return .wait(until: now.advanced(by: configuration.policy.interval))
        }
        step = .probingForReplay
        return .probe
    }

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func probeSucceeded(now: Instant, backlog: Backlog) -> Action {
        switch step {
        case .probingForReplay:
            breaker.recordSuccess()
            step = .openingSegment
            return .openOldestSegment
        case .probingForWrite(let write):
            // The batch itself closes the breaker, or opens it again.
            step = .writing(write)
            return .write(batch: write.current!)
        default:
            preconditionFailure("no probe was asked for")
        }
    }

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func probeFailed(now: Instant, backlog: Backlog) -> Action {
        switch step {
        case .probingForReplay:
            breaker.recordFailure(now: now)
            return tick(now: now, backlog: backlog)
        case .probingForWrite(let write):
            breaker.recordFailure(now: now)
            return gaveUp(write, now: now)
        default:
            preconditionFailure("no probe was asked for")
        }
    }

    /// The segment to replay is open.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func segmentOpened(now: Instant) -> Action {
        precondition(step == .openingSegment, "no segment was being opened")
        return readSegment()
    }

    /// The spool could not seal its open segment to hand it over: try again after the longest retry delay.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func segmentSealFailed(now: Instant) -> Action {
        precondition(step == .openingSegment, "no segment was being opened")
        step = .idle
        return .pause(until: now.advanced(by: configuration.retry.backoff.maximum))
    }

    /// The segment could not be opened or read. `willRetry`: the spool keeps
    /// it for another try, after a pause; otherwise it was quarantined (or it
    /// vanished) and the next segment is served at once: one bad file never blocks the queue.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func segmentUnreadable(willRetry: Bool, now: Instant, backlog: Backlog) -> Action {
        precondition(step == .openingSegment || step == .readingSegment, "no segment was being read")
        guard willRetry else { return tick(now: now, backlog: backlog) }
        step = .idle
        return .pause(until: now.advanced(by: configuration.retry.delay(forRetry: configuration.retry.maxRetries)))
    }

    /// Full batches, one per pooled connection at once, as the buffer is written under load;
    /// read as they are written, so that only the batches in flight are in memory.
    private mutating func readSegment() -> Action {
        let atOnce = configuration.poolSize > 1 && breaker.state == .closed(consecutiveFailures: 0) ? configuration.poolSize : 1
        step = .readingSegment
        return .readSegment(batches: atOnce, maximumItems: configuration.policy.maximumBatch)
    }

    // MARK: Writing batches

    /// The batches asked for by `takeFromBuffer` or `readSegment` are at hand: `count` of them.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func batchesReady(_ count: Int, now: Instant) -> Action {
        let write: Write
        switch step {
        case .taking(let atOnce):
            write = Write(source: .buffer, count: count, atOnce: atOnce)
        case .readingSegment:
            guard count > 0 else {
                step = .idle
                return .commitSegment
            }
            write = Write(source: .spool, count: count, atOnce: count > 1)
        default:
            preconditionFailure("no batches were asked for")
        }
        if count == 0 { return finishWrite(write, now: now) }
        guard count != 1 else { return startAttempt(Write(source: write.source, count: 1, atOnce: write.atOnce, current: 0), now: now) }
        step = .writing(write)
        return .writeAtOnce(batches: count)
    }

    /// The outcome of each batch's first attempt of a `writeAtOnce`, in batch order.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func batchesWritten(succeeded: [Bool], now: Instant) -> Action {
        guard case .writing(var write) = step, write.outcomes == nil, write.current == nil else {
            preconditionFailure("no batches were being written at once")
        }
        precondition(succeeded.count == write.count, "one outcome per batch")
        write.outcomes = succeeded
        return nextOutcome(write, now: now)
    }

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func batchWritten(now: Instant) -> Action {
        guard case .writing(var write) = step, write.current != nil else { preconditionFailure("no batch was being written") }
        breaker.recordSuccess()
        write.current = nil
        return nextBatch(write, now: now)
    }

    /// Retried with backoff (`MAX_RETRIES`, from `RETRY_DELAY_MS` ×2 up to
    /// 10 s) while the breaker stays closed and the shutdown deadline has not
    /// passed; then handed back: the retry policy never drops a batch.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func batchFailed(now: Instant) -> Action {
        guard case .writing(let write) = step, let batch = write.current else { preconditionFailure("no batch was being written") }
        breaker.recordFailure(now: now)
        guard write.attempt < configuration.retry.maxRetries, breaker.reopensAt() == nil, !deadlinePassed else {
            return gaveUp(write, now: now)
        }
        step = .waitingToRetry(write)
        return .retry(batch: batch, at: now.advanced(by: configuration.retry.delay(forRetry: write.attempt)))
    }

    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func retryDue(now: Instant) -> Action {
        guard case .waitingToRetry(var write) = step else { preconditionFailure("no retry was scheduled") }
        write.attempt += 1
        return startAttempt(write, now: now)
    }

    /// `flushFinished` after `finishFlush`: the interval restarts.
    @_specialize(exported: true, where Instant == ContinuousClock.Instant)
    public mutating func flushFinished(now: Instant, backlog: Backlog) -> Action {
        precondition(step == .finishingFlush, "no flush was finishing")
        policy.flushFinished(now: now)
        return tick(now: now, backlog: backlog)
    }

    /// One attempt of the current batch, if the deadline and the breaker allow;
    /// a half-open breaker's attempt is a probe first.
    private mutating func startAttempt(_ write: Write, now: Instant) -> Action {
        // Past the deadline nothing more is tried: the batch is spooled with the buffer.
        guard !deadlinePassed, breaker.allowsAttempt(now: now) else { return gaveUp(write, now: now) }
        if case .halfOpen = breaker.state {
            step = .probingForWrite(write)
            return .probe
        }
        step = .writing(write)
        return .write(batch: write.current!)
    }

    private mutating func gaveUp(_ write: Write, now: Instant) -> Action {
        var write = write
        write.unwritten.append(write.current!)
        write.current = nil
        return nextBatch(write, now: now)
    }

    /// The current batch is done with (written or given up): on to the next of a write at once, or the end.
    private mutating func nextBatch(_ write: Write, now: Instant) -> Action {
        var write = write
        write.attempt = 0
        guard write.outcomes != nil else { return finishWrite(write, now: now) }
        write.cursor += 1
        return nextOutcome(write, now: now)
    }

    /// Walks the first attempts in batch order: a success closes the breaker, a failure is written alone.
    private mutating func nextOutcome(_ write: Write, now: Instant) -> Action {
        var write = write
        while let outcomes = write.outcomes, write.cursor < outcomes.count {
            guard outcomes[write.cursor] else {
                write.current = write.cursor
                return startAttempt(write, now: now)
            }
            breaker.recordSuccess()
            write.cursor += 1
        }
        return finishWrite(write, now: now)
    }

    private mutating func finishWrite(_ write: Write, now: Instant) -> Action {
        // No pause while the breaker is open (it decides when to try again) or once the deadline has passed.
        let pause = breaker.reopensAt() == nil && !deadlinePassed ? now.advanced(by: configuration.retry.delay(forRetry: configuration.retry.maxRetries)) : nil
        switch write.source {
        case .buffer:
            step = .finishingFlush
            return .finishFlush(handBack: write.unwritten, pauseUntil: write.unwritten.isEmpty || write.atOnce ? nil : pause)
        case .spool:
            // The segment is deleted only once every batch in it is committed.
            guard write.unwritten.isEmpty else {
                step = .idle
                return .stopReplay(pauseUntil: pause)
            }
            return readSegment()
        }
    }
}

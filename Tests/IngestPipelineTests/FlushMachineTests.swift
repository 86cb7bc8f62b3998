import Testing

@testable import IngestPipeline

@Suite("Flush machine")
struct FlushMachineTests {
    typealias Machine = FlushMachine<ContinuousClock.Instant>
    typealias Backlog = Machine.Backlog
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    /// The documented defaults (docs/configuration.md: interval 5 s, batches of 100…10 000, 3 retries from 1 s,
    /// breaker 5 failures / 30 s, pool of 2), shutdown timeout 10 s.
    func machine(breakerFailures: Int = 5, maxRetries: Int = 3, poolSize: Int = 2) -> Machine {
        Machine(
            configuration: .init(
                retry: RetrySchedule(maxRetries: maxRetries), breakerFailures: breakerFailures, shutdownTimeout: .seconds(10), poolSize: poolSize),
            now: t0)
    }

    /// Takes one batch from the buffer at `time` and fails it: with one allowed failure, the breaker opens.
    func failOneBatch(_ machine: inout Machine, at time: Double) {
        #expect(machine.tick(now: at(time), backlog: Backlog(waiting: 100)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(time)) == .write(batch: 0))
        #expect(machine.batchFailed(now: at(time)) == .finishFlush(handBack: [0], pauseUntil: nil))
    }

    /// A breaker that opened at 1 s, until 31 s, with the flush that opened it finished.
    func machineWithOpenBreaker() -> Machine {
        var machine = machine(breakerFailures: 1)
        failOneBatch(&machine, at: 1)
        _ = machine.flushFinished(now: at(1), backlog: Backlog())
        return machine
    }

    @Test("fewer trades than the minimum batch wait for the interval; then one batch is taken")
    func waitsForTheInterval() {
        var machine = machine()
        #expect(machine.tick(now: at(1), backlog: Backlog(waiting: 10)) == .wait(until: at(5)))
        #expect(machine.tick(now: at(5), backlog: Backlog(waiting: 10)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
    }

    @Test("an idle flusher wakes one interval later, not at a deadline already past")
    func idleWakesOneIntervalLater() {
        var machine = machine()
        #expect(machine.tick(now: at(6), backlog: Backlog()) == .wait(until: at(11)))
    }

    @Test("under load a closed breaker takes one batch per pooled connection and writes them at once")
    func concurrentUnderLoad() {
        var machine = machine(poolSize: 3)
        #expect(machine.tick(now: at(0), backlog: Backlog(waiting: 25_000)) == .takeFromBuffer(batches: 3, maximumItems: 10_000))
        #expect(machine.batchesReady(3, now: at(0)) == .writeAtOnce(batches: 3))
        #expect(machine.batchesWritten(succeeded: [true, true, true], now: at(1)) == .finishFlush(handBack: [], pauseUntil: nil))
        // The interval restarts when the flush is over.
        #expect(machine.flushFinished(now: at(1), backlog: Backlog(waiting: 10)) == .wait(until: at(6)))
    }

    @Test("a single pooled connection, or a breaker that has seen a failure, writes one batch at a time")
    func oneAtATimeWhenNotHealthy() {
        var single = machine(poolSize: 1)
        #expect(single.tick(now: at(0), backlog: Backlog(waiting: 25_000)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))

        var wary = machine()
        #expect(wary.tick(now: at(0), backlog: Backlog(waiting: 100)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(wary.batchesReady(1, now: at(0)) == .write(batch: 0))
        #expect(wary.batchFailed(now: at(0)) == .retry(batch: 0, at: at(1)))
        #expect(wary.retryDue(now: at(1)) == .write(batch: 0))
        #expect(wary.batchWritten(now: at(1)) == .finishFlush(handBack: [], pauseUntil: nil))
        #expect(wary.breaker.state == .closed(consecutiveFailures: 0))
        #expect(wary.flushFinished(now: at(1), backlog: Backlog(waiting: 25_000)) == .takeFromBuffer(batches: 2, maximumItems: 10_000))
    }

    @Test("a retryable failure schedules the next try after the backoff: 1 s, 2 s, 4 s; then the batch is handed back and the flusher pauses")
    func retriesWithBackoff() {
        var machine = machine()
        #expect(machine.tick(now: at(0), backlog: Backlog(waiting: 100)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(0)) == .write(batch: 0))
        #expect(machine.batchFailed(now: at(0)) == .retry(batch: 0, at: at(1)))
        #expect(machine.retryDue(now: at(1)) == .write(batch: 0))
        #expect(machine.attempt == 1)
        #expect(machine.batchFailed(now: at(1)) == .retry(batch: 0, at: at(3)))
        #expect(machine.retryDue(now: at(3)) == .write(batch: 0))
        #expect(machine.batchFailed(now: at(3)) == .retry(batch: 0, at: at(7)))
        #expect(machine.retryDue(now: at(7)) == .write(batch: 0))
        #expect(machine.attempt == 3)
        // MAX_RETRIES used up; four failures do not open the breaker (five do).
        #expect(machine.batchFailed(now: at(7)) == .finishFlush(handBack: [0], pauseUntil: at(15)))
        #expect(machine.breaker.state == .closed(consecutiveFailures: 4))
    }

    @Test("a failure that opens the breaker hands the batch back at once, without retrying")
    func failureThatOpensTheBreakerStopsRetrying() {
        var machine = machine(breakerFailures: 1)
        failOneBatch(&machine, at: 1)
        #expect(machine.breaker.state == .open(until: at(31)))
    }

    @Test("an open breaker sends the buffer to the spool and makes no database call until the probe time")
    func openBreakerSpools() {
        var machine = machine(breakerFailures: 1)
        failOneBatch(&machine, at: 1)
        #expect(machine.flushFinished(now: at(1), backlog: Backlog(waiting: 100)) == .spoolBuffer(thenWaitUntil: at(31)))
        // Trades, side-table rows and the spool all wait: nothing but spooling until 31 s.
        let everything = Backlog(waiting: 5_000, spooled: true, sideTableRows: true)
        #expect(machine.tick(now: at(10), backlog: everything) == .spoolBuffer(thenWaitUntil: at(31)))
        #expect(machine.tick(now: at(30.999), backlog: everything) == .spoolBuffer(thenWaitUntil: at(31)))
        // At 31 s the side tables go first; the half-open breaker then probes before the spool is read.
        #expect(machine.tick(now: at(31), backlog: everything) == .writeSideTables)
        let spooled = Backlog(spooled: true)
        #expect(machine.sideTablesWritten(now: at(31), backlog: spooled) == .probe)
        #expect(machine.probeSucceeded(now: at(31), backlog: spooled) == .openOldestSegment)
        #expect(machine.breaker.state == .closed(consecutiveFailures: 0))
    }

    @Test("trades that reached the buffer while the breaker was open go before the spool, behind a probe")
    func bufferAheadOfTheSpoolAfterAnOutage() {
        var machine = machineWithOpenBreaker()
        let both = Backlog(waiting: 5_000, spooled: true)
        #expect(machine.tick(now: at(31), backlog: both) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(31)) == .probe)
        #expect(machine.probeSucceeded(now: at(31), backlog: both) == .write(batch: 0))
        #expect(machine.batchWritten(now: at(31)) == .finishFlush(handBack: [], pauseUntil: nil))
        #expect(machine.flushFinished(now: at(31), backlog: Backlog(spooled: true)) == .openOldestSegment)
    }

    @Test("a failed probe before the replay opens the breaker for another 30 s")
    func failedReplayProbe() {
        var machine = machineWithOpenBreaker()
        #expect(machine.tick(now: at(31), backlog: Backlog(spooled: true)) == .probe)
        #expect(machine.probeFailed(now: at(31), backlog: Backlog(spooled: true)) == .spoolBuffer(thenWaitUntil: at(61)))
    }

    @Test("after the open time the breaker lets one batch through, behind a probe; the batch closes it")
    func halfOpenBatchProbesFirst() {
        var machine = machineWithOpenBreaker()
        #expect(machine.tick(now: at(31), backlog: Backlog(waiting: 100)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(31)) == .probe)
        #expect(machine.probeSucceeded(now: at(31), backlog: Backlog()) == .write(batch: 0))
        #expect(machine.breaker.state == .halfOpen(probing: true))
        #expect(machine.batchWritten(now: at(31)) == .finishFlush(handBack: [], pauseUntil: nil))
        #expect(machine.breaker.state == .closed(consecutiveFailures: 0))
    }

    @Test("a failed probe before a batch hands the batch back and opens the breaker again")
    func failedBatchProbe() {
        var machine = machineWithOpenBreaker()
        _ = machine.tick(now: at(31), backlog: Backlog(waiting: 100))
        #expect(machine.batchesReady(1, now: at(31)) == .probe)
        #expect(machine.probeFailed(now: at(31), backlog: Backlog()) == .finishFlush(handBack: [0], pauseUntil: nil))
        #expect(machine.breaker.state == .open(until: at(61)))
    }

    @Test("in the order the trades came: what waits in the buffer ahead of a spool backlog at once, whatever its size; then the spool's segments, oldest first; then newer trades under the policy")
    func bufferThenSpoolThenBuffer() {
        var machine = machine()
        // Under the minimum batch and before the interval: written at once all the same.
        #expect(machine.tick(now: at(0), backlog: Backlog(waiting: 30, spooled: true)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(0)) == .write(batch: 0))
        #expect(machine.batchWritten(now: at(0)) == .finishFlush(handBack: [], pauseUntil: nil))
        // A full ring: one batch per pooled connection.
        #expect(machine.flushFinished(now: at(0), backlog: Backlog(waiting: 20_000, spooled: true)) == .takeFromBuffer(batches: 2, maximumItems: 10_000))
        #expect(machine.batchesReady(2, now: at(0)) == .writeAtOnce(batches: 2))
        #expect(machine.batchesWritten(succeeded: [true, true], now: at(1)) == .finishFlush(handBack: [], pauseUntil: nil))
        // The buffer empty (the feed's frames go behind the backlog): the spool, oldest segment first.
        let spooled = Backlog(spooled: true)
        #expect(machine.flushFinished(now: at(1), backlog: spooled) == .openOldestSegment)
        #expect(machine.segmentOpened(now: at(1)) == .readSegment(batches: 2, maximumItems: 10_000))
        #expect(machine.batchesReady(2, now: at(1)) == .writeAtOnce(batches: 2))
        #expect(machine.batchesWritten(succeeded: [true, true], now: at(2)) == .readSegment(batches: 2, maximumItems: 10_000))
        #expect(machine.batchesReady(0, now: at(2)) == .commitSegment)
        #expect(machine.tick(now: at(2), backlog: spooled) == .openOldestSegment)
        _ = machine.segmentOpened(now: at(2))
        #expect(machine.batchesReady(0, now: at(2)) == .commitSegment)
        // The spool drained: newer trades under the flush policy again (30 wait for the interval).
        #expect(machine.tick(now: at(2), backlog: Backlog(waiting: 30)) == .wait(until: at(6)))
        #expect(machine.tick(now: at(2), backlog: Backlog(waiting: 25_000)) == .takeFromBuffer(batches: 2, maximumItems: 10_000))
    }

    @Test("a batch handed back goes before the spool's backlog, which is newer")
    func handedBackBatchBeforeTheSpool() {
        var machine = machine(maxRetries: 0, poolSize: 1)
        _ = machine.tick(now: at(0), backlog: Backlog(waiting: 100))
        _ = machine.batchesReady(1, now: at(0))
        #expect(machine.batchFailed(now: at(1)) == .finishFlush(handBack: [0], pauseUntil: at(2)))
        #expect(machine.flushFinished(now: at(2), backlog: Backlog(waiting: 100, spooled: true)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
    }

    @Test("a spool batch that cannot be written stops the replay and leaves the segment on disk")
    func replayStopsOnFailure() {
        var machine = machine(maxRetries: 0, poolSize: 1)
        #expect(machine.tick(now: at(0), backlog: Backlog(spooled: true)) == .openOldestSegment)
        #expect(machine.segmentOpened(now: at(0)) == .readSegment(batches: 1, maximumItems: 10_000))
        #expect(machine.batchesReady(1, now: at(0)) == .write(batch: 0))
        #expect(machine.batchFailed(now: at(2)) == .stopReplay(pauseUntil: at(3)))
        #expect(machine.tick(now: at(3), backlog: Backlog(spooled: true)) == .openOldestSegment)
    }

    @Test("a batch that fails when written at once is retried alone; the others are committed")
    func failedConcurrentBatchIsRetriedAlone() {
        var machine = machine(maxRetries: 1, poolSize: 3)
        _ = machine.tick(now: at(0), backlog: Backlog(waiting: 30_000))
        #expect(machine.batchesReady(3, now: at(0)) == .writeAtOnce(batches: 3))
        #expect(machine.batchesWritten(succeeded: [true, false, false], now: at(1)) == .write(batch: 1))
        #expect(machine.batchWritten(now: at(1)) == .write(batch: 2))
        #expect(machine.batchFailed(now: at(1)) == .retry(batch: 2, at: at(2)))
        #expect(machine.retryDue(now: at(2)) == .write(batch: 2))
        // Batches written at once that are handed back do not pause the flusher.
        #expect(machine.batchFailed(now: at(2)) == .finishFlush(handBack: [2], pauseUntil: nil))
    }

    @Test("side tables are written before the spool and the buffer; a failure counts toward the breaker")
    func sideTablesFirst() {
        var machine = machine(breakerFailures: 2)
        let rows = Backlog(waiting: 100, spooled: false, sideTableRows: true)
        #expect(machine.tick(now: at(0), backlog: rows) == .writeSideTables)
        #expect(machine.sideTablesFailed(now: at(0), backlog: rows) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        #expect(machine.breaker.state == .closed(consecutiveFailures: 1))
        _ = machine.batchesReady(1, now: at(0))
        #expect(machine.batchWritten(now: at(0)) == .finishFlush(handBack: [], pauseUntil: nil))
        #expect(machine.flushFinished(now: at(0), backlog: rows) == .writeSideTables)
        #expect(machine.sideTablesWritten(now: at(0), backlog: Backlog()) == .wait(until: at(5)))
    }

    @Test("an unreadable segment is tried again after a pause; a quarantined one makes way for the next at once")
    func unreadableSegment() {
        var machine = machine()
        _ = machine.tick(now: at(0), backlog: Backlog(spooled: true))
        #expect(machine.segmentUnreadable(willRetry: true, now: at(0), backlog: Backlog(spooled: true)) == .pause(until: at(8)))
        _ = machine.tick(now: at(8), backlog: Backlog(spooled: true))
        _ = machine.segmentOpened(now: at(8))
        #expect(machine.segmentUnreadable(willRetry: false, now: at(8), backlog: Backlog(spooled: true)) == .openOldestSegment)
    }

    @Test("a segment the spool cannot seal is tried again after the longest retry delay")
    func unsealableSegment() {
        var machine = machine()
        _ = machine.tick(now: at(0), backlog: Backlog(spooled: true))
        #expect(machine.segmentSealFailed(now: at(0)) == .pause(until: at(10)))
    }

    @Test("a drain flushes every waiting trade at once and finishes when nothing waits")
    func drain() {
        var machine = machine()
        machine.shutdownRequested(now: at(1))
        #expect(machine.isDraining)
        #expect(machine.drainDeadline == at(11))
        #expect(machine.tick(now: at(1), backlog: Backlog(waiting: 1)) == .takeFromBuffer(batches: 1, maximumItems: 10_000))
        _ = machine.batchesReady(1, now: at(1))
        _ = machine.batchWritten(now: at(1))
        // The spool and the side tables are drained too; with all empty it finishes.
        #expect(machine.flushFinished(now: at(1), backlog: Backlog(spooled: true)) == .openOldestSegment)
        _ = machine.segmentOpened(now: at(1))
        _ = machine.batchesReady(0, now: at(1))
        #expect(machine.tick(now: at(1), backlog: Backlog(sideTableRows: true)) == .writeSideTables)
        #expect(machine.sideTablesWritten(now: at(1), backlog: Backlog()) == .wait(until: at(1.1)))
        #expect(machine.tick(now: at(1.1), backlog: Backlog()) == .finish)
    }

    @Test("a drain the open breaker holds up waits no longer than the shutdown timeout, then spools the rest")
    func drainBehindOpenBreaker() {
        var machine = machine(breakerFailures: 1)
        failOneBatch(&machine, at: 1)
        _ = machine.flushFinished(now: at(1), backlog: Backlog(waiting: 100))
        machine.shutdownRequested(now: at(2))
        #expect(machine.tick(now: at(2), backlog: Backlog(waiting: 100)) == .spoolBuffer(thenWaitUntil: at(12)))
        #expect(machine.tick(now: at(12), backlog: Backlog(spooled: true)) == .finishAndSpoolTheRest)
    }

    @Test("at shutdown the buffer and batches in flight are spooled at the deadline")
    func deadlineSpoolsTheRest() {
        var machine = machine()
        machine.shutdownRequested(now: at(0))
        _ = machine.tick(now: at(0), backlog: Backlog(waiting: 25_000))
        #expect(machine.batchesReady(2, now: at(0)) == .writeAtOnce(batches: 2))
        // The deadline passes with both in flight: their statements are cancelled, they fail.
        machine.deadlineReached()
        #expect(machine.batchesWritten(succeeded: [false, false], now: at(3)) == .finishFlush(handBack: [0, 1], pauseUntil: nil))
        #expect(machine.flushFinished(now: at(3), backlog: Backlog(waiting: 25_000)) == .finishAndSpoolTheRest)
    }

    @Test("past the deadline a failed batch is not retried and the flusher does not pause")
    func noRetryPastTheDeadline() {
        var machine = machine()
        _ = machine.tick(now: at(0), backlog: Backlog(waiting: 100))
        _ = machine.batchesReady(1, now: at(0))
        machine.deadlineReached()
        #expect(machine.batchFailed(now: at(0)) == .finishFlush(handBack: [0], pauseUntil: nil))
    }
}

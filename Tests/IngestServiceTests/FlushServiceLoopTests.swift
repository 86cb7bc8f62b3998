import Foundation
import IngestDatabase
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed
import ServiceLifecycle
import Synchronization
import Testing

@testable import IngestService

/// The real flush loop, with a scripted writer and a clock the test moves:
/// it performs what the flush machine decides, at the instants it decides.
@Suite("Flush service loop")
struct FlushServiceLoopTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flush-loop-\(UUID().uuidString)").path

    /// A flusher over a fresh buffer and spool, run in a service group until
    /// `body` returns; then `stop` (a graceful shutdown). Returns what it counted and what the spool holds.
    @discardableResult
    func withFlusher(
        writer: ScriptedWriter, clock: ManualClock, breakerFailures: Int = 5, maxRetries: Int = 3, shutdownTimeout: Duration = .seconds(5),
        gaps: GapLedger = GapLedger(startsOpen: false), _ body: (RecordBuffer, Spool, IngestStats) async throws -> Void,
        stop: ((ServiceGroup) async throws -> Void)? = nil
    ) async throws -> (IngestStats, Spool.Snapshot) {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let buffer = RecordBuffer(capacity: 10_000, flushThreshold: 100)
        let spool = try Spool(configuration: .init(directory: directory))
        let stats = IngestStats()
        let deadline = ShutdownDeadline()
        let logger = CapturedLogs().logger("buffer")
        let flusher = FlushService(
            buffer: buffer, gaps: gaps, deadLetters: DeadLetterQueue(), spool: spool, writer: writer,
            policy: .init(interval: .seconds(5), minimumBatch: 100, maximumBatch: 10_000),
            retry: RetrySchedule(maxRetries: maxRetries, initialDelay: .seconds(1)), breakerFailures: breakerFailures,
            shutdownTimeout: shutdownTimeout, stats: stats, clock: clock, logger: logger, deadline: deadline)
        let group = ServiceGroup(services: [flusher], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(buffer, spool, stats)
                if let stop { try await stop(group) } else { await group.triggerGracefulShutdown() }
            } catch {
                // A failed expectation must not leave the loop running: end it at once.
                deadline.expireNow()
                await group.triggerGracefulShutdown()
                writer.cancelInFlight(grace: .zero)
                throw error
            }
            try await tasks.waitForAll()
        }
        let snapshot = spool.snapshot
        try spool.close()
        return (stats, snapshot)
    }

    @Test("trades over the minimum batch are written at once, and a graceful shutdown with nothing waiting stops the loop")
    func writesAndStops() async throws {
        let writer = ScriptedWriter()
        try await withFlusher(writer: writer, clock: ManualClock()) { buffer, _, stats in
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(150))
            try await eventually { writer.calls == ["write 150"] }
            try await eventually { stats.tradesWritten.load(ordering: .relaxed) == 150 }
            #expect(buffer.count == 0)
        }
        #expect(writer.calls == ["write 150"])
    }

    @Test("a failed batch is tried again only once the clock reaches the backoff: 1 s, then 2 s later")
    func retriesOnTheInjectedClock() async throws {
        let writer = ScriptedWriter(failingWrites: 2)
        let clock = ManualClock()
        try await withFlusher(writer: writer, clock: clock) { buffer, _, stats in
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(150))
            // The retry's pause sleeps in steps of 100 ms (besides it, the flush interval's alarm sleeps until 5 s).
            try await eventually { writer.calls.count == 1 && clock.deadlines.contains(.milliseconds(100)) }
            clock.advance(to: .seconds(0.9))
            try await eventually { clock.deadlines.contains { $0 > .seconds(0.9) && $0 <= .seconds(1) } }
            #expect(writer.calls.count == 1, "no second try before 1 s")
            clock.advance(to: .seconds(1))
            try await eventually { writer.calls.count == 2 && clock.deadlines.contains(.milliseconds(1100)) }
            clock.advance(to: .seconds(2.9))
            try await eventually { clock.deadlines.contains { $0 > .seconds(2.9) && $0 <= .seconds(3) } }
            #expect(writer.calls.count == 2, "no third try before 3 s")
            clock.advance(to: .seconds(3))
            try await eventually { stats.tradesWritten.load(ordering: .relaxed) == 150 }
            #expect(stats.retries.load(ordering: .relaxed) == 2)
            #expect(stats.batchesFailed.load(ordering: .relaxed) == 2)
        }
        #expect(writer.calls == ["write 150", "write 150", "write 150"])
    }

    @Test("an open breaker moves the buffer to the spool with no database call until the probe time; then the spool is replayed")
    func openBreakerSpoolsThenReplays() async throws {
        let writer = ScriptedWriter(failingWrites: 1)
        let clock = ManualClock()
        try await withFlusher(writer: writer, clock: clock, breakerFailures: 1, maxRetries: 0) { buffer, spool, stats in
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(150))
            // Spooled: the breaker is open (the flusher's wait for the probe time may sleep on the alarm's earlier deadline first).
            try await eventually { buffer.count == 0 && spool.snapshot.records == 1 }
            // More trades while it is open: spooled too, without touching the database.
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(120))
            try await eventually { buffer.count == 0 && stats.spooledTrades.load(ordering: .relaxed) == 270 }
            #expect(writer.calls == ["write 150"])
            clock.advance(to: .seconds(30))
            // The replay count is raised after the commit that empties the spool: waited for too, not raced.
            try await eventually {
                spool.isEmpty && stats.tradesWritten.load(ordering: .relaxed) == 270
                    && stats.spoolReplayedTrades.load(ordering: .relaxed) == 270
            }
        }
        #expect(writer.calls.prefix(2) == ["write 150", "probe"])
        #expect(writer.calls.dropFirst(2).allSatisfy { $0.hasPrefix("write") })
    }

    @Test("with a spool backlog, what waits in the buffer came first: it is written at once, below the minimum batch, then the spool")
    func bufferAheadOfTheBacklog() async throws {
        let writer = ScriptedWriter()
        try await withFlusher(writer: writer, clock: ManualClock()) { buffer, spool, stats in
            // The ring as it overflowed (30 trades, under the minimum batch of 100) and the 120 behind it in the spool.
            // The buffer first: a flusher that looks in between sees 30 trades under the minimum and waits (the
            // other way round it would see the spool alone and replay it, rightly, before the 30 arrived).
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(30))
            _ = try spool.append(.trades(TradeIntakeTests.trades(120)))
            buffer.wakeFlusher()
            // The clock stands still: the 30 do not wait for the flush interval.
            try await eventually { spool.isEmpty && stats.tradesWritten.load(ordering: .relaxed) == 150 }
        }
        #expect(writer.calls == ["write 30", "write 120"])
    }

    static func quotes(_ count: Int) -> [OptionQuote] {
        (0..<count).map { index in
            OptionQuote(
                symbol: OptionSymbol("O:SPY251219C00650000")!, bidExchange: 4, askExchange: 7, bidPrice: 6.4, askPrice: 6.6, bidSize: 10,
                askSize: 12, timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000)
        }
    }

    static func bars(_ count: Int) -> [OptionAggregate] {
        (0..<count).map { index in
            OptionAggregate(
                symbol: OptionSymbol("O:SPY251219C00650000")!, period: .second, startMs: 1_764_772_200_000 + Int64(index) * 1000,
                endMs: 1_764_772_201_000 + Int64(index) * 1000, open: 6.5, high: 6.5, low: 6.5, close: 6.5, volume: 1, vwap: 6.5,
                receivedAtMicros: 1_764_772_300_000_001)
        }
    }

    @Test("quotes ride the same loop as trades: they alone reach the minimum batch, and a failed batch of them is retried on the same backoff")
    func quotesAreRetried() async throws {
        let writer = ScriptedWriter(failingWrites: 1)
        let clock = ManualClock()
        try await withFlusher(writer: writer, clock: clock) { buffer, _, stats in
            _ = buffer.append(.quotes(Self.quotes(120)))
            try await eventually { writer.calls.count == 1 && clock.deadlines.contains(.milliseconds(100)) }
            clock.advance(to: .seconds(1))
            try await eventually { stats.quotes.written.load(ordering: .relaxed) == 120 }
            #expect(stats.retries.load(ordering: .relaxed) == 1)
            #expect(stats.tradesWritten.load(ordering: .relaxed) == 0)
        }
        #expect(writer.calls == ["write quote 120", "write quote 120"])
    }

    @Test("an open breaker spools every type, each batch one type; once the probe passes the spool replays each to its writer, counted per type")
    func openBreakerSpoolsEveryType() async throws {
        let writer = ScriptedWriter(failingWrites: 1)
        let clock = ManualClock()
        try await withFlusher(writer: writer, clock: clock, breakerFailures: 1, maxRetries: 0) { buffer, spool, stats in
            _ = buffer.append(.quotes(Self.quotes(150)))
            // Spooled: the breaker is open (the flusher's wait for the probe time may sleep on the alarm's earlier deadline first).
            try await eventually { buffer.count == 0 && spool.snapshot.records == 1 }
            _ = buffer.append(.aggregates(Self.bars(70)))
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(40))
            buffer.wakeFlusher()
            try await eventually { buffer.count == 0 && spool.snapshot.records == 3 }
            #expect(writer.calls == ["write quote 150"])
            clock.advance(to: .seconds(30))
            try await eventually {
                spool.isEmpty && stats.quotes.written.load(ordering: .relaxed) == 150
                    && stats.aggregates.written.load(ordering: .relaxed) == 70 && stats.tradesWritten.load(ordering: .relaxed) == 40
            }
        }
        // The trades were received a µs before the bars: they left the buffer, and so the spool, first.
        #expect(writer.calls == ["write quote 150", "probe", "write quote 150", "write 40", "write aggregate 70"])
    }

    @Test("gap changes refused by the leadership fence are no database fault: the breaker stays closed, trades are written, the changes wait")
    func fencedGapsAreNoFault() async throws {
        let writer = ScriptedWriter(fenceGaps: true)
        let gaps = GapLedger(startsOpen: false)
        gaps.leadershipAcquired(gapStart: .local(40), reason: "failover", fence: 3)
        let clock = ManualClock()
        try await withFlusher(writer: writer, clock: clock, breakerFailures: 1, gaps: gaps) { buffer, spool, stats in
            for round in 1...3 {
                _ = buffer.append(contentsOf: TradeIntakeTests.trades(150))
                try await eventually { stats.tradesWritten.load(ordering: .relaxed) == 150 * round }
            }
            #expect(writer.calls.filter { $0 == "gaps 1 fenced 3" }.count >= 1)
            #expect(!writer.calls.contains("probe"), "a breaker tripped by the fence would probe before writing again")
            #expect(spool.snapshot.records == 0, "nothing was spooled: the breaker never opened")
            // The refused change waits for the leader service to drop it (it may still be on its way back from the writer).
            try await eventually { !gaps.isEmpty }
            // The leader service notices the lost lock and drops it; then the drain has nothing left.
            #expect(gaps.leadershipLost() == 1)
        }
    }

    @Test("at the shutdown deadline the write in flight is cancelled and its batch goes to the spool")
    func deadlineSpoolsTheBatchInFlight() async throws {
        let writer = ScriptedWriter(blockingWrites: 1)
        let clock = ManualClock()
        let (stats, spool) = try await withFlusher(writer: writer, clock: clock, shutdownTimeout: .seconds(7)) { buffer, _, _ in
            _ = buffer.append(contentsOf: TradeIntakeTests.trades(150))
            try await eventually { writer.calls == ["write 150"] }
        } stop: { group in
            await group.triggerGracefulShutdown()
            // The drain waits for the blocked write until the deadline, 7 s on the clock (not 5 s: the
            // flush interval's alarm sleeps until then).
            try await eventually { clock.deadlines.contains(.seconds(7)) }
            #expect(writer.cancellations == 0)
            clock.advance(to: .seconds(7))
            try await eventually { writer.cancellations == 1 }
        }
        #expect(stats.spooledTrades.load(ordering: .relaxed) == 150)
        #expect(stats.tradesWritten.load(ordering: .relaxed) == 0)
        #expect(spool.records == 1)
        #expect(writer.calls == ["write 150"])
    }
}

/// Waits, without sleeping, until `condition` holds; fails after 10 s of wall time.
func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let giveUp = ContinuousClock.now.advanced(by: .seconds(10))
    while !condition() {
        guard ContinuousClock.now < giveUp else {
            Issue.record("condition not met in time", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        await Task.yield()
    }
}

/// A writer that follows a script: the first `failingWrites` writes fail,
/// the first `blockingWrites` block until `cancelInFlight`; everything else succeeds.
final class ScriptedWriter: TradeWriting {
    struct Refused: Error {}

    private struct State {
        var calls: [String] = []
        var failingWrites: Int
        var blockingWrites: Int
        var blocked: [CheckedContinuation<Void, Never>] = []
        var cancellations = 0
        var fenceGaps: Bool
    }

    private let state: Mutex<State>
    let poolSize = 1

    /// `fenceGaps`: every gap write is refused as another leader's term would refuse it.
    init(failingWrites: Int = 0, blockingWrites: Int = 0, fenceGaps: Bool = false) {
        state = Mutex(State(failingWrites: failingWrites, blockingWrites: blockingWrites, fenceGaps: fenceGaps))
    }

    var calls: [String] { state.withLock { $0.calls } }
    var cancellations: Int { state.withLock { $0.cancellations } }

    func write(_ batch: RecordBatch) async throws -> BatchResult {
        let (fails, blocks) = state.withLock { state in
            state.calls.append(batch.kind == .trade ? "write \(batch.count)" : "write \(batch.kind.name) \(batch.count)")
            defer { state.failingWrites -= 1; state.blockingWrites -= 1 }
            return (state.failingWrites > 0, state.blockingWrites > 0)
        }
        if blocks {
            await withCheckedContinuation { continuation in state.withLock { $0.blocked.append(continuation) } }
            throw Refused()
        }
        if fails { throw Refused() }
        return BatchResult(trades: batch.count, inserted: batch.count)
    }

    func probe() async throws { state.withLock { $0.calls.append("probe") } }
    func recordGaps(_ changes: GapChanges) async throws {
        let fenced = state.withLock { state in
            state.calls.append("gaps \(changes.events.count)" + (state.fenceGaps ? " fenced \(changes.fence.map(String.init) ?? "-")" : ""))
            return state.fenceGaps
        }
        if fenced, let fence = changes.fence { throw GapFenceError(fence: fence, term: fence + 1) }
    }
    func recordDeadLetters(_ letters: [DeadLetter]) async throws { state.withLock { $0.calls.append("dead letters \(letters.count)") } }
    func recordHealthEvents(_ events: [HealthEvent]) async throws { state.withLock { $0.calls.append("health \(events.count)") } }

    func cancelInFlight(grace: Duration) {
        let blocked = state.withLock { state in
            state.cancellations += 1
            defer { state.blocked = [] }
            return state.blocked
        }
        blocked.forEach { $0.resume() }
    }
}

/// A clock that moves only when the test says so; sleepers wake when it passes their deadline.
final class ManualClock: Clock, Sendable {
    typealias Instant = VirtualClock.Instant

    private struct Sleeper {
        let id: Int
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private let state = Mutex<(now: Instant, next: Int, sleepers: [Sleeper])>((Instant(offset: .zero), 0, []))

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    /// The deadlines of the sleeps in progress, as offsets from the start.
    var deadlines: [Duration] { state.withLock { $0.sleepers.map(\.deadline.offset) } }

    func advance(to offset: Duration) {
        let due = state.withLock { state in
            state.now = max(state.now, Instant(offset: offset))
            let now = state.now
            defer { state.sleepers.removeAll { $0.deadline <= now } }
            return state.sleepers.filter { $0.deadline <= now }
        }
        due.forEach { $0.continuation.resume() }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state in
                    if deadline <= state.now || Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                defer { state.sleepers.removeAll { $0.id == id } }
                return state.sleepers.first { $0.id == id }
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}

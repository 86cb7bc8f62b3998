import IngestPipeline
import OptionsFeed
import Testing

@testable import IngestService

/// What the feed's trades meet on their way into the buffer.
@Suite("Trade intake")
struct TradeIntakeTests {
    static func trades(_ count: Int) -> [OptionTrade] {
        (0..<count).map { index in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 4, price: 6.5, size: 20, conditions: [],
                timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000)
        }
    }

    /// An intake into a small buffer, with no spool (`SPOOL_MAX_BYTES=0`).
    static func intakeWithoutSpool(capacity: Int) -> (RecordBuffer, IngestStats, FeedIntake) {
        let buffer = RecordBuffer(capacity: capacity, flushThreshold: 100)
        let stats = IngestStats()
        let intake = FeedIntake(
            buffer: buffer, stats: stats, gaps: GapLedger(startsOpen: false), deadLetters: DeadLetterQueue(), spool: nil,
            notionalThreshold: 0, logger: CapturedLogs().logger("websocket"))
        return (buffer, stats, intake)
    }

    @Test("no spool, buffer full, the reader is stopped mid-frame: the trades it could not hand over are counted as dropped")
    func stoppedMidFrameCountsTheRest() async throws {
        let (buffer, stats, intake) = Self.intakeWithoutSpool(capacity: 10)
        var frame = DecodedFrame()
        frame.trades = Self.trades(25)
        let reader = Task { await intake.take(frame, receivedAtMicros: 1) }
        // The reader waits for room once it handed 10 over; stopping it must not lose 15 in silence.
        while buffer.count < 10 { await Task.yield() }
        reader.cancel()
        await reader.value
        #expect(stats.tradesAccepted.load(ordering: .relaxed) == 25)
        #expect(buffer.count == 10)
        #expect(stats.tradesDropped.load(ordering: .relaxed) == 15)
    }

    @Test("no spool, buffer full: the reader waits for room and hands every trade over once the flusher takes some")
    func waitsForRoom() async throws {
        let (buffer, stats, intake) = Self.intakeWithoutSpool(capacity: 10)
        var frame = DecodedFrame()
        frame.trades = Self.trades(25)
        let reader = Task { await intake.take(frame, receivedAtMicros: 1) }
        var taken: [OptionTrade] = []
        while taken.count < 25 {
            taken += buffer.take(upTo: 7).trades
            await Task.yield()
        }
        await reader.value
        #expect(taken.map(\.sequence) == Array(0..<25))
        #expect(stats.tradesDropped.load(ordering: .relaxed) == 0)
    }
}

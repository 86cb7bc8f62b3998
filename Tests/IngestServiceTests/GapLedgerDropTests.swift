import Foundation
import IngestDatabase
import IngestSpool
import Logging
import OptionsFeed
import Testing

@testable import IngestService

/// Trades dropped with the spool full are a gap in the table like a
/// disconnect's (docs/design.md §5.8.1): a finished `trades_dropped` row over
/// their feed times, marked for the backfill when it is on, one row per drain.
@Suite("Gap ledger: dropped trades")
struct GapLedgerDropTests {
    static func trades(t: ClosedRange<Int64>, receivedAt: Int64) -> [OptionTrade] {
        t.map { t in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 1.5, size: 10, conditions: [], timestampMs: t,
                sequence: t, receivedAtMicros: receivedAt)
        }
    }

    /// The drained events with their feed times and backfill mark.
    static func windows(_ events: [GapEvent]) -> [String] {
        events.map { event in
            switch event {
            case .opened(let row): "open \(row.reason) from_t \(row.fromT.map(String.init) ?? "-") at \(row.startedAtMicros)"
            case .closed(let row, let time, let toT, let backfill):
                "close \(row.reason) to_t \(toT.map(String.init) ?? "-") at \(time)\(backfill ? " pending" : "")"
            case .closedLeftOpen: "close-left-open"
            }
        }
    }

    @Test("drops until the next drain widen one finished row from the first t to the last; the next drops make another")
    func dropsCoalesceUntilDrained() {
        let ledger = GapLedger(startsOpen: false, backfillOnClose: true)
        ledger.tradesDropped(Self.trades(t: 1000...1009, receivedAt: 50))
        ledger.tradesDropped(Self.trades(t: 1010...1030, receivedAt: 70))
        ledger.tradesDropped(Self.trades(t: 1031...1031, receivedAt: 90))
        #expect(!ledger.isEmpty)
        #expect(Self.windows(ledger.drain().events) == ["open trades_dropped from_t 1000 at 50", "close trades_dropped to_t 1031 at 90 pending"])
        #expect(ledger.isEmpty)
        ledger.tradesDropped(Self.trades(t: 2000...2004, receivedAt: 200))
        #expect(Self.windows(ledger.drain().events) == ["open trades_dropped from_t 2000 at 200", "close trades_dropped to_t 2004 at 200 pending"])
        ledger.tradesDropped([OptionTrade]())
        #expect(ledger.isEmpty, "dropping nothing records nothing")
    }

    @Test("a batch the full spool refuses is dropped, counted and recorded as a trades_dropped gap; one it takes is not")
    func spoolOrDropRecordsTheGap() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drop-gap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool(configuration: .init(directory: directory, maxBytes: 2048, segmentBytes: 1024))
        let ledger = GapLedger(startsOpen: false, backfillOnClose: true)
        let stats = IngestStats()
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        #expect(spoolOrDrop(.trades(Self.trades(t: 1...3, receivedAt: 1)), spool: spool, stats: stats, logger: logger, gaps: ledger))
        #expect(ledger.isEmpty && stats.tradesDropped.load(ordering: .relaxed) == 0)
        #expect(spoolOrDrop(.trades(Self.trades(t: 100...199, receivedAt: 2)), spool: spool, stats: stats, logger: logger, gaps: ledger))
        #expect(stats.tradesDropped.load(ordering: .relaxed) == 100)
        #expect(Self.windows(ledger.drain().events) == ["open trades_dropped from_t 100 at 2", "close trades_dropped to_t 199 at 2 pending"])
        try spool.close()
    }

    @Test("a drop earlier in feed time than the waiting row's start closes that row and opens another; without BACKFILL no mark")
    func earlierDropStartsAnotherRow() {
        let ledger = GapLedger(startsOpen: false)
        ledger.tradesDropped(Self.trades(t: 5000...5010, receivedAt: 10))
        ledger.tradesDropped(Self.trades(t: 4000...4002, receivedAt: 20))
        #expect(
            Self.windows(ledger.drain().events) == [
                "open trades_dropped from_t 5000 at 10", "close trades_dropped to_t 5010 at 10", "open trades_dropped from_t 4000 at 20",
                "close trades_dropped to_t 4002 at 20",
            ])
    }

    @Test("a drain that could not be written goes back as a finished gap, kept even after the lock is lost; a waiting drop is not")
    func putBackAndLeadership() {
        let ledger = GapLedger(startsOpen: false, backfillOnClose: true)
        ledger.tradesDropped(Self.trades(t: 1...3, receivedAt: 5))
        let first = ledger.drain().events
        ledger.tradesDropped(Self.trades(t: 10...12, receivedAt: 15))
        ledger.leadershipLost()
        ledger.putBack(first)
        #expect(Self.windows(ledger.drain().events) == ["open trades_dropped from_t 1 at 5", "close trades_dropped to_t 3 at 5 pending"])
        ledger.tradesDropped(Self.trades(t: 20...22, receivedAt: 25))
        #expect(ledger.isEmpty, "not leading: nothing recorded")
    }
}

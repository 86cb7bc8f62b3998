import IngestDatabase
import IngestPipeline
import OptionsFeed
import Testing

@testable import IngestService

/// The feed times a gap carries (docs/design.md §5.8): an open the newest `t`
/// received before it, a close the first `t` after it, and the backfill mark.
@Suite("Gap ledger feed times")
struct GapLedgerFeedTimeTests {
    /// The opens' `from_t` and the closes' `to_t`/backfill, as text.
    static func feedTimes(_ events: [GapEvent]) -> [String] {
        events.map { event in
            switch event {
            case .opened(let row): "open \(row.reason) from \(row.fromT.map(String.init) ?? "-")"
            case .closed(let row, _, let toT, let backfill): "close \(row.reason) to \(toT.map(String.init) ?? "-")\(backfill ? " pending" : "")"
            case .closedLeftOpen(_, _, let toT, let backfill): "close-left-open to \(toT.map(String.init) ?? "-")\(backfill ? " pending" : "")"
            }
        }
    }

    @Test("a gap opened while running starts at the newest t received before it, not the last frame's; the close carries the first t after it")
    func openAndCloseCarryFeedTimes() {
        let ledger = GapLedger(startsOpen: false)
        ledger.open(atMicros: 5, reason: "before any trade")
        ledger.dataArrived(atMicros: 10, firstT: 1_000, newestT: 1_050)
        ledger.dataArrived(atMicros: 11, firstT: 1_020, newestT: 1_040)  // an older frame leaves the newest t
        ledger.open(atMicros: 20, reason: "connection reset")
        ledger.dataArrived(atMicros: 30, firstT: 1_900, newestT: 2_000)
        ledger.open(atMicros: 40, reason: "stall")
        ledger.dataArrived(atMicros: 50, firstT: 2_500, newestT: 2_600)
        #expect(Self.feedTimes(ledger.drain().events) == [
            "open before any trade from -", "close before any trade to 1000",
            "open connection reset from 1050", "close connection reset to 1900",
            "open stall from 2000", "close stall to 2500",
        ])
    }

    @Test("with backfill on, every close marks its rows pending, those left open by others too; off (the default) none does")
    func backfillOnCloseMarksPending() {
        let on = GapLedger(backfillOnClose: true)
        on.restarted(lastDataAt: .database(40), fromT: 777)
        on.dataArrived(atMicros: 90, firstT: 900, newestT: 901)
        #expect(Self.feedTimes(on.drain().events) == ["open restart from 777", "close restart to 900 pending", "close-left-open to 900 pending"])

        let off = GapLedger()
        off.restarted(lastDataAt: .database(40), fromT: 777)
        off.dataArrived(atMicros: 90, firstT: 900, newestT: 901)
        #expect(Self.feedTimes(off.drain().events) == ["open restart from 777", "close restart to 900", "close-left-open to 900"])
    }

    @Test("a new leader's failover gap starts at the table's newest t; inherited open rows close with the first t after it")
    func leadershipCarriesFeedTimes() {
        let ledger = GapLedger(startsOpen: false, backfillOnClose: true)
        ledger.leadershipAcquired(gapStart: .database(40), reason: "failover", fence: 2, fromT: 1_234)
        ledger.dataArrived(atMicros: 60, firstT: 1_500, newestT: 1_600)
        ledger.leadershipLost()
        _ = ledger.drain()
        ledger.leadershipAcquired(gapStart: nil, openGapIDs: [7], reason: "failover", fence: 3, fromT: 1_700)
        ledger.dataArrived(atMicros: 90, firstT: 1_800, newestT: 1_800)
        #expect(Self.feedTimes(ledger.drain().events) == ["close-left-open to 1800 pending"])
    }

    @Test("the intake hands the ledger the frame's first t and its newest t, once per frame")
    func intakePassesTheFramesFeedTimes() async throws {
        let gaps = GapLedger(startsOpen: false)
        let intake = FeedIntake(
            buffer: RecordBuffer(capacity: 100, flushThreshold: 100), stats: IngestStats(), gaps: gaps, deadLetters: DeadLetterQueue(), spool: nil,
            notionalThreshold: 0, logger: CapturedLogs().logger("websocket"))
        func frame(_ ts: [Int64]) -> DecodedFrame {
            var frame = DecodedFrame()
            frame.trades = ts.enumerated().map { index, t in
                OptionTrade(
                    symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 4, price: 6.5, size: 20, conditions: [], timestampMs: t,
                    sequence: Int64(index), receivedAtMicros: 1)
            }
            return frame
        }
        await intake.take(frame([1_000, 1_300, 1_200]), receivedAtMicros: 1)
        gaps.open(atMicros: 2, reason: "connection reset")
        await intake.take(frame([2_200, 2_100]), receivedAtMicros: 3)
        #expect(Self.feedTimes(gaps.drain().events) == ["open connection reset from 1300", "close connection reset to 2200"])
    }
}

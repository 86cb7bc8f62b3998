import Testing

@testable import IngestPipeline

/// Which contracts a window is backfilled for (docs/design.md §5.8.1).
@Suite("Backfill plan")
struct BackfillPlanTests {
    typealias Entry = RESTSnapshotPage.Entry
    let start: Int64 = 1_764_685_800_000_000_000

    @Test("watched contracts first, then active snapshot contracts by volume, then ticker; quiet ones and duplicates left out")
    func order() {
        let plan = BackfillPlan(
            explicit: ["O:SPY251219C00650000", "O:QQQ251219C00500000"],
            snapshot: [
                Entry(ticker: "O:SPY251219P00600000", dayVolume: 10, lastTradeSipNs: start),
                Entry(ticker: "O:SPY251219C00650000", dayVolume: 999, lastTradeSipNs: start + 1),
                Entry(ticker: "O:SPY251219P00610000", dayVolume: 50, lastTradeSipNs: start + 5),
                Entry(ticker: "O:SPY251219P00590000", dayVolume: 50, lastTradeSipNs: start + 5),
                Entry(ticker: "O:SPY251219P00580000", dayVolume: 5000, lastTradeSipNs: start - 1),
                Entry(ticker: "O:SPY251219P00570000", dayVolume: 7000),
            ],
            windowStartNs: start, maxContracts: 200)
        #expect(
            plan.chosen == [
                "O:SPY251219C00650000", "O:QQQ251219C00500000", "O:SPY251219P00590000", "O:SPY251219P00610000", "O:SPY251219P00600000",
            ])
        #expect(plan.cut.isEmpty && plan.rejected.isEmpty)
    }

    @Test("the bound keeps the first maxContracts and returns the rest as cut", arguments: [0, 1, 3, 5, 9])
    func bound(maxContracts: Int) {
        let snapshot = (0..<5).map { Entry(ticker: "O:SPY251219C0065\($0)000", dayVolume: Int64(100 - $0), lastTradeSipNs: start) }
        let plan = BackfillPlan(explicit: [], snapshot: snapshot, windowStartNs: start, maxContracts: maxContracts)
        #expect(plan.chosen == Array(snapshot.map(\.ticker).prefix(maxContracts)))
        #expect(plan.cut == Array(snapshot.map(\.ticker).dropFirst(maxContracts)))
    }

    @Test("tickers that are no option symbol are rejected, not planned")
    func rejected() {
        let plan = BackfillPlan(
            explicit: ["SPY", "O:SPY251219C00650000"], snapshot: [Entry(ticker: "O:BAD", dayVolume: 1, lastTradeSipNs: start)],
            windowStartNs: start, maxContracts: 1)
        #expect(plan == BackfillPlan(chosen: ["O:SPY251219C00650000"], rejected: ["SPY", "O:BAD"]))
    }
}

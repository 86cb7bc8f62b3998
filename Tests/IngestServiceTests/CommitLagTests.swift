import IngestService
import OptionsFeed
import Testing

/// Receive-to-commit lag (docs/performance.md): per trade, from the frame's receive time
/// to the commit of the trade's batch, as the health report shows it.
@Suite("Commit lag")
struct CommitLagTests {
    static let symbol = OptionSymbol("O:SPY251219C00650000")!

    func trades(receivedAt: [Int64]) -> [OptionTrade] {
        receivedAt.enumerated().map { index, micros in
            OptionTrade(
                symbol: Self.symbol, exchange: 1, price: 1, size: 1, conditions: [], timestampMs: 1_764_614_400_000,
                sequence: Int64(index), receivedAtMicros: micros)
        }
    }

    @Test func noTradeCommittedMeansNoFigure() {
        let monitor = DatabaseMonitor(flavor: "postgres")
        #expect(monitor.snapshot.commitLagP50 == nil)
        #expect(monitor.snapshot.commitLagP99 == nil)
    }

    @Test func percentilesArePerTradeNotPerBatch() throws {
        let monitor = DatabaseMonitor(flavor: "postgres")
        // 99 trades committed 10 ms after receipt, in one batch; then one trade 2 s late in its own.
        monitor.committed(trades(receivedAt: Array(repeating: 1_000_000, count: 99)), atMicros: 1_010_000)
        monitor.committed(trades(receivedAt: [1_000_000]), atMicros: 3_000_000)
        let p50 = try #require(monitor.snapshot.commitLagP50)
        let p99 = try #require(monitor.snapshot.commitLagP99)
        #expect(abs(p50 - 0.010) < 0.0002, "p50 \(p50)")
        #expect(abs(p99 - 0.010) < 0.0002, "p99 \(p99): 99 of 100 trades took 10 ms")
        monitor.committed(trades(receivedAt: [1_000_000]), atMicros: 3_000_000)
        let later = try #require(monitor.snapshot.commitLagP99)
        #expect(abs(later - 2.0) < 0.03, "p99 \(later): 2 of 101 trades took 2 s")
    }

    @Test func aClockStepBackCountsAsNoLagAndAnHourLongOneAsTheCeiling() throws {
        let monitor = DatabaseMonitor(flavor: "postgres")
        monitor.committed(trades(receivedAt: [5_000_000]), atMicros: 1_000_000)
        #expect(try #require(monitor.snapshot.commitLagP99) == 0)
        monitor.committed(trades(receivedAt: [0, 0, 0]), atMicros: 86_400_000_000)
        let p99 = try #require(monitor.snapshot.commitLagP99)
        #expect(abs(p99 - 3600) < 40, "p99 \(p99)")
    }
}

import Testing

@testable import IngestPipeline

/// The `invalid_trades_high` rule's arithmetic (docs/operations.md §1): the share
/// of invalid trades over the last minute, from the running totals the health tick samples.
@Suite("Invalid trade share")
struct HealthInvalidTradeShareTests {
    typealias Share = InvalidTradeShare<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    @Test("before any sample, and before a full minute, the window counts from the start")
    func fromTheStart() {
        var share = Share()
        #expect(share.lastWindow(now: at(0)) == .init(seen: 0, invalid: 0))
        share.record(seen: 500, invalid: 5, now: at(1))
        share.record(seen: 1000, invalid: 10, now: at(2))
        #expect(share.lastWindow(now: at(2)) == .init(seen: 1000, invalid: 10))
        #expect(share.lastWindow(now: at(2)).percent == 1)
    }

    @Test("the window is the last minute: what arrived before it falls off")
    func slidingWindow() {
        var share = Share()
        // A burst of bad trades in the first second, then a clean feed at 100 trades/s, sampled once a second.
        var windows: [Int: Share.Counts] = [:]
        for second in 1...70 {
            share.record(seen: 100 * second, invalid: 100, now: at(Double(second)))
            windows[second] = share.lastWindow(now: at(Double(second)))
        }
        #expect(windows[60] == .init(seen: 6000, invalid: 100), "at 60 s the burst (before 1 s) is still in the window")
        #expect(windows[61] == .init(seen: 6000, invalid: 0), "from the sample a full minute old: the burst is out")
        #expect(windows[70] == .init(seen: 6000, invalid: 0))
    }

    @Test("sampled every 7 ms for ten minutes, it keeps about 120 samples")
    func bounded() {
        var share = Share()
        // Every 7 ms; the last record is at 599 991 ms.
        for ms in stride(from: 0, to: 600_000, by: 7) { share.record(seen: ms, invalid: ms / 100, now: t0.advanced(by: .milliseconds(ms))) }
        #expect(share.storedSamples <= 122)
        let window = share.lastWindow(now: t0.advanced(by: .milliseconds(599_991)))
        #expect(window.seen >= 60_000 && window.seen <= 60_000 + 500 + 7, "one window, plus at most one sample spacing: \(window)")
    }

    @Test(
        "the threshold: more than the percentage, and at least the minimum count",
        arguments: [
            // (seen, invalid, percent, opens)
            (10_000, 100, 5, false),  // feed-sim's 1 %
            (10_000, 500, 5, false),  // exactly 5 %: not more
            (10_000, 501, 5, true),
            (100, 9, 5, false),  // 9 % but only 9 invalid: one bad frame in a quiet minute
            (100, 10, 5, true),
            (12, 12, 5, true),  // everything invalid: the format changed under the decoder
            (0, 0, 0, false),
            (1_000, 10, 0, true),  // 0 %: any 10 invalid trades
            (1_000, 1_000, 100, false),  // 100 %: never
        ])
    func threshold(_ seen: Int, _ invalid: Int, _ percent: Int, _ opens: Bool) {
        let threshold = Share.Threshold(percent: percent)
        #expect(threshold.isExceeded(by: .init(seen: seen, invalid: invalid)) == opens)
    }
}

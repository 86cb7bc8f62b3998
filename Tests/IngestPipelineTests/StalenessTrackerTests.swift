import Testing

@testable import IngestPipeline

/// docs/design.md §5.4 per-symbol staleness and its thresholds.
@Suite("Per-symbol staleness")
struct StalenessTrackerTests {
    typealias Tracker = StalenessTracker<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Int) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    static let spyCall = "O:SPY251219C00650000"
    static let spyPut = "O:SPY251219P00600000"

    @Test(
        "thresholds: healthy < 180 s, degraded 180–300 s, stale > 300 s, critical > 3600 s",
        arguments: [
            (0, StalenessState.healthy), (179, .healthy), (180, .degraded), (300, .degraded), (301, .stale),
            (3600, .stale), (3601, .critical),
        ])
    func thresholds(_ seconds: Int, _ expected: StalenessState) {
        #expect(Tracker.Configuration().state(after: .seconds(seconds)) == expected)
        var tracker = Tracker(configuration: .init(watched: ["SPY"]))
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(0))
        #expect(tracker.watchedEntries(now: at(seconds)).first?.state == expected)
    }

    @Test("on ElapsedInstant (the health monitor's instants) the same thresholds hold, before the origin too")
    func elapsedInstants() {
        func at(_ seconds: Int) -> ElapsedInstant { ElapsedInstant(sinceOrigin: .seconds(seconds - 50)) }
        #expect(at(10).duration(to: at(190)) == .seconds(180))
        #expect(at(10) < at(11) && at(10).advanced(by: .seconds(1)) == at(11))
        var tracker = StalenessTracker<ElapsedInstant>(configuration: .init(watched: ["SPY"]))
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(10))
        #expect(tracker.evaluate(now: at(189), marketOpen: true).isEmpty)
        #expect(tracker.evaluate(now: at(190), marketOpen: true).map(\.to) == [.degraded])
        #expect(tracker.watchedEntries(now: at(311)).first?.state == .stale)
    }

    @Test("each transition is reported once, with staleness and update count, and recovery too")
    func transitionsOnce() {
        var tracker = Tracker(configuration: .init(watched: ["SPY"]))
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(0))
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(10))
        let none = tracker.evaluate(now: at(100), marketOpen: true)
        #expect(none.isEmpty)
        let degraded = tracker.evaluate(now: at(190), marketOpen: true)
        #expect(degraded == [.init(symbol: "SPY", from: .healthy, to: .degraded, staleness: .seconds(180), updateCount: 2, at: at(190))])
        let again = tracker.evaluate(now: at(200), marketOpen: true)
        #expect(again.isEmpty, "still degraded: nothing new")
        let stale = tracker.evaluate(now: at(400), marketOpen: true)
        #expect(stale.map(\.to) == [.stale])
        let critical = tracker.evaluate(now: at(3700), marketOpen: true)
        #expect(critical.map { [$0.from, $0.to] } == [[.stale, .critical]])
        tracker.record(contract: Self.spyPut, underlying: "SPY", now: at(3800))
        let recovered = tracker.evaluate(now: at(3801), marketOpen: true)
        #expect(recovered == [.init(symbol: "SPY", from: .critical, to: .healthy, staleness: .seconds(1), updateCount: 3, at: at(3801))])
    }

    @Test("with the market closed nothing is classified or reported, and the last-seen time is not shifted")
    func marketClosed() {
        var tracker = Tracker(configuration: .init(watched: ["SPY"]))
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(0))
        let closed = tracker.evaluate(now: at(5000), marketOpen: false)
        #expect(closed.isEmpty)
        let reopened = tracker.evaluate(now: at(5001), marketOpen: true)
        #expect(reopened.map(\.to) == [.critical], "measured from the last real trade")
    }

    @Test("a configured contract matches only that contract; a configured underlying matches all its contracts")
    func contractVersusUnderlying() {
        var tracker = Tracker(configuration: .init(watched: [Self.spyCall, "QQQ"]), now: at(0))
        tracker.record(contract: Self.spyPut, underlying: "SPY", now: at(100))
        tracker.record(contract: "O:QQQ251219C00500000", underlying: "QQQ", now: at(100))
        tracker.record(contract: "O:QQQ251219P00400000", underlying: "QQQ", now: at(150))
        #expect(tracker.trackedCount == 2, "only watched keys are kept")
        let entries = tracker.watchedEntries(now: at(200))
        #expect(entries == [
            .init(symbol: Self.spyCall, state: .degraded, staleness: .seconds(200), updateCount: 0),
            .init(symbol: "QQQ", state: .healthy, staleness: .seconds(50), updateCount: 2),
        ])
        tracker.record(contract: Self.spyCall, underlying: "SPY", now: at(210))
        #expect(tracker.watchedEntries(now: at(211)).first { $0.symbol == Self.spyCall }?.updateCount == 1)
    }

    @Test("a configured symbol never seen counts from the tracker's creation")
    func neverSeen() {
        var tracker = Tracker(configuration: .init(watched: ["IWM"]), now: at(0))
        let transitions = tracker.evaluate(now: at(301), marketOpen: true)
        #expect(transitions.map(\.to) == [.stale])
        // Without a creation time, the first record or evaluate is the start.
        var lazy = Tracker(configuration: .init(watched: ["IWM"]))
        _ = lazy.evaluate(now: at(1000), marketOpen: true)
        #expect(lazy.evaluate(now: at(1180), marketOpen: true).map(\.to) == [.degraded])
    }

    @Test("without a list, the 20 most active underlyings are watched")
    func mostActive() {
        var tracker = Tracker(configuration: .init())
        // U0 gets 1 trade, U1 2, … U29 30.
        for number in 0..<30 {
            for _ in 0...number { tracker.record(contract: "O:U\(number)251219C00100000", underlying: "U\(number)", now: at(0)) }
        }
        #expect(tracker.trackedCount == 30)
        let watched = tracker.watchedEntries(now: at(1))
        #expect(Set(watched.map(\.symbol)) == Set((10..<30).map { "U\($0)" }))
        let counts = tracker.counts(now: at(200))
        #expect(counts == [.healthy: 0, .degraded: 20, .stale: 0, .critical: 0])
    }

    @Test("watched entries are listed worst first")
    func worstFirst() {
        var tracker = Tracker(configuration: .init(watched: ["A", "B", "C"]), now: at(0))
        tracker.record(contract: "O:A251219C00100000", underlying: "A", now: at(3500))
        tracker.record(contract: "O:B251219C00100000", underlying: "B", now: at(3000))
        #expect(tracker.watchedEntries(now: at(3700)).map(\.symbol) == ["C", "B", "A"])
        #expect(tracker.counts(now: at(3700)) == [.healthy: 0, .degraded: 1, .stale: 1, .critical: 1])
    }

    @Test("unwatched underlyings idle for 30 min are evicted; the most active are kept")
    func idleEviction() {
        var tracker = Tracker(configuration: .init(mostActiveCount: 2))
        for _ in 0..<5 { tracker.record(contract: "O:SPY251219C00650000", underlying: "SPY", now: at(0)) }
        for _ in 0..<4 { tracker.record(contract: "O:QQQ251219C00500000", underlying: "QQQ", now: at(0)) }
        tracker.record(contract: "O:XYZ251219C00010000", underlying: "XYZ", now: at(0))
        tracker.record(contract: "O:ABC251219C00010000", underlying: "ABC", now: at(600))
        _ = tracker.evaluate(now: at(1799), marketOpen: true)
        #expect(tracker.trackedCount == 4)
        _ = tracker.evaluate(now: at(1800), marketOpen: true)
        #expect(tracker.trackedCount == 3, "XYZ idle 30 min and not among the 2 most active")
        _ = tracker.evaluate(now: at(2400), marketOpen: false)
        #expect(tracker.trackedCount == 2, "eviction runs with the market closed too")
        #expect(Set(tracker.watchedEntries(now: at(2400)).map(\.symbol)) == ["SPY", "QQQ"])
    }

    @Test("configured symbols are never evicted")
    func configuredKept() {
        var tracker = Tracker(configuration: .init(watched: ["SPY"]), now: at(0))
        _ = tracker.evaluate(now: at(100_000), marketOpen: true)
        #expect(tracker.trackedCount == 1)
    }

    @Test("100 000 distinct underlyings never hold more than maxTracked entries")
    func bounded() {
        var tracker = Tracker(configuration: .init())
        var most = 0
        for number in 0..<100_000 {
            let underlying = "U\(number)"
            tracker.record(contract: "O:\(underlying)251219C00100000", underlying: underlying, now: at(number / 100))
            most = max(most, tracker.trackedCount)
        }
        #expect(most <= 10_000)
        _ = tracker.evaluate(now: at(1000), marketOpen: true)
        #expect(tracker.trackedCount <= 10_000)
    }

    @Test("100 000 distinct underlyings and huge ones between them stay within maxTracked entries and their key bytes")
    func boundedInBytes() {
        var tracker = Tracker(configuration: .init())
        let huge = String(repeating: "A", count: 70_000)
        for number in 0..<100_000 {
            // Ten characters, the longest a decoded symbol has.
            let underlying = "U" + String(repeating: "0", count: 9 - String(number).count) + String(number)
            tracker.record(contract: "O:\(underlying)251219C00100000", underlying: underlying, now: at(number / 100))
            if number % 1000 == 0 {
                tracker.record(contract: "O:\(huge)\(number)251219C00100000", underlying: huge + "\(number)", now: at(number / 100))
                #expect(tracker.trackedCount <= 10_000)
                #expect(tracker.keyBytes <= 10_000 * Tracker.maximumKeyBytes)
            }
        }
        #expect(tracker.trackedCount <= 10_000)
        #expect(tracker.keyBytes <= 10_000 * Tracker.maximumKeyBytes)
        #expect(!tracker.watchedEntries(now: at(1000)).contains { $0.symbol.utf8.count > Tracker.maximumKeyBytes })
        #expect(Tracker.maximumKeyBytes <= 15, "a key this short is stored inline in its String")
    }

    @Test("making room keeps the most active and evicts the least recently traded")
    func roomKeepsActive() {
        var tracker = Tracker(configuration: .init(mostActiveCount: 1, maxTracked: 10))
        for _ in 0..<3 { tracker.record(contract: "O:SPY251219C00650000", underlying: "SPY", now: at(0)) }
        for number in 1...20 { tracker.record(contract: "O:U\(number)251219C00100000", underlying: "U\(number)", now: at(number)) }
        #expect(tracker.trackedCount <= 10)
        let symbols = tracker.watchedEntries(now: at(21)).map(\.symbol)
        #expect(symbols == ["SPY"])
        #expect(tracker.counts(now: at(21))[.healthy] == 1)
    }

    @Test("states order healthy < degraded < stale < critical")
    func ordering() {
        #expect(StalenessState.allCases.sorted() == [.healthy, .degraded, .stale, .critical])
        #expect(StalenessState.critical.rawValue == "critical")
    }
}

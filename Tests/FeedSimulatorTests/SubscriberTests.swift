import FeedSimulator
import Testing

@Suite("Subscriber: one connection's bars, quotes and fair values, paced by a clock the test advances")
struct SubscriberTests {
    let t0 = ContinuousClock.now
    static let a = "O:SPY251219C00650000"
    static let b = "O:QQQ251219P00400000"

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("quotes come at the set rate over the contracts in turn, q counting the run's quotes, bid below ask")
    func quotesPaced() throws {
        var subscriber = Subscriber(since: t0, quoteRate: 10, fairValueRate: 10, seed: 3)
        try subscriber.subscribe("Q.\(Self.a),Q.\(Self.b)", at: t0, contracts: [])
        var numbering = Subscriber.EventNumbering()
        let market = BarAggregator(startMs: 1_764_772_200_000)
        #expect(subscriber.nextDue(now: t0) == t0)
        let first = subscriber.events(at: t0, limit: 100, market: market, numbering: &numbering)
        #expect(first.count == 1)
        #expect(subscriber.nextDue(now: t0) == at(0.1))
        let second = subscriber.events(at: at(1), limit: 100, market: market, numbering: &numbering)
        #expect(second.count == 10)
        let quotes = (first + second).compactMap { if case .quote(let quote) = $0 { quote } else { nil } }
        #expect(quotes.count == 11)
        #expect(quotes.map(\.sym) == (0..<11).map { $0 % 2 == 0 ? Self.a : Self.b })
        #expect(quotes.map(\.q) == Array(1...11))
        #expect(quotes.allSatisfy { $0.bidCents >= 1 && $0.bidCents < $0.askCents && $0.bidSize > 0 && $0.askSize > 0 })
        #expect(quotes.allSatisfy { $0.t == 1_764_772_200_000 })
        #expect(subscriber.events(at: at(1), limit: 100, market: market, numbering: &numbering).isEmpty)
        #expect(subscriber.events(at: at(2), limit: 4, market: market, numbering: &numbering).count == 4, "the limit holds; the rest stay due")
        #expect(subscriber.events(at: at(2), limit: 100, market: market, numbering: &numbering).count == 6)
    }

    @Test("fair values carry t in nanoseconds, within the stream's millisecond and strictly rising, each in a µs of its own")
    func fairValueNanoseconds() throws {
        var subscriber = Subscriber(since: t0, quoteRate: 10, fairValueRate: 100, seed: 3)
        try subscriber.subscribe("FMV.\(Self.a)", at: t0, contracts: [])
        var numbering = Subscriber.EventNumbering()
        let market = BarAggregator(startMs: 1_764_772_200_000)
        let values = subscriber.events(at: at(0.5), limit: 1_000, market: market, numbering: &numbering)
            .compactMap { if case .fairValue(let value) = $0 { value } else { nil } }
        #expect(values.count == 51)
        #expect(values.allSatisfy { $0.t / 1_000_000 >= 1_764_772_200_000 && $0.t / 1_000_000 <= 1_764_772_200_001 })
        #expect(zip(values, values.dropFirst()).allSatisfy { $0.t / 1_000 < $1.t / 1_000 }, "51 values of one stream ms, µs apart")
        #expect(values.allSatisfy { $0.sym == Self.a && $0.valueTicks > 0 })
    }

    @Test("FMV.* goes round the stream's contracts; bars are owed only when subscribed and not due before the subscription")
    func wildcardsAndBars() throws {
        var subscriber = Subscriber(since: at(1), quoteRate: 10, fairValueRate: 10, seed: 3)
        try subscriber.subscribe("FMV.*,AM.\(Self.a)", at: at(1), contracts: [Self.a, Self.b])
        #expect(subscriber.fairValueContracts == [Self.a, Self.b])
        let bar = SimBar(
            period: .minute, sym: Self.a, start: 0, openCents: 1, highCents: 1, lowCents: 1, closeCents: 1, volume: 1,
            notionalCents: 1, tradeCount: 1, dayVolume: 1, dayOpenCents: 1, dayNotionalCents: 1)
        subscriber.offer(bar, due: at(0.5))
        var second = bar
        second.period = .second
        subscriber.offer(second, due: at(2))
        var other = bar
        other.sym = Self.b
        subscriber.offer(other, due: at(2))
        subscriber.offer(bar, due: at(3))
        var numbering = Subscriber.EventNumbering()
        let events = subscriber.events(at: at(2.5), limit: 100, market: BarAggregator(startMs: 0), numbering: &numbering)
        #expect(!events.contains { if case .bar = $0 { true } else { false } }, "the one owed is due at 3 s")
        let later = subscriber.events(at: at(3), limit: 100, market: BarAggregator(startMs: 0), numbering: &numbering)
        #expect(later.first == .bar(bar))
    }
}

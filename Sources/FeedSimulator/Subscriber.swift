/// One connection's subscription and the events it is owed besides trades
/// (docs/feed-sim.md, "Other event types"): the bars the stream closed for it,
/// and its quotes and fair values, paced by the clock.
///
/// Pure value type: instants come in as parameters, the stream's prices and
/// time as a `BarAggregator`, the run's quote numbers and fair-value times as
/// `EventNumbering`.
public struct Subscriber: Sendable {
    /// The run's numbering of quotes and fair values, shared by every connection.
    public struct EventNumbering: Sendable, Equatable {
        /// `q` of the next quote: counts the run's quotes from 1.
        public var nextQuote: Int64 = 1
        /// `t` (ns) of the newest fair value: the next one is at least 1 µs later.
        public var lastFairValueNanos: Int64 = 0

        public init() {}
    }

    public private(set) var subscription = FeedSubscription()
    /// When the connection first subscribed: a bar due before it is not its
    /// (a real feed sends a connection live events only).
    public let since: ContinuousClock.Instant
    public private(set) var quotes: EventPacer
    public private(set) var fairValues: EventPacer
    /// The contracts fair values go round: those named, then the stream's
    /// contracts that `FMV.*` or a prefix takes.
    public private(set) var fairValueContracts: [String] = []
    /// Bars owed, in the order closed, with when each is due (`nil` = at once).
    private var bars: [(bar: SimBar, due: ContinuousClock.Instant?)] = []
    private var barsHead = 0
    private var quoteCursor = 0
    private var fairValueCursor = 0
    /// Draws the quotes' and fair values' prices, sizes and exchanges.
    private var random: SeededRandom

    /// Mixed into the run's seed for `random`, so that it does not repeat the trade generator's draws.
    static let seedMask: UInt64 = 0x51A7_0C3E_D2B4_8F19

    public init(since: ContinuousClock.Instant, quoteRate: Double, fairValueRate: Double, seed: UInt64) {
        self.since = since
        quotes = EventPacer(rate: quoteRate)
        fairValues = EventPacer(rate: fairValueRate)
        random = SeededRandom(seed: seed ^ Self.seedMask)
    }

    /// Adds a subscribe message's items (a refused message changes nothing);
    /// `contracts` are the stream's, for `FMV.*` and prefixes.
    public mutating func subscribe(
        _ params: String, at now: ContinuousClock.Instant, contracts: [String]
    ) throws(FeedSubscription.Refusal) {
        try subscription.subscribe(params)
        subscriptionChanged(at: now, contracts: contracts)
    }

    public mutating func unsubscribe(_ params: String, at now: ContinuousClock.Instant, contracts: [String]) {
        subscription.unsubscribe(params)
        subscriptionChanged(at: now, contracts: contracts)
    }

    private mutating func subscriptionChanged(at now: ContinuousClock.Instant, contracts: [String]) {
        let wanted = subscription.fairValues
        var list = wanted.contracts
        if wanted.all || !wanted.prefixes.isEmpty {
            let named = Set(list)
            list += contracts.filter { wanted.contains($0) && !named.contains($0) }
        }
        fairValueContracts = list
        if subscription.quotes.contracts.isEmpty { quotes.stop() } else { quotes.begin(at: now) }
        if fairValueContracts.isEmpty { fairValues.stop() } else { fairValues.begin(at: now) }
    }

    /// A bar the stream closed, due at `due`: owed if subscribed and not due before `since`.
    public mutating func offer(_ bar: SimBar, due: ContinuousClock.Instant?) {
        if let due, due < since { return }
        let targets = bar.period == .second ? subscription.secondBars : subscription.minuteBars
        guard targets.contains(bar.sym) else { return }
        bars.append((bar, due))
    }

    /// When the next owed event is due (`now` for one due at once); `nil` = none owed or paced.
    public func nextDue(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        var next: ContinuousClock.Instant?
        if barsHead < bars.count { next = bars[barsHead].due ?? now }
        for due in [quotes.nextDue, fairValues.nextDue] {
            guard let due else { continue }
            next = next.map { min($0, due) } ?? due
        }
        return next
    }

    /// The events due by `now`, at most `limit`: bars first, then quotes, then fair values.
    public mutating func events(
        at now: ContinuousClock.Instant, limit: Int, market: BarAggregator, numbering: inout EventNumbering
    ) -> [SimEvent] {
        var events: [SimEvent] = []
        while events.count < limit, barsHead < bars.count, bars[barsHead].due.map({ $0 <= now }) ?? true {
            events.append(.bar(bars[barsHead].bar))
            barsHead += 1
        }
        if barsHead == bars.count {
            bars.removeAll(keepingCapacity: true)
            barsHead = 0
        } else if barsHead > 1024, barsHead * 2 > bars.count {
            bars.removeFirst(barsHead)
            barsHead = 0
        }
        let quoteContracts = subscription.quotes.contracts
        let quoteCount = quoteContracts.isEmpty ? 0 : min(limit - events.count, quotes.dueCount(at: now))
        for _ in 0..<max(0, quoteCount) {
            let sym = quoteContracts[quoteCursor % quoteContracts.count]
            quoteCursor = (quoteCursor + 1) % quoteContracts.count
            let mid = market.lastPriceCents(of: sym) ?? BarAggregator.referencePriceCents(for: sym)
            events.append(.quote(.around(midCents: mid, sym: sym, t: market.newestT, q: numbering.nextQuote, using: &random)))
            numbering.nextQuote += 1
        }
        quotes.didMake(max(0, quoteCount))
        let valueCount = fairValueContracts.isEmpty ? 0 : min(limit - events.count, fairValues.dueCount(at: now))
        for _ in 0..<max(0, valueCount) {
            let sym = fairValueContracts[fairValueCursor % fairValueContracts.count]
            fairValueCursor = (fairValueCursor + 1) % fairValueContracts.count
            let price = market.lastPriceCents(of: sym) ?? BarAggregator.referencePriceCents(for: sym)
            // The stream's ms as ns, plus a drawn sub-millisecond part; at least 1 µs after the run's previous one:
            // `options_fmv` keeps `t` to the µs under the key (sym, ts) (docs/design.md §4.4), so values 1 ns apart
            // (a burst of them in one stream ms, as when a connection catches up) would be one row there.
            let t = max(market.newestT * 1_000_000 + Int64(random.next() % 1_000_000), numbering.lastFairValueNanos + 1_000)
            numbering.lastFairValueNanos = t
            events.append(.fairValue(.near(priceCents: price, sym: sym, t: t, using: &random)))
        }
        fairValues.didMake(max(0, valueCount))
        return events
    }
}

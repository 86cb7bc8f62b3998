import FeedSimulator
import Foundation
import Testing

@Suite("FeedSubscription: channels and targets of subscribe messages, and the quote rules")
struct FeedSubscriptionTests {
    static let spy = "O:SPY251219C00650000"
    static let qqq = "O:QQQ251219P00400000"

    /// `count` distinct contracts, from `first` on.
    static func contracts(_ count: Int, from first: Int = 0) -> [String] {
        (first..<first + count).map { "O:SPY261219C\(String(format: "%08d", 100_000 + $0))" }
    }

    @Test("each channel takes *, a prefix ending in * or named contracts; unknown channels carry nothing")
    func channelsAndTargets() throws {
        var subscription = FeedSubscription()
        try subscription.subscribe("T.*, AM.O:SPY*,A.\(Self.qqq),Q.\(Self.spy),FMV.\(Self.qqq),XQ.*,garbage")
        #expect(subscription.trades.all)
        #expect(subscription.minuteBars.contains(Self.spy) && !subscription.minuteBars.contains(Self.qqq))
        #expect(subscription.secondBars.contains(Self.qqq) && !subscription.secondBars.contains(Self.spy))
        #expect(subscription.quotes.contracts == [Self.spy])
        #expect(subscription.fairValues.contracts == [Self.qqq])
        #expect(subscription.wantsEvents)
        var tradesOnly = FeedSubscription()
        try tradesOnly.subscribe("T.*")
        #expect(!tradesOnly.wantsEvents && tradesOnly[.quotes].isEmpty)
    }

    @Test("a quote wildcard is refused whole, the subscription unchanged", arguments: ["Q.*", "T.*,Q.O:SPY*"])
    func quoteWildcardRefused(_ params: String) throws {
        var subscription = FeedSubscription()
        try subscription.subscribe("A.*")
        let before = subscription
        #expect(throws: FeedSubscription.Refusal.self) { try subscription.subscribe(params) }
        #expect(subscription == before)
        #expect(FeedSubscription.Refusal.quoteWildcard("Q.*").message.contains("1,000"))
    }

    @Test("at most 1 000 quote contracts, counted over all subscribe messages; repeats count once, unsubscribing frees room")
    func quoteLimit() throws {
        var subscription = FeedSubscription()
        try subscription.subscribe(Self.contracts(600).map { "Q.\($0)" }.joined(separator: ","))
        try subscription.subscribe(Self.contracts(400, from: 600).map { "Q.\($0)" }.joined(separator: ","))
        try subscription.subscribe("Q.\(Self.contracts(1)[0])")
        #expect(subscription.quotes.contracts.count == 1_000)
        #expect(throws: FeedSubscription.Refusal.tooManyQuoteContracts(1_001)) {
            try subscription.subscribe("Q.\(Self.spy)")
        }
        #expect(subscription.quotes.contracts.count == 1_000)
        subscription.unsubscribe("Q.\(Self.contracts(1)[0])")
        try subscription.subscribe("Q.\(Self.spy)")
        #expect(subscription.quotes.contracts.last == Self.spy && subscription.quotes.contracts.count == 1_000)
    }

    @Test("FMV takes a wildcard in feed-sim; unsubscribe removes exactly the item named")
    func fairValuesAndUnsubscribe() throws {
        var subscription = FeedSubscription()
        try subscription.subscribe("FMV.*,T.*,T.O:SPY*")
        #expect(subscription.fairValues.all)
        subscription.unsubscribe("T.*")
        #expect(subscription.trades.contains(Self.spy) && !subscription.trades.contains(Self.qqq))
        subscription.unsubscribe("T.O:SPY*,FMV.*")
        #expect(subscription.trades.isEmpty && !subscription.wantsEvents)
    }
}

import OptionsFeed
import Testing

/// `POLYGON_SUBSCRIPTIONS` as the options feed takes it (docs/design.md §5.1).
@Suite("Feed subscriptions")
struct FeedSubscriptionsTests {
    static func contract(_ n: Int) -> String {
        let strike = String(100_000 + n)
        return "O:SPY261219C" + String(repeating: "0", count: 8 - strike.count) + strike
    }

    @Test("every channel of the options feed, wildcards where the feed allows them, blanks and repeats dropped, order kept")
    func mixed() throws {
        let parsed = try FeedSubscriptions(" T.*, AM.* ,A.*,Q.O:SPY251219C00650000,FMV.O:BRK.B260320C00000500,T.*,,A.O:SPY251219C00650000")
        #expect(parsed.items == ["T.*", "AM.*", "A.*", "Q.O:SPY251219C00650000", "FMV.O:BRK.B260320C00000500", "A.O:SPY251219C00650000"])
        #expect(parsed.channels == [.trades, .minuteAggregates, .secondAggregates, .quotes, .fairMarketValue])
        #expect(parsed.params == "T.*,AM.*,A.*,Q.O:SPY251219C00650000,FMV.O:BRK.B260320C00000500,A.O:SPY251219C00650000")
    }

    @Test(
        "what the feed would refuse is refused before connecting, with the reason",
        arguments: [
            ("Q.*", SubscriptionError.wildcardRefused("Q.*")), ("T.*,FMV.*", .wildcardRefused("FMV.*")),
            ("Q.O:SPY*", .wildcardRefused("Q.O:SPY*")), ("Q.SPY", .notAContract("Q.SPY")), ("X.*", .unknownChannel("X.*")),
            ("t.*", .unknownChannel("t.*")), ("T*", .malformed("T*")), (".*", .malformed(".*")), ("T.", .malformed("T.")),
            ("T.O:SPY 1", .malformed("T.O:SPY 1")), (" , ,", .empty),
        ])
    func refused(_ text: String, _ expected: SubscriptionError) {
        #expect(throws: expected) { try FeedSubscriptions(text) }
    }

    @Test("at most 1 000 quote contracts: the thousandth is taken, the next refused; a repeat does not count twice")
    func quoteLimit() throws {
        let thousand = (0..<1000).map { "Q." + Self.contract($0) }
        #expect(try FeedSubscriptions((thousand + thousand.prefix(5) + ["T.*"]).joined(separator: ",")).items.count == 1001)
        #expect(throws: SubscriptionError.tooManyQuoteContracts(1001)) {
            try FeedSubscriptions((thousand + ["Q." + Self.contract(1000)]).joined(separator: ","))
        }
        #expect(SubscriptionError.tooManyQuoteContracts(1001).description.contains("1000"))
    }
}

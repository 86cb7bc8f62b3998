import FeedSimulator
import Foundation
import Testing

@Suite("HostileTrades: well-formed events no client may accept")
struct HostileTradesTests {
    func parsed(_ event: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
    }

    @Test("each event is a well-formed trade event, at fault only where its kind says, numbered from q")
    func events() throws {
        let events = HostileTrades.events(from: HostileTrades.firstSequence + 12)
        #expect(events.count == HostileTrades.Kind.allCases.count)
        var symbols: [String] = []
        for (offset, event) in events.enumerated() {
            let object = try parsed(event)
            #expect(object["ev"] as? String == "T")
            #expect((object["q"] as? NSNumber)?.int64Value == HostileTrades.firstSequence + 12 + Int64(offset))
            #expect((object["t"] as? NSNumber)?.int64Value == HostileTrades.timestampMs)
            #expect((object["p"] as? NSNumber)?.doubleValue == 25 && (object["s"] as? NSNumber)?.intValue == 100)
            symbols.append(try #require(object["sym"] as? String))
        }
        let byKind = Dictionary(uniqueKeysWithValues: zip(HostileTrades.Kind.allCases, symbols))
        #expect(byKind[.hugeSymbol]?.utf8.count == 70_000)
        #expect(byKind[.hugeSymbol]?.hasSuffix("251219C00650000") == true)
        #expect(byKind[.longUnderlying] == "O:ABCDEFGHIJKL251219C00650000")
        #expect(byKind[.badOptionType] == "O:SPY251219X00650000")
        #expect(byKind[.lowercase] == "o:spy251219c00650000")
        #expect(byKind[.sevenDigitStrike] == "O:SPY251219C0065000")
        let conditions = try parsed(events[0])["c"] as? [Any]
        #expect(conditions?.count == 70_000)
    }

    @Test("a hostile frame is one JSON array: the hostile events, then the ordinary trades")
    func frame() throws {
        var generator = TradeGenerator(seed: 3, contracts: 10, invalidFraction: 0)
        let trades = (0..<5).map { _ in generator.next() }
        let text = HostileTrades.frame(hostileFrom: HostileTrades.firstSequence, trades: trades)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(array.count == 6 + 5)
        #expect(array.suffix(5).compactMap { ($0["q"] as? NSNumber)?.int64Value } == trades.map(\.q))
        #expect(text.utf8.count < 1 << 20, "below a client's 1 MiB frame limit: only the content is hostile")
        #expect(Set(HostileTrades.Kind.allCases.map(\.expectedReason)) == ["too_many_conditions", "underlying_too_long", "bad_symbol"])
    }
}

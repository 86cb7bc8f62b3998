@testable import FeedSimulator
import Foundation
import Testing

@Suite("TradeGenerator: the seeded trade stream")
struct TradeGeneratorTests {
    static func trades(seed: UInt64, count: Int, invalidFraction: Double = 0, symbols: Int = 200) -> [SimTrade] {
        var generator = TradeGenerator(seed: seed, contracts: symbols, invalidFraction: invalidFraction)
        return (0..<count).map { _ in generator.next() }
    }

    /// The text the feed writes for a trade, built the plain way: the reference for `appendJSON`.
    static func plainJSON(_ trade: SimTrade) -> String {
        var text = #"{"ev":"T","sym":"\#(trade.sym)","x":\#(trade.x),"p":\#(trade.priceText),"s":\#(trade.size)"#
        if !trade.conditions.isEmpty { text += #","c":[\#(trade.conditions.map(String.init).joined(separator: ","))]"# }
        if let t = trade.t { text += #","t":\#(t)"# }
        return text + #","q":\#(trade.q)}"#
    }

    @Test("a trade's JSON and a frame's are byte for byte the plain text: every fault, prices to the cent, extreme numbers")
    func jsonBytes() {
        var trades = Self.trades(seed: 11, count: 2_000, invalidFraction: 0.3, symbols: 50)
        trades.append(SimTrade(sym: "O:SPY251219C00650000", t: .max, q: .min, priceCents: -5, size: 0, x: -3, conditions: [0, -1, 209]))
        trades.append(SimTrade(sym: "", t: nil, q: 0, priceCents: 100_000_007, size: .max, x: 0, conditions: []))
        for trade in trades { #expect(trade.json == Self.plainJSON(trade)) }
        #expect(TradeGenerator.frame(trades) == "[" + trades.map(Self.plainJSON).joined(separator: ",") + "]")
        #expect(TradeGenerator.frame([SimTrade]()) == "[]")
    }

    @Test("the same seed gives the same trades")
    func sameSeedSameTrades() {
        #expect(Self.trades(seed: 42, count: 5_000, invalidFraction: 0.1) == Self.trades(seed: 42, count: 5_000, invalidFraction: 0.1))
    }

    @Test("a different seed gives different trades")
    func differentSeedDifferentTrades() {
        let a = Self.trades(seed: 1, count: 1_000)
        let b = Self.trades(seed: 2, count: 1_000)
        #expect(a != b)
        #expect(zip(a, b).filter { $0.sym == $1.sym && $0.priceCents == $1.priceCents }.count < 100)
    }

    @Test("(sym, t, q) never repeats over 50 000 trades, and q counts up from 1")
    func keysAreUnique() {
        let trades = Self.trades(seed: 7, count: 50_000, invalidFraction: 0.05)
        struct Key: Hashable { let sym: String, t: Int64?, q: Int64 }
        #expect(Set(trades.map { Key(sym: $0.sym, t: $0.t, q: $0.q) }).count == trades.count)
        #expect(trades.map(\.q) == Array(1...50_000))
    }

    @Test("the invalid fraction is roughly honoured and every fault kind appears")
    func invalidFraction() {
        let trades = Self.trades(seed: 3, count: 20_000, invalidFraction: 0.2)
        let invalid = trades.filter { !$0.isValid }
        #expect((3_400...4_600).contains(invalid.count))
        #expect(Set(invalid.compactMap(\.fault)) == Set(SimTrade.Fault.allCases))
        let withoutInvalid = Self.trades(seed: 3, count: 5_000).filter { !$0.isValid }
        #expect(withoutInvalid.isEmpty)
    }

    @Test("each fault breaks the field it names")
    func faultsBreakTheirField() {
        var generator = TradeGenerator(seed: 5, contracts: 200, invalidFraction: 0.5)
        let contracts = Set(generator.contracts)
        for _ in 0..<5_000 {
            let trade = generator.next()
            switch trade.fault {
            case .badSymbol?: #expect(!contracts.contains(trade.sym))
            case .zeroPrice?: #expect(trade.priceCents == 0)
            case .negativePrice?: #expect(trade.priceCents < 0)
            case .zeroSize?: #expect(trade.size == 0)
            case .missingTimestamp?: #expect(trade.t == nil && !trade.json.contains(#""t":"#))
            case nil: #expect(contracts.contains(trade.sym) && trade.priceCents > 0 && trade.size > 0 && trade.t != nil)
            }
        }
    }

    @Test("a valid trade's JSON is a trade event with the trade's fields; no c key without conditions")
    func validJSONDecodes() throws {
        let trades = Self.trades(seed: 11, count: 500)
        #expect(trades.contains { $0.conditions.isEmpty } && trades.contains { !$0.conditions.isEmpty })
        for trade in trades {
            #expect(trade.json.hasPrefix(#"{"ev":"T","#))
            let object = try #require(JSONSerialization.jsonObject(with: Data(trade.json.utf8)) as? [String: Any])
            #expect(object["ev"] as? String == "T")
            #expect(object["sym"] as? String == trade.sym)
            #expect((object["q"] as? NSNumber)?.int64Value == trade.q)
            #expect((object["t"] as? NSNumber)?.int64Value == trade.t)
            #expect((object["s"] as? NSNumber)?.int64Value == trade.size)
            #expect((object["x"] as? NSNumber)?.intValue == trade.x)
            let price = try #require((object["p"] as? NSNumber)?.doubleValue)
            #expect(abs(price * 100 - Double(trade.priceCents)) < 1e-6)
            if trade.conditions.isEmpty {
                #expect(object["c"] == nil && !trade.json.contains(#""c":"#))
            } else {
                #expect(object["c"] as? [Int] == trade.conditions)
            }
        }
    }

    @Test("a frame is a JSON array of the events, in order")
    func frameIsArray() throws {
        let trades = Self.trades(seed: 13, count: 25)
        let array = try #require(JSONSerialization.jsonObject(with: Data(TradeGenerator.frame(trades).utf8)) as? [[String: Any]])
        #expect(array.compactMap { ($0["q"] as? NSNumber)?.int64Value } == trades.map(\.q))
    }

    @Test("the ledger line is sym,t,q,p,s,x,valid,c with conditions joined by |")
    func ledgerLine() {
        let trade = SimTrade(
            sym: "O:SPY251219C00500000", t: 1_764_772_200_123, q: 9, priceCents: 1205, size: 3, x: 301,
            conditions: [209, 219], fault: nil)
        #expect(trade.ledgerLine == "O:SPY251219C00500000,1764772200123,9,12.05,3,301,1,209|219")
        #expect(trade.json == #"{"ev":"T","sym":"O:SPY251219C00500000","x":301,"p":12.05,"s":3,"c":[209,219],"t":1764772200123,"q":9}"#)
    }
}

import Testing

@testable import OptionsFeed

/// The fast path for Polygon's own layout of a trade (docs/performance.md): it reads
/// exactly that layout, hands everything else to the general scanner, and
/// never decides differently from it.
@Suite("Canonical trade layout")
struct CanonicalTradeTests {
    static let canonical = [
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":[209],"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:BRK.B260320P00000500","x":300,"p":250,"s":1,"t":1764614400001,"q":0}"#,
        #"{"ev":"T","sym":"O:SPXW251219C06000000","x":65,"p":0.05,"s":5000,"c":[],"t":1764614400002,"q":7}"#,
        #"{"ev":"T","sym":"O:QQQ260116P00400000","x":1,"p":12.40,"s":3,"c":[219,227,232,233,14],"t":1764614400003,"q":123456789}"#,
        // Canonical layout, invalid trades: the validation after the read refuses them.
        #"{"ev":"T","sym":"O:SPY251219X00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":0,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":0,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":0,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":99999,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":999999999999999999,"q":42}"#,
    ]

    /// Canonical layout, implausible sizes: an underlying past 10 characters,
    /// more than 32 condition codes (read to the end, not kept).
    static let oversized = [
        #"{"ev":"T","sym":"O:ABCDEFGHIJKL251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:"# + String(repeating: "A", count: 69_985) + #"251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":["# + Array(repeating: "209", count: 33).joined(separator: ",")
            + #"],"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":["# + Array(repeating: "209", count: 70_000).joined(separator: ",")
            + #"],"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":["# + Array(repeating: "209", count: 32).joined(separator: ",")
            + #"],"t":1764614400000,"q":42}"#,
    ]

    /// Events the fast path leaves to the general scanner.
    static let other = [
        #"{"ev":"T", "sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"sym":"O:SPY251219C00650000","ev":"T","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY\u003251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":-1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25e2,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":null,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10.0,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":[70000],"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":[1.5],"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42,"z":1}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":12345678901234567890,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42 }"#,
        #"{"ev":"Q","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42}"#,
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":42"#,
        "{\"ev\":\"T\",\"sym\":\"O:SPY25\u{1}1219C00650000\",\"x\":4,\"p\":1.25,\"s\":10,\"t\":1764614400000,\"q\":42}",
    ]

    func readsCanonically(_ event: String) -> Bool {
        var event = event
        return event.withUTF8 { utf8 in
            var fields = EventFields()
            return CanonicalTrade.read(UnsafeRawBufferPointer(utf8), at: 0, into: &fields) == utf8.count
        }
    }

    /// What the decoder makes of a frame, as comparable text.
    func outcome(_ frame: String) -> String {
        do {
            let decoded = try FrameDecoder().decode(frame, receivedAtMicros: 1_764_614_400_000_000)
            return "\(decoded.trades) \(decoded.invalid.map(\.reason)) \(decoded.unknownEvents)"
        } catch {
            return "error: \(error.reason)"  // not the offset: the spaced frame is longer
        }
    }

    /// The same event with a space after every `,` and `:` outside strings: no longer canonical.
    func spaced(_ event: String) -> String {
        var result = ""
        var inString = false
        for character in event {
            result.append(character)
            if character == "\"" { inString.toggle() }
            if !inString, character == "," || character == ":" { result.append(" ") }
        }
        return result
    }

    @Test("Polygon's layout of a trade is read by the fast path", arguments: canonical + oversized)
    func canonicalIsFast(_ event: String) {
        #expect(readsCanonically(event))
        #expect(!readsCanonically(spaced(event)))
    }

    @Test("any other shape is left to the general scanner", arguments: other)
    func otherIsGeneral(_ event: String) {
        #expect(!readsCanonically(event))
    }

    @Test("both paths decide alike: the same trades, the same rejections", arguments: canonical + oversized + other)
    func sameOutcome(_ event: String) {
        #expect(outcome("[\(event)]") == outcome("[\(spaced(event))]"))
    }

    @Test("a frame of canonical trades decodes to the fields it carries")
    func fields() throws {
        let decoded = try FrameDecoder().decode("[" + Self.canonical[0..<4].joined(separator: ",") + "]")
        #expect(decoded.trades.map(\.symbol.raw) == [
            "O:SPY251219C00650000", "O:BRK.B260320P00000500", "O:SPXW251219C06000000", "O:QQQ260116P00400000",
        ])
        #expect(decoded.trades.map(\.exchange) == [4, 300, 65, 1])
        #expect(decoded.trades.map(\.price) == [1.25, 250, 0.05, 12.4])
        #expect(decoded.trades.map(\.size) == [10, 1, 5000, 3])
        #expect(decoded.trades.map(\.conditions) == [[209], [], [], [219, 227, 232, 233, 14]])
        #expect(decoded.trades.map(\.timestampMs) == [1_764_614_400_000, 1_764_614_400_001, 1_764_614_400_002, 1_764_614_400_003])
        #expect(decoded.trades.map(\.sequence) == [42, 0, 7, 123_456_789])
    }
}

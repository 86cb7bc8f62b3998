import Testing

@testable import OptionsFeed

@Suite("Frame decoder")
struct FrameDecoderTests {
    let decoder = FrameDecoder()

    @Test("a trade event decodes every field exactly")
    func decodesTrade() throws {
        let frame = try decoder.decode(
            #"[{"ev":"T","sym":"O:SPY251219C00650000","x":65,"p":12.34,"s":25,"c":[209,219],"t":1764772200123,"q":987654321}]"#,
            receivedAtMicros: 42)
        let trade = try #require(frame.trades.first)
        #expect(frame.trades.count == 1)
        #expect(trade.symbol.raw == "O:SPY251219C00650000")
        #expect(trade.exchange == 65)
        #expect(trade.price == 12.34)
        #expect(trade.size == 25)
        #expect(trade.conditions == [209, 219])
        #expect(trade.timestampMs == 1_764_772_200_123)
        #expect(trade.sequence == 987_654_321)
        #expect(trade.receivedAtMicros == 42)
        #expect(trade.notional == 12.34 * 25 * 100)
        #expect(frame.invalid.isEmpty && frame.statuses.isEmpty && frame.unknownEvents == 0)
    }

    @Test("prices decode to the same Double as Swift's own parser", arguments: [
        "0.01", "12.34", "0.1", "1e2", "1.5E-3", "123456.789", "3", "99999999.99", "0.3000000000000000444",
        "1.00000000000000000000000001",
    ])
    func pricesAreCorrectlyRounded(_ text: String) throws {
        let frame = try decoder.decode(#"[{"ev":"T","sym":"O:SPY251219C00650000","p":\#(text),"s":1,"t":1,"q":1}]"#)
        #expect(frame.trades.first?.price == Double(text))
    }

    @Test("a missing c means no conditions, and unknown fields of any shape are ignored")
    func missingConditionsAndUnknownFields() throws {
        let frame = try decoder.decode(
            #"[{"ev":"T","extra":{"a":[1,{"b":null}],"c":"x"},"sym":"O:QQQ260116P00400000","flag":true,"p":1.5,"s":3,"t":1700000000000,"q":7,"z":-1.5e-3,"n":null,"u":"\"quoted\\u00e9\""}]"#
        )
        let trade = try #require(frame.trades.first)
        #expect(trade.conditions.isEmpty)
        #expect(trade.exchange == 0)
        #expect(trade.symbol.underlying == "QQQ")
    }

    @Test("several events per frame keep their order, statuses and unknown types included")
    func severalEvents() throws {
        let frame = try decoder.decode(
            """
            [ {"ev":"status","status":"connected","message":"Connected Successfully"},
              {"ev":"T","sym":"O:SPY251219C00650000","x":1,"p":1,"s":1,"t":1,"q":1},
              {"ev":"Q","sym":"O:SPY251219C00650000","bp":1.0},
              {"ev":"T","sym":"O:SPY251219P00650000","x":2,"p":2,"s":2,"t":2,"q":2},
              {"ev":"status","status":"auth_failed","message":"bad \\"key\\""} ]
            """)
        #expect(frame.trades.map(\.sequence) == [1, 2])
        #expect(frame.statuses == [
            FeedStatus(status: "connected", message: "Connected Successfully"),
            FeedStatus(status: "auth_failed", message: #"bad "key""#),
        ])
        // The quote lacks its fields: an invalid quote, kept apart from the trades.
        #expect(frame.invalidEvents.map(\.channel) == [.quotes])
        #expect(frame.invalidEvents.map(\.reason) == [.missingField])
        #expect(frame.notStoredEvents == 1 && frame.unknownEvents == 0)
    }

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        let event: String
        let reason: InvalidTradeReason
        var testDescription: String { "\(reason): \(event)" }
    }

    static let invalidCases: [InvalidCase] = [
        .init(event: #"{"ev":"T","sym":"O:SPY25121C00650000","p":1,"s":1,"t":1,"q":1}"#, reason: .badSymbol),
        .init(event: #"{"ev":"T","p":1,"s":1,"t":1,"q":1}"#, reason: .badSymbol),
        .init(event: #"{"ev":"T","sym":5,"p":1,"s":1,"t":1,"q":1}"#, reason: .badSymbol),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":0,"s":1,"t":1,"q":1}"#, reason: .nonPositivePrice),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":-1.5,"s":1,"t":1,"q":1}"#, reason: .nonPositivePrice),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","s":1,"t":1,"q":1}"#, reason: .nonPositivePrice),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":"1","s":1,"t":1,"q":1}"#, reason: .nonPositivePrice),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":0,"t":1,"q":1}"#, reason: .nonPositiveSize),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":-3,"t":1,"q":1}"#, reason: .nonPositiveSize),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1.5,"t":1,"q":1}"#, reason: .nonPositiveSize),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"q":1}"#, reason: .missingTimestamp),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":null,"q":1}"#, reason: .missingTimestamp),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":0,"q":1}"#, reason: .missingTimestamp),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1}"#, reason: .missingSequence),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1,"q":1,"x":70000}"#, reason: .badField),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1,"q":1,"c":[1,"a"]}"#, reason: .badField),
        .init(event: #"{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1,"q":1,"c":5}"#, reason: .badField),
    ]

    @Test("an invalid trade is reported with its reason and raw JSON, and never becomes a trade", arguments: invalidCases)
    func invalidTrade(_ case_: InvalidCase) throws {
        let frame = try decoder.decode("[\(case_.event),{\"ev\":\"T\",\"sym\":\"O:SPY251219C00650000\",\"p\":1,\"s\":1,\"t\":9,\"q\":9}]")
        #expect(frame.invalid == [InvalidTrade(reason: case_.reason, raw: case_.event)])
        #expect(frame.trades.map(\.sequence) == [9])
    }

    @Test(
        "a malformed frame throws a FrameError and never crashes",
        arguments: [
            "", "   ", "not json", "{", "[", "[{", #"[{"ev":"T""#, #"[{"ev":"T",}]"#, #"[{"ev" "T"}]"#,
            #"[{"ev":"T"}"#, #"[{"ev":"T"}]x"#, #"[{"p":1.}]"#, #"[{"p":-}]"#, #"[{"p":1e}]"#, #"[{"a":tru}]"#,
            #"[{"a":"unterminated}]"#, "[1,2]", #"["x"]"#, "[{}}", #"[{"a":[1,2}]"#, "\"str\"",
        ])
    func malformed(_ text: String) {
        #expect(throws: FrameError.self) { _ = try decoder.decode(text) }
    }

    @Test("events decoded before a fault in the frame are kept")
    func keepsEventsBeforeFault() throws {
        var output = DecodedFrame()
        var text = #"[{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1,"q":1},{"ev":"T","p":"#
        let thrown: FrameError? = text.withUTF8 { utf8 in
            do throws(FrameError) {
                try decoder.decode(UnsafeRawBufferPointer(utf8), receivedAtMicros: 0, into: &output)
                return nil
            } catch { return error }
        }
        #expect(thrown != nil)
        #expect(output.trades.count == 1)
    }

    @Test("an empty array and an empty object are valid frames with no events")
    func emptyFrames() throws {
        #expect(try decoder.decode("[]").trades.isEmpty)
        #expect(try decoder.decode("[{}]").unknownEvents == 1)
    }
}

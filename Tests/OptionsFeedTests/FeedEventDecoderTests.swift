import Testing

@testable import OptionsFeed

private let minuteBarEvent =
    #"{"ev":"AM","sym":"O:SPY251219C00650000","v":120,"av":4500,"op":11.5,"vw":12.0125,"o":12.1,"c":12.2,"h":12.5,"l":11.9,"a":11.98,"z":6,"s":1764772200000,"e":1764772260000}"#
private let quoteEvent =
    #"{"ev":"Q","sym":"O:SPY251219C00650000","bx":302,"ax":313,"bp":12.1,"ap":12.3,"bs":15,"as":40,"t":1764772200123,"q":8812}"#
private let fmvEvent = #"{"ev":"FMV","sym":"O:SPY251219C00650000","fmv":12.215,"t":1764772200123456789}"#

/// One event with one field changed (`nil`: left out), and what the decoder must say of it.
struct InvalidEventCase: Sendable, CustomTestStringConvertible {
    var event: String
    var field: String
    var value: String?
    var channel: FeedSubscriptions.Channel
    var reason: InvalidTradeReason

    init(_ event: String, _ field: String, _ value: String?, _ channel: FeedSubscriptions.Channel, _ reason: InvalidTradeReason) {
        self.event = event
        self.field = field
        self.value = value
        self.channel = channel
        self.reason = reason
    }

    var testDescription: String { "\(channel.rawValue) \(field)=\(value ?? "(left out)") → \(reason.rawValue)" }
}

/// Aggregates, quotes and fair market value on the frame decoder's fast path (docs/design.md §4.4).
@Suite("Frame decoder: every event type")
struct FeedEventDecoderTests {
    let decoder = FrameDecoder()
    static let minuteBar = minuteBarEvent
    static let quote = quoteEvent
    static let fmv = fmvEvent
    static let trade = #"{"ev":"T","sym":"O:SPY251219C00650000","x":65,"p":12.34,"s":25,"c":[209],"t":1764772200123,"q":1}"#

    static let invalidCases: [InvalidEventCase] = [
        .init(minuteBarEvent, "sym", #""O:SPY251219X00650000""#, .minuteAggregates, .badSymbol),
        .init(minuteBarEvent, "vw", nil, .minuteAggregates, .missingField),
        .init(minuteBarEvent, "o", "0", .minuteAggregates, .nonPositivePrice),
        .init(minuteBarEvent, "v", "0", .minuteAggregates, .nonPositiveSize),
        .init(minuteBarEvent, "e", "1764772200000", .minuteAggregates, .badBar),
        .init(minuteBarEvent, "h", "12.15", .minuteAggregates, .badBar),
        .init(minuteBarEvent, "s", nil, .minuteAggregates, .missingTimestamp),
        .init(minuteBarEvent, "e", "-5", .minuteAggregates, .timestampOutOfRange),
        .init(minuteBarEvent, "av", "-1", .minuteAggregates, .badField),
        .init(minuteBarEvent, "z", #""six""#, .minuteAggregates, .badField),
        .init(quoteEvent, "bp", "-0.05", .quotes, .nonPositivePrice),
        .init(quoteEvent, "as", "-1", .quotes, .nonPositiveSize),
        .init(quoteEvent, "bx", "70000", .quotes, .badField),
        .init(quoteEvent, "q", nil, .quotes, .missingSequence),
        .init(quoteEvent, "t", "0", .quotes, .missingTimestamp),
        .init(quoteEvent, "ap", nil, .quotes, .missingField),
        .init(fmvEvent, "fmv", "-1", .fairMarketValue, .nonPositivePrice),
        .init(fmvEvent, "t", "-1", .fairMarketValue, .timestampOutOfRange),
        .init(fmvEvent, "sym", #""SPY""#, .fairMarketValue, .badSymbol),
    ]

    @Test("a minute bar decodes every field: s is the start and c the close here, not a size and conditions")
    func minuteBar() throws {
        let frame = try decoder.decode("[" + Self.minuteBar + "]", receivedAtMicros: 7)
        let bar = try #require(frame.aggregates.first)
        #expect(frame.aggregates.count == 1 && frame.trades.isEmpty && frame.invalid.isEmpty && frame.invalidEvents.isEmpty)
        #expect(bar.symbol.raw == "O:SPY251219C00650000")
        #expect(bar.period == .minute)
        #expect(bar.startMs == 1_764_772_200_000 && bar.endMs == 1_764_772_260_000)
        #expect(bar.open == 12.1 && bar.close == 12.2 && bar.high == 12.5 && bar.low == 11.9)
        #expect(bar.volume == 120 && bar.vwap == 12.0125)
        #expect(bar.dayVolume == 4500 && bar.dayOpen == 11.5 && bar.dayVWAP == 11.98 && bar.averageSize == 6)
        #expect(bar.receivedAtMicros == 7)
        #expect(frame.notStoredEvents == 1 && frame.unknownEvents == 0)
    }

    @Test("a quote and a fair market value decode every field; FMV's t stays in nanoseconds")
    func quoteAndFMV() throws {
        let frame = try decoder.decode("[" + Self.quote + "," + Self.fmv + "]", receivedAtMicros: 9)
        #expect(
            frame.quotes == [
                OptionQuote(
                    symbol: OptionSymbol("O:SPY251219C00650000")!, bidExchange: 302, askExchange: 313, bidPrice: 12.1, askPrice: 12.3,
                    bidSize: 15, askSize: 40, timestampMs: 1_764_772_200_123, sequence: 8812, receivedAtMicros: 9)
            ])
        #expect(
            frame.fairValues == [
                OptionFMV(symbol: OptionSymbol("O:SPY251219C00650000")!, fmv: 12.215, timestampNanos: 1_764_772_200_123_456_789, receivedAtMicros: 9)
            ])
        #expect(frame.fairValues.first?.timestampMicros == 1_764_772_200_123_456)
    }

    @Test("a frame mixing every type is split by type, each in its order, the trade still on its canonical path")
    func mixedFrame() throws {
        let second = Self.minuteBar.replacingOccurrences(of: #""ev":"AM""#, with: #""ev":"A""#)
            .replacingOccurrences(of: "1764772260000", with: "1764772201000")
        let frame = try decoder.decode(
            "[" + [Self.trade, Self.minuteBar, Self.quote, #"{"ev":"status","status":"success","message":"ok"}"#, second, Self.fmv,
                   Self.trade.replacingOccurrences(of: #""q":1"#, with: #""q":2"#), #"{"ev":"LULD","sym":"X"}"#].joined(separator: ",") + "]")
        #expect(frame.trades.map(\.sequence) == [1, 2])
        #expect(frame.aggregates.map(\.period) == [.minute, .second])
        #expect(frame.quotes.count == 1 && frame.fairValues.count == 1 && frame.statuses.count == 1)
        #expect(frame.unknownEvents == 1, "LULD is no options event this service knows")
    }

    @Test("fields in any order, with whitespace and ev last, decode the same as the feed's layout")
    func anyOrder() throws {
        let shuffled = """
            [ { "e" : 1764772260000, "s":1764772200000, "z":6, "a":11.98, "l":11.9, "h":12.5, "c":12.2, "o":12.1, "vw":12.0125,
                "op":11.5, "av":4500, "v":120, "sym":"O:SPY251219C00650000", "extra":{"nested":[1,2]}, "ev":"AM" },
              {"q":8812,"t":1764772200123,"as":40,"bs":15,"ap":12.3,"bp":12.1,"ax":313,"bx":302,"sym":"O:SPY251219C00650000","ev":"Q"},
              {"t":1764772200123456789,"fmv":12.215,"sym":"O:SPY251219C00650000","ev":"FMV"} ]
            """
        let canonical = try decoder.decode("[" + [Self.minuteBar, Self.quote, Self.fmv].joined(separator: ",") + "]")
        let other = try decoder.decode(shuffled)
        #expect(other.aggregates == canonical.aggregates && other.quotes == canonical.quotes && other.fairValues == canonical.fairValues)
        #expect(other.aggregates.count == 1 && other.quotes.count == 1 && other.fairValues.count == 1)
    }

    @Test("each record's feed JSON decodes back to the same record (dead letters and recordings)")
    func roundTrip() throws {
        let frame = try decoder.decode("[" + [Self.minuteBar, Self.quote, Self.fmv].joined(separator: ",") + "]", receivedAtMicros: 3)
        let again = try decoder.decode(
            "[" + (frame.aggregates.map(\.polygonJSON) + frame.quotes.map(\.polygonJSON) + frame.fairValues.map(\.polygonJSON)).joined(separator: ",") + "]",
            receivedAtMicros: 3)
        #expect(again.aggregates == frame.aggregates && again.quotes == frame.quotes && again.fairValues == frame.fairValues)
        let sparse = try decoder.decode(#"[{"ev":"A","sym":"O:SPY251219C00650000","v":1,"vw":1,"o":1,"c":1,"h":1,"l":1,"s":1,"e":2}]"#)
        let bar = try #require(sparse.aggregates.first)
        #expect(bar.dayVolume == nil && bar.dayOpen == nil && bar.dayVWAP == nil && bar.averageSize == nil)
        #expect(try decoder.decode("[" + bar.polygonJSON + "]").aggregates == [bar])
    }

    static func replacing(_ event: String, _ field: String, with value: String?) -> String {
        let pattern = #""\#(field)":"#
        guard let range = event.range(of: pattern) else { return event }
        let valueEnd = event[range.upperBound...].firstIndex(where: { $0 == "," || $0 == "}" })!
        guard let value else {
            // Drop the field and the comma before it.
            let before = event.index(before: range.lowerBound)
            return String(event[..<before]) + String(event[valueEnd...])
        }
        return String(event[..<range.upperBound]) + value + String(event[valueEnd...])
    }

    @Test("an invalid event of any type is kept apart with its type, its reason and its JSON", arguments: invalidCases)
    func invalid(_ case_: InvalidEventCase) throws {
        let (channel, reason) = (case_.channel, case_.reason)
        let bad = Self.replacing(case_.event, case_.field, with: case_.value)
        #expect(bad != case_.event)
        let frame = try decoder.decode("[" + bad + "," + Self.trade + "]")
        #expect(frame.invalidEvents == [InvalidEvent(channel: channel, reason: reason, raw: bad)])
        #expect(frame.aggregates.isEmpty && frame.quotes.isEmpty && frame.fairValues.isEmpty)
        #expect(frame.trades.count == 1 && frame.invalid.isEmpty, "the trade beside it is untouched")
    }

    /// Whether the bar in `text` is in the layout `CanonicalAggregate` reads.
    static func isCanonical(_ text: String) -> Bool {
        var fields = AggregateFields()
        return Array(text.utf8).withUnsafeBytes { CanonicalAggregate.read($0, at: 0, into: &fields) } == text.utf8.count
    }

    @Test(
        "a bar in the feed's layout takes the canonical path, and decodes as the same bar with spaces (the general scanner) does, valid or not",
        arguments: [InvalidEventCase(minuteBarEvent, "none", nil, .minuteAggregates, .badField)] + invalidCases.filter { $0.channel == .minuteAggregates })
    func canonicalAgrees(_ case_: InvalidEventCase) throws {
        let event = Self.replacing(case_.event, case_.field, with: case_.value)
        let spaced = event.replacingOccurrences(of: ",\"", with: ", \"")
        #expect(!Self.isCanonical(spaced))
        let canonical = try decoder.decode("[" + event + "]", receivedAtMicros: 5), general = try decoder.decode("[" + spaced + "]", receivedAtMicros: 5)
        #expect(canonical.aggregates == general.aggregates)
        #expect(canonical.invalidEvents.map(\.reason) == general.invalidEvents.map(\.reason))
        #expect(canonical.aggregates.count + canonical.invalidEvents.count == 1)
    }

    @Test("the canonical path reads A and AM, with or without av, op, a and z; anything else goes to the general scanner")
    func canonicalLayout() {
        #expect(Self.isCanonical(minuteBarEvent))
        #expect(Self.isCanonical(minuteBarEvent.replacingOccurrences(of: #""ev":"AM""#, with: #""ev":"A""#)))
        var sparse = minuteBarEvent
        for field in ["av", "op", "a", "z"] { sparse = Self.replacing(sparse, field, with: nil) }
        #expect(Self.isCanonical(sparse))
        #expect(!Self.isCanonical(Self.replacing(minuteBarEvent, "v", with: "1e2")))
        #expect(!Self.isCanonical(Self.replacing(minuteBarEvent, "o", with: "-1")))
        #expect(!Self.isCanonical(minuteBarEvent.replacingOccurrences(of: #""o":12.1,"c":12.2"#, with: #""c":12.2,"o":12.1"#)))
    }

    @Test("a bid of 0 (no bid) and a crossed quote are quotes as sent; an FMV of 0 is a value")
    func edgeValues() throws {
        let noBid = Self.replacing(Self.replacing(Self.quote, "bp", with: "0"), "bs", with: "0")
        let crossed = Self.replacing(Self.quote, "bp", with: "13")
        let zero = Self.replacing(Self.fmv, "fmv", with: "0")
        let frame = try decoder.decode("[" + [noBid, crossed, zero].joined(separator: ",") + "]")
        #expect(frame.quotes.map(\.bidPrice) == [0, 13])
        #expect(frame.fairValues.map(\.fmv) == [0])
        #expect(frame.invalidEvents.isEmpty)
    }
}

import Testing

@testable import OptionsFeed

/// The bad-input table (docs/guarantees.md, "No crash on any input"): whatever the feed sends, the decoder
/// answers with trades, counted invalid trades or a `FrameError` — never a
/// crash, never a trade the table could not hold.
@Suite("Bad input")
struct BadInputTests {
    let decoder = FrameDecoder()

    /// Decodes `bytes`, also through the fuzzer's probe (which traps on any
    /// trade that breaks an invariant), and returns the frame and whether it threw.
    func decode(_ bytes: [UInt8], probe: Bool = true) -> (frame: DecodedFrame, error: FrameError?) {
        if probe { _ = bytes.withUnsafeBytes { FrameFuzzProbe.run($0) } }
        var frame = DecodedFrame()
        let error: FrameError? = bytes.withUnsafeBytes { raw in
            do throws(FrameError) {
                try decoder.decode(raw, receivedAtMicros: 0, into: &frame)
                return nil
            } catch { return error }
        }
        return (frame, error)
    }

    func decode(_ text: String, probe: Bool = true) -> (frame: DecodedFrame, error: FrameError?) {
        decode(Array(text.utf8), probe: probe)
    }

    static func trade(_ fields: String) -> String { #"[{"ev":"T","sym":"O:SPY251219C00650000",\#(fields)}]"# }

    @Test(
        "malformed JSON throws a FrameError with an offset inside the frame",
        arguments: [
            #"[{"ev":"T","sym":"O:SPY251219C00650000","p":1,"s":1,"t":1,"q":1}"#, #"[{"ev":"T","p":1,,"s":1}]"#,
            #"[{"ev":"T" "p":1}]"#, #"[{'ev':'T'}]"#, #"[{"ev":T}]"#, #"[{"p":01.}]"#, #"[{"p":+1}]"#, #"[{"p":.5}]"#,
            #"[{"p":1e+}]"#, #"[{"p":NaN}]"#, #"[{"p":Infinity}]"#, #"[{"a":"\"#, #"[{"a":"x\"}]"#, "[{\"a\":\"tab\there\"}]",
            #"[{"a":nul}]"#, #"[{"a":[1,2,]}]"#, #"[{"a":{"b"}}]"#, #"[{"ev":"T"}],"#, "[{}] [{}]", "\u{FEFF}[]",
        ])
    func malformedJSON(_ text: String) throws {
        let (frame, error) = decode(text)
        let thrown = try #require(error)
        #expect(thrown.offset >= 0 && thrown.offset <= text.utf8.count)
        #expect(frame.trades.count <= 1, "only events before the fault are kept")
    }

    @Test("a backslash as the frame's last byte is reported inside the frame (found by the fuzzer)")
    func backslashAtEnd() throws {
        let text = #"[{"ev":"T","p":1,"s":0,"t\"#
        let error = try #require(decode(text).error)
        #expect(error.offset == text.utf8.count)
    }

    @Test("truncated or invalid UTF-8 never crashes: text is repaired, a symbol with it is invalid")
    func truncatedUTF8() throws {
        let status = decode(Array(#"[{"ev":"status","status":"caf"#.utf8) + [0xC3] + Array(#"","message":"x"}]"#.utf8))
        #expect(status.error == nil)
        #expect(status.frame.statuses.first?.status == "caf\u{FFFD}")

        let symbol = decode(Array(#"[{"ev":"T","sym":"O:SP"#.utf8) + [0xE2, 0x82] + Array(#"251219C00650000","p":1,"s":1,"t":1,"q":1}]"#.utf8))
        #expect(symbol.frame.trades.isEmpty)
        #expect(symbol.frame.invalid.map(\.reason) == [.badSymbol])

        let cut = decode(Array(#"[{"ev":"status","status":"ok","message":"caf"#.utf8) + [0xC3])
        #expect(cut.error != nil)
        #expect(cut.frame.statuses.isEmpty)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let fields: String
        /// `nil`: the trade is accepted.
        let reason: InvalidTradeReason?
        var testDescription: String { "\(reason?.rawValue ?? "accepted"): \(fields)" }
    }

    static let numberCases: [Case] = [
        // Huge numbers.
        .init(fields: #""p":1e400,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":1e300,"s":100000000,"t":1,"q":1"#, reason: .badField),
        .init(fields: #""p":1.7976931348623157e308,"s":1,"t":1,"q":1"#, reason: .badField),
        .init(fields: #""p":12345678901234567890123456789,"s":1,"t":1,"q":1"#, reason: nil),
        .init(fields: #""p":1,"s":9223372036854775807,"t":1,"q":1"#, reason: nil),
        .init(fields: #""p":1,"s":9223372036854775808,"t":1,"q":1"#, reason: .nonPositiveSize),
        .init(fields: #""p":1,"s":1e30,"t":1,"q":1"#, reason: .nonPositiveSize),
        .init(fields: #""p":1,"s":1,"t":1,"q":18446744073709551616"#, reason: .badField),
        .init(fields: #""p":1,"s":1,"t":1,"q":9223372036854775807"#, reason: nil),
        .init(fields: #""p":1,"s":1,"t":1,"q":1,"x":32768"#, reason: .badField),
        .init(fields: #""p":1,"s":1,"t":1,"q":1,"c":[1,32768]"#, reason: .badField),
        .init(fields: #""p":1,"s":1,"t":0e99999,"q":0e-99999"#, reason: .missingTimestamp),
        .init(fields: #""p":1,"s":1,"t":1,"q":0e99999"#, reason: nil),
        .init(fields: #""p":1e-400,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        // Negative and zero price and size.
        .init(fields: #""p":0,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":-0,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":-0.0,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":0.0000,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":-0.01,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":-1e308,"s":1,"t":1,"q":1"#, reason: .nonPositivePrice),
        .init(fields: #""p":0.01,"s":0,"t":1,"q":1"#, reason: .nonPositiveSize),
        .init(fields: #""p":0.01,"s":-1,"t":1,"q":1"#, reason: .nonPositiveSize),
        .init(fields: #""p":0.01,"s":-9223372036854775808,"t":1,"q":1"#, reason: .nonPositiveSize),
        .init(fields: #""p":0.01,"s":1,"t":1,"q":-1"#, reason: .badField),
        .init(fields: #""p":0.01,"s":1,"t":1,"q":1,"x":-1"#, reason: .badField),
        // Timestamps far in the past and the future (OptionTrade.timestampRange).
        .init(fields: #""p":1,"s":1,"t":-1,"q":1"#, reason: .timestampOutOfRange),
        .init(fields: #""p":1,"s":1,"t":-62135596800000,"q":1"#, reason: .timestampOutOfRange),
        .init(fields: #""p":1,"s":1,"t":-9223372036854775808,"q":1"#, reason: .timestampOutOfRange),
        .init(fields: #""p":1,"s":1,"t":253402300800000,"q":1"#, reason: .timestampOutOfRange),
        .init(fields: #""p":1,"s":1,"t":9223372036854775807,"q":1"#, reason: .timestampOutOfRange),
        .init(fields: #""p":1,"s":1,"t":1764772200123000,"q":1"#, reason: .timestampOutOfRange),  // µs by mistake: year 57 894
        .init(fields: #""p":1,"s":1,"t":253402300799999,"q":1"#, reason: nil),
        .init(fields: #""p":1,"s":1,"t":1,"q":1"#, reason: nil),
        .init(fields: #""p":1,"s":1,"t":1.5,"q":1"#, reason: .missingTimestamp),
        .init(fields: #""p":1,"s":1,"t":"1764772200123","q":1"#, reason: .missingTimestamp),
    ]

    @Test("numbers out of range are invalid trades, never a trade the table could not hold", arguments: numberCases)
    func numbers(_ case_: Case) throws {
        let (frame, error) = decode(Self.trade(case_.fields))
        #expect(error == nil)
        if let reason = case_.reason {
            #expect(frame.trades.isEmpty)
            #expect(frame.invalid.map(\.reason) == [reason])
        } else {
            #expect(frame.invalid.isEmpty)
            #expect(frame.trades.count == 1)
        }
    }

    @Test("a timestamp at either end of the range survives the writers' microsecond arithmetic")
    func timestampRangeFitsMicroseconds() {
        let (product, overflow) = OptionTrade.timestampRange.upperBound.multipliedReportingOverflow(by: 1000)
        #expect(!overflow)
        #expect(product - 946_684_800_000_000 > 0)
    }

    @Test(
        "symbols that almost match are invalid trades",
        arguments: [
            "o:SPY251219C00650000", "O;SPY251219C00650000", "O:spy251219C00650000", "O:SPY251219c00650000",
            "O:SPY251219X00650000", "O:SPY251319C00650000", "O:SPY251232C00650000", "O:SPY250229C00650000",
            "O:SPY250000C00650000", "O:SPY25121C00650000", "O:SPY2512190C0650000", "O:SPY251219C0065000",
            "O:SPY251219C006500000", "O:251219C00650000", "O:SPY251219C0065000A", "O:SP-Y251219C00650000",
            "O:SPY 251219C00650000", " O:SPY251219C00650000", "O:SPY251219C00650000 ", "SPY251219C00650000",
            "O:SPY251219C00650000\u{0}", "O:ＳPY251219C00650000", "O:SPY２51219C00650000", "O:",
            "", "O:SPY251219C-0650000", "O:SPY251219C+0650000",
        ])
    func almostSymbols(_ symbol: String) {
        #expect(OptionSymbol(symbol) == nil)
        let escaped = symbol.replacingOccurrences(of: "\u{0}", with: "\\u0000")
        let (frame, error) = decode(#"[{"ev":"T","sym":"\#(escaped)","p":1,"s":1,"t":1,"q":1}]"#)
        #expect(error == nil)
        #expect(frame.trades.isEmpty)
        #expect(frame.invalid.map(\.reason) == [.badSymbol])
    }

    /// A trade event with `sym` and `c` as given and plausible other fields.
    static func sized(sym: String = "O:SPY251219C00650000", codes: Int? = nil, codeText: String = "209") -> String {
        var event = #"{"ev":"T","sym":"\#(sym)","x":4,"p":1.25,"s":10"#
        if let codes { event += #","c":["# + Array(repeating: codeText, count: codes).joined(separator: ",") + "]" }
        return event + #","t":1764614400000,"q":42}"#
    }

    struct SizeCase: Sendable, CustomTestStringConvertible {
        let name: String
        let event: String
        /// `nil`: the trade is accepted.
        let reason: InvalidTradeReason?
        var testDescription: String { "\(reason?.rawValue ?? "accepted"): \(name)" }
    }

    static let sizeCases: [SizeCase] = [
        .init(name: "10-character underlying", event: sized(sym: "O:ABCDEFGH.J251219C00650000"), reason: nil),
        .init(name: "11-character underlying", event: sized(sym: "O:ABCDEFGHIJK251219C00650000"), reason: .underlyingTooLong),
        .init(name: "12-character underlying", event: sized(sym: "O:ABCDEFGHIJKL251219C00650000"), reason: .underlyingTooLong),
        .init(
            name: "70 000-byte symbol", event: sized(sym: "O:" + String(repeating: "A", count: 69_985) + "251219C00650000"),
            reason: .underlyingTooLong),
        .init(name: "70 000 bytes of no symbol", event: sized(sym: "O:" + String(repeating: "a", count: 69_998)), reason: .badSymbol),
        .init(name: "long underlying, bad date", event: sized(sym: "O:ABCDEFGHIJKL251319C00650000"), reason: .badSymbol),
        .init(name: "32 codes", event: sized(codes: 32), reason: nil),
        .init(name: "33 codes", event: sized(codes: 33), reason: .tooManyConditions),
        .init(name: "70 000 codes", event: sized(codes: 70_000), reason: .tooManyConditions),
        .init(name: "70 000 codes of 32767", event: sized(codes: 70_000, codeText: "32767"), reason: .tooManyConditions),
        .init(name: "70 000 codes, bad symbol", event: sized(sym: "O:SPY251219X00650000", codes: 70_000), reason: .badSymbol),
        .init(
            name: "70 000 codes and a 70 000-byte symbol",
            event: sized(sym: "O:" + String(repeating: "A", count: 69_985) + "251219C00650000", codes: 70_000),
            reason: .underlyingTooLong),
        .init(name: "33 codes, one too big", event: sized(codes: 33, codeText: "32768"), reason: .badField),
    ]

    @Test(
        "an underlying longer than 10 characters or more than 32 condition codes is an invalid trade with its own reason",
        arguments: sizeCases)
    func implausibleSizes(_ case_: SizeCase) {
        let (frame, error) = decode("[" + case_.event + "]", probe: case_.event.utf8.count < 10_000)
        #expect(error == nil)
        if let reason = case_.reason {
            #expect(frame.trades.isEmpty)
            #expect(frame.invalid.map(\.reason) == [reason])
            let raw = frame.invalid.first?.raw ?? ""
            if case_.event.utf8.count <= InvalidTrade.maximumRawBytes {
                #expect(raw == case_.event)
            } else {
                #expect(raw == String(case_.event.utf8.prefix(InvalidTrade.keptHeadBytes))! + "… (\(case_.event.utf8.count) bytes)")
            }
        } else {
            #expect(frame.invalid.isEmpty)
            #expect(frame.trades.count == 1)
        }
        #expect(frame.symbols.count <= 1)
        for trade in frame.trades {
            #expect(trade.conditions.count <= OptionTrade.maximumConditions)
            #expect(trade.symbol.underlying.utf8.count <= OptionSymbol.maximumUnderlyingLength)
        }
    }

    @Test("a dead letter keeps an event of up to 4 KiB whole and the head and size of a longer one")
    func rawBounded() throws {
        let event = Self.sized(codes: 70_000)
        let (frame, _) = decode("[" + event + "]", probe: false)
        let raw = try #require(frame.invalid.first?.raw)
        #expect(raw.utf8.count <= InvalidTrade.maximumRawBytes)
        #expect(raw.hasPrefix(#"{"ev":"T","sym":"O:SPY251219C00650000","#))
        #expect(raw.hasSuffix("… (\(event.utf8.count) bytes)"))
        // A character cut at the bound is repaired, never a broken string.
        let wide = #"{"ev":"T","sym":""# + String(repeating: "é", count: 3000) + #"","p":1,"s":1,"t":1,"q":1}"#
        let cut = try #require(decode("[" + wide + "]", probe: false).frame.invalid.first?.raw)
        #expect(cut.hasSuffix("… (\(wide.utf8.count) bytes)"))
        #expect(cut.utf8.count <= InvalidTrade.maximumRawBytes)
        #expect(cut.contains("\u{FFFD}"), "the é cut at byte 4096 becomes U+FFFD")
    }

    @Test("the bounds are a real root's length with room to spare and far more codes than a trade carries")
    func boundsAreDocumentedNumbers() {
        #expect(OptionSymbol.maximumUnderlyingLength == 10)
        #expect(OptionSymbol.maximumLength == 27)
        #expect(OptionTrade.maximumConditions == 32)
        #expect(InvalidTradeReason.underlyingTooLong.rawValue == "underlying_too_long")
        #expect(InvalidTradeReason.tooManyConditions.rawValue == "too_many_conditions")
        #expect(Set(InvalidTradeReason.allCases.map(\.rawValue)).count == InvalidTradeReason.allCases.count)
    }

    @Test("both decoder paths stop collecting condition codes at the bound and still read the rest of the list")
    func conditionsStopAtTheBound() throws {
        let event = Self.sized(codes: 70_000)
        // The fast path.
        var canonical = EventFields()
        let end: Int? = event.utf8.withContiguousStorageIfAvailable { utf8 in
            CanonicalTrade.read(UnsafeRawBufferPointer(utf8), at: 0, into: &canonical)
        } ?? nil
        #expect(end == event.utf8.count)
        #expect(canonical.conditions.count == OptionTrade.maximumConditions)
        #expect(canonical.tooManyConditions)
        // The general scanner, on the `c` field alone.
        let field = #""c": ["# + Array(repeating: "209", count: 70_000).joined(separator: ", ") + #" ] ,"#
        var general = EventFields()
        let next: UInt8? = try field.utf8.withContiguousStorageIfAvailable { utf8 throws(FrameError) -> UInt8? in
            var scanner = JSONScanner(bytes: UnsafeRawBufferPointer(utf8))
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"))
            scanner.skipWhitespace()
            try general.read(key: key, from: &scanner)
            scanner.skipWhitespace()
            return scanner.peek()
        } ?? nil
        #expect(next == UInt8(ascii: ","), "the whole array was read")
        #expect(general.conditions.count == OptionTrade.maximumConditions)
        #expect(general.tooManyConditions)
        #expect(!general.badField)
    }

    @Test("a symbol longer than any option symbol is refused before it is hashed or kept")
    func longSymbolNotKept() {
        var table = SymbolTable(capacity: 8)
        let long = Array(("O:" + String(repeating: "A", count: 69_985) + "251219C00650000").utf8)
        #expect(long.withUnsafeBytes { table.symbol(utf8: $0) } == nil)
        #expect(long.withUnsafeBytes { OptionSymbol.rejection(utf8: $0) } == .underlyingTooLong)
        #expect(table.count == 0)
    }

    @Test("a symbol written with JSON escapes is not trusted, even when it would spell a valid one")
    func escapedSymbol() {
        let (frame, _) = decode(#"[{"ev":"T","sym":"O:SPY251219C0065000\u0030","p":1,"s":1,"t":1,"q":1}]"#)
        #expect(frame.invalid.map(\.reason) == [.badSymbol])
    }

    @Test("a 10 MB frame of 100 000 trades decodes every one")
    func tenMegabyteFrame() throws {
        let event = #"{"ev":"T","sym":"O:SPY251219C00650000","x":65,"p":12.34,"s":25,"c":[209,219],"t":1764772200123,"q":"#
        var text = "["
        for index in 0..<100_000 {
            if index > 0 { text += "," }
            text += event + "\(index)}"
        }
        text += "]"
        #expect(text.utf8.count > 10_000_000)
        let (frame, error) = decode(text, probe: false)
        #expect(error == nil)
        #expect(frame.trades.count == 100_000)
        #expect(frame.trades.last?.sequence == 99_999)
    }

    /// 2 MB each (twice the feed's 1 MiB frame limit) keeps this table cheap in a debug build;
    /// the 10 MB frame above shows the size itself is no problem.
    @Test(
        "megabytes of one pathological value are a FrameError or ignored, never a crash or a hang",
        arguments: ["[", "{\"a\":", "\"", "0", "9", "[1,", " ", "\\"])
    func megabytesOfOneThing(_ unit: String) {
        let body = String(repeating: unit, count: 2_000_000 / unit.utf8.count)
        for text in ["[{\"ev\":\"Q\",\"x\":" + body + "}]", "[" + body, body] {
            let (frame, _) = decode(text, probe: false)
            #expect(frame.trades.isEmpty)
        }
    }

    @Test("deeply nested unknown values stop at a depth limit instead of overflowing the stack")
    func deepNesting() throws {
        let shallow = "[{\"ev\":\"Q\",\"a\":" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}]"
        #expect(decode(shallow).error == nil)
        let deep = "[{\"ev\":\"Q\",\"a\":" + String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000) + "}]"
        let error = try #require(decode(deep).error)
        #expect(error.reason.contains("nested"))
    }

    @Test("binary frames (random bytes, every byte value) are FrameErrors, never a crash")
    func binaryFrames() {
        var generator = SplitMix64(seed: 9)
        for length in [1, 2, 7, 64, 1000, 65_536] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(decode(bytes).frame.trades.isEmpty)
        }
        #expect(decode(Array(0...255)).error != nil)
        #expect(decode([0x1F, 0x8B, 0x08, 0x00]).error != nil)  // a gzip header
    }

    @Test("a status frame with an unknown status is a status like any other, not an error")
    func unknownStatus() throws {
        let (frame, error) = decode(#"[{"ev":"status","status":"quantum_flux","message":"\u00e9 \"new\""}, {"ev":"status"}]"#)
        #expect(error == nil)
        #expect(frame.statuses == [FeedStatus(status: "quantum_flux", message: #"é "new""#), FeedStatus(status: "", message: "")])
        #expect(frame.trades.isEmpty && frame.invalid.isEmpty)
    }
}

/// A small seeded generator, so "random" bytes are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

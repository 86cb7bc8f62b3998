/// What the frame fuzzer (`Fuzz/FrameDecoderFuzzer.swift`, `scripts/fuzz`)
/// and its corpus regression test run on one input (docs/guarantees.md): the frame
/// decoder and the symbol parser on arbitrary bytes. Every property a decoded
/// trade must have on its way to the table is checked with `precondition`,
/// so a violation is a crash that libFuzzer reports, not a quiet bad row.
public enum FrameFuzzProbe {
    /// What one input amounted to, for the regression test's expectations.
    public struct Outcome: Sendable, Equatable {
        public var trades = 0
        public var invalid = 0
        public var statuses = 0
        public var unknownEvents = 0
        /// The frame threw a `FrameError` (events before the fault still count above).
        public var malformed = false
        /// The whole input parsed as an option symbol.
        public var symbol = false
    }

    public static func run(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var outcome = Outcome()
        let decoder = FrameDecoder()
        var frame = DecodedFrame()
        do throws(FrameError) {
            try decoder.decode(bytes, receivedAtMicros: 1_764_772_200_000_000, into: &frame)
        } catch {
            precondition(error.offset >= 0 && error.offset <= bytes.count, "fault offset outside the frame")
            outcome.malformed = true
        }
        for trade in frame.trades { checkTrade(trade, decoder: decoder) }
        for invalid in frame.invalid {
            precondition(
                invalid.raw.hasPrefix("{") && (invalid.raw.hasSuffix("}") || invalid.raw.hasSuffix(" bytes)")),
                "dead letter is not the event's object")
            precondition(invalid.raw.utf8.count <= 3 * InvalidTrade.maximumRawBytes, "dead letter past its bound")
        }
        outcome.trades = frame.trades.count
        outcome.invalid = frame.invalid.count
        outcome.statuses = frame.statuses.count
        outcome.unknownEvents = frame.unknownEvents

        if let symbol = OptionSymbol(utf8: bytes) {
            checkSymbol(symbol)
            precondition(Array(symbol.raw.utf8) == Array(bytes), "symbol raw text differs from its bytes")
            outcome.symbol = true
        }
        return outcome
    }

    /// A decoded trade can be stored (every column in range, no trap in the
    /// writers' arithmetic) and survives the dead-letter/recording JSON form.
    static func checkTrade(_ trade: OptionTrade, decoder: FrameDecoder) {
        precondition(trade.price.isFinite && trade.price > 0, "price")
        precondition(trade.size > 0, "size")
        precondition(trade.notional.isFinite, "notional")
        precondition(OptionTrade.timestampRange.contains(trade.timestampMs), "timestamp")
        precondition(trade.sequence >= 0, "sequence")
        precondition(trade.exchange >= 0, "exchange")
        precondition(trade.conditions.count <= OptionTrade.maximumConditions, "conditions")
        checkSymbol(trade.symbol)
        let again: DecodedFrame
        do throws(FrameError) {
            again = try decoder.decode("[" + trade.polygonJSON + "]", receivedAtMicros: trade.receivedAtMicros)
        } catch {
            preconditionFailure("a decoded trade's own JSON does not decode: \(error)")
        }
        precondition(again.trades == [trade], "a decoded trade's own JSON decodes to another trade")
    }

    /// The parts of a parsed symbol are what the pattern of docs/design.md §4.2 says, and it parses again to itself.
    static func checkSymbol(_ symbol: OptionSymbol) {
        let utf8 = Array(symbol.raw.utf8)
        precondition(utf8.count >= 18 && utf8[0] == 0x4F && utf8[1] == 0x3A, "prefix")
        precondition(utf8.count <= OptionSymbol.maximumLength, "length")
        precondition(!symbol.underlying.isEmpty && symbol.underlying.utf8.count == utf8.count - 17, "underlying")
        precondition(symbol.underlying.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E })
        precondition((0...99_999_999).contains(symbol.strikeThousandths), "strike")
        precondition((2000...2099).contains(symbol.expiry.year), "expiry")
        precondition(OptionSymbol(symbol.raw) == symbol, "symbol does not parse to itself")
    }
}

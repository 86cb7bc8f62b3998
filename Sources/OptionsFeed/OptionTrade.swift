/// One options trade as the feed reports it (Polygon event `T`), validated.
public struct OptionTrade: Sendable, Hashable {
    public var symbol: OptionSymbol
    /// Exchange id (`x`); 0 when the feed left it out.
    public var exchange: Int16
    /// Price per share (`p`), > 0.
    public var price: Double
    /// Contracts traded (`s`), > 0.
    public var size: Int64
    /// Trade conditions (`c`); empty when absent.
    public var conditions: [Int16]
    /// Exchange timestamp (`t`), Unix milliseconds, > 0.
    public var timestampMs: Int64
    /// Sequence number (`q`): with `sym` and `t` the trade's natural key.
    public var sequence: Int64
    /// When this process received the frame, Unix microseconds.
    public var receivedAtMicros: Int64

    public init(
        symbol: OptionSymbol, exchange: Int16, price: Double, size: Int64, conditions: [Int16],
        timestampMs: Int64, sequence: Int64, receivedAtMicros: Int64 = 0
    ) {
        self.symbol = symbol
        self.exchange = exchange
        self.price = price
        self.size = size
        self.conditions = conditions
        self.timestampMs = timestampMs
        self.sequence = sequence
        self.receivedAtMicros = receivedAtMicros
    }

    /// The exchange timestamps (`t`, Unix ms) a trade may carry: 1970-01-01
    /// up to 9999-12-31T23:59:59.999Z. Beyond it the µs arithmetic of the
    /// writers (`t × 1000`) would overflow and four-digit ISO years end; a
    /// feed never sends such a time, so one is a corrupt event, not a trade.
    public static let timestampRange: ClosedRange<Int64> = 1...253_402_300_799_999

    /// The most condition codes a trade may carry: 32. A real options trade
    /// carries none to a handful, so more is a corrupt or hostile event; an
    /// unbounded list would be held in memory and written at any length (the
    /// spool stores the count in 16 bits). The decoder stops collecting codes
    /// past this and rejects the trade as `tooManyConditions`.
    public static let maximumConditions = 32

    /// Notional value in USD: price × size × 100 shares per contract (docs/design.md §4.2).
    public var notional: Double { Self.notional(price: price, size: size) }

    /// The notional of `size` contracts at `price` (the backfill's REST trades are kept by it too).
    @inlinable public static func notional(price: Double, size: Int64) -> Double { price * Double(size) * 100 }
}

/// Why a trade event was rejected before it could reach the table.
public enum InvalidTradeReason: String, Error, Sendable, Hashable, CaseIterable {
    case badSymbol = "bad_symbol"
    case nonPositivePrice = "non_positive_price"
    case nonPositiveSize = "non_positive_size"
    case missingTimestamp = "missing_timestamp"
    case missingSequence = "missing_sequence"
    /// `t` is negative or after 9999-12-31 (`OptionTrade.timestampRange`).
    case timestampOutOfRange = "timestamp_out_of_range"
    case badField = "bad_field"
    /// The symbol would be an option symbol but for its underlying, longer
    /// than `OptionSymbol.maximumUnderlyingLength`.
    case underlyingTooLong = "underlying_too_long"
    /// `c` holds more than `OptionTrade.maximumConditions` codes.
    case tooManyConditions = "too_many_conditions"
    /// A field the event type needs is not there (a bar's `vw`, a quote's `bp`, …).
    case missingField = "missing_field"
    /// A bar that is not one: its end not after its start, its high below its low, or open or close outside them.
    case badBar = "bad_bar"
}

/// A trade event that failed validation, with the raw JSON object for the dead-letter path.
public struct InvalidTrade: Sendable, Hashable {
    public var reason: InvalidTradeReason
    /// The event's JSON, or for one longer than `maximumRawBytes` its first
    /// `keptHeadBytes` bytes followed by `… (N bytes)`: at most
    /// `maximumRawBytes` in all, so that a dead letter stores it whole, size included.
    public var raw: String

    /// The most bytes of an event kept as its dead letter's raw text: 4 KiB.
    /// A real trade event is about 100 bytes, so only a corrupt or hostile
    /// one is cut; dead letters wait in memory while the database is down
    /// (up to 10 000 of them), and whole events of up to a frame's size
    /// (1 MiB) each could hold gigabytes there.
    public static let maximumRawBytes = 4096

    /// What is kept of a longer event: room is left for the `… (N bytes)` suffix
    /// (at most 28 bytes) and for a cut character repaired as U+FFFD.
    public static let keptHeadBytes = maximumRawBytes - 64

    /// The raw text kept for an event's bytes: all of them, or the first
    /// `maximumRawBytes` (a character cut in two becomes U+FFFD) and the size.
    static func raw(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.count > maximumRawBytes else { return String(decoding: bytes, as: UTF8.self) }
        let head = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<keptHeadBytes]), as: UTF8.self)
        return head + "… (\(bytes.count) bytes)"
    }
}

/// A feed status event (`{"ev":"status","status":…,"message":…}`).
public struct FeedStatus: Sendable, Hashable {
    public var status: String
    public var message: String

    public init(status: String, message: String) {
        self.status = status
        self.message = message
    }
}

extension OptionTrade {
    /// The trade as a Polygon `T` event, for dead letters and recordings.
    public var polygonJSON: String {
        var text = #"{"ev":"T","sym":"\#(symbol.raw)","x":\#(exchange),"p":\#(price),"s":\#(size)"#
        if !conditions.isEmpty { text += #","c":[\#(conditions.map(String.init).joined(separator: ","))]"# }
        return text + #","t":\#(timestampMs),"q":\#(sequence)}"#
    }
}

/// Whether an option is a call or a put (the `C`/`P` of the OCC symbol).
public enum OptionType: UInt8, Sendable, Hashable {
    case call = 0x43  // "C"
    case put = 0x50  // "P"

    /// The one-letter code stored in `options_trades.option_type`.
    public var code: String { self == .call ? "C" : "P" }
}

/// A calendar date without time zone, as an option's expiry.
public struct ExpiryDate: Sendable, Hashable, CustomStringConvertible {
    // Stored compactly (8 bytes, not 24; docs/performance.md).
    private let storedYear: Int16
    private let storedMonth: UInt8
    private let storedDay: UInt8
    /// Days since 2000-01-01, the epoch of PostgreSQL's binary `date`; worked out once, not per row written.
    public let daysSince2000: Int32

    public var year: Int { Int(storedYear) }
    public var month: Int { Int(storedMonth) }
    public var day: Int { Int(storedDay) }

    /// Validates the components; `nil` for a day that does not exist (e.g. Feb 30)
    /// or a year outside 1…9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= ExpiryDate.daysInMonth(year: year, month: month)
        else {
            return nil
        }
        self.storedYear = Int16(year)
        self.storedMonth = UInt8(month)
        self.storedDay = UInt8(day)
        self.daysSince2000 = Int32(
            CivilTime.daysFromCivil(year: year, month: month, day: day) - CivilTime.daysFromCivil(year: 2000, month: 1, day: 1))
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// An OCC options symbol as the feed writes it: `O:SPY251219C00650000` is the
/// SPY call expiring 2025-12-19 with strike 650.000 (docs/design.md §4.2:
/// `^O:([A-Z0-9.]+)(\d{6})([CP])(\d{8})$`, strike × 1000 in 8 digits), with
/// an underlying of at most `maximumUnderlyingLength` characters.
///
/// One reference to its parsed parts, shared by every trade on the contract:
/// a trade is 64 bytes instead of 112, and copying one retains one object
/// instead of the symbol's strings (docs/performance.md: the buffer's memory and the
/// decoder's retain/release traffic).
public struct OptionSymbol: Sendable, Hashable, CustomStringConvertible {
    // Inlinable accessors: the COPY encoder reads every part of every row from
    // another module, and an opaque getter there retained and released the
    // object per part (the encoder's rows/s fell from 5.0M to 3.1M).
    @usableFromInline
    final class Parts: Sendable {
        @usableFromInline let raw: String
        @usableFromInline let underlying: String
        @usableFromInline let expiry: ExpiryDate
        @usableFromInline let type: OptionType
        @usableFromInline let strikeThousandths: Int64

        init(raw: String, underlying: String, expiry: ExpiryDate, type: OptionType, strikeThousandths: Int64) {
            self.raw = raw
            self.underlying = underlying
            self.expiry = expiry
            self.type = type
            self.strikeThousandths = strikeThousandths
        }
    }

    @usableFromInline let parts: Parts

    /// The symbol exactly as received, e.g. `O:SPY251219C00650000`.
    @inlinable public var raw: String { parts.raw }
    /// The underlying ticker, e.g. `SPY`.
    @inlinable public var underlying: String { parts.underlying }
    @inlinable public var expiry: ExpiryDate { parts.expiry }
    @inlinable public var type: OptionType { parts.type }
    /// Strike price × 1000, exact (the 8 digits of the symbol).
    @inlinable public var strikeThousandths: Int64 { parts.strikeThousandths }

    /// Every part is read from the raw text, so the text decides equality.
    public static func == (lhs: OptionSymbol, rhs: OptionSymbol) -> Bool {
        lhs.parts === rhs.parts || lhs.parts.raw == rhs.parts.raw
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(parts.raw)
    }

    public var description: String { raw }

    /// The strike in dollars (for display; storage uses `strikeThousandths`).
    public var strike: Double { Double(strikeThousandths) / 1000 }

    /// Parses a symbol; `nil` when it does not match the OCC form.
    public init?(_ text: String) {
        var text = text
        let parsed: OptionSymbol? = text.withUTF8 { OptionSymbol(utf8: UnsafeRawBufferPointer($0)) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The longest underlying (root) a symbol may have: 10 characters. Real
    /// OCC/OPRA option roots are at most 6 (the root field of the 21-character
    /// OSI symbol, e.g. `SPXW`, `BRKB1`); Polygon spells a few with a dot
    /// (`BRK.B`). 10 leaves room for such spellings while a symbol stays short:
    /// a longer underlying is no real contract, only a corrupt or hostile event,
    /// and an unbounded one would be carried (and held in the decoder's
    /// contract table) at any size.
    public static let maximumUnderlyingLength = 10

    /// The longest symbol accepted, in bytes: `O:` + `maximumUnderlyingLength`
    /// + YYMMDD + C/P + 8 strike digits = 27.
    public static let maximumLength = 2 + maximumUnderlyingLength + suffixLength

    /// YYMMDD (6) + C/P (1) + strike (8).
    static let suffixLength = 15

    /// Parses a symbol from its UTF-8 bytes; `nil` when it does not match
    /// (including an underlying longer than `maximumUnderlyingLength`).
    public init?(utf8 bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= Self.maximumLength, let layout = Self.layout(bytes) else { return nil }
        parts = Parts(
            raw: String(decoding: bytes, as: UTF8.self),
            underlying: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[2..<layout.underlyingEnd]), as: UTF8.self),
            expiry: layout.expiry, type: layout.type, strikeThousandths: layout.strikeThousandths)
    }

    /// Why these bytes are no symbol (they must be none): `underlyingTooLong`
    /// when they would be one but for the underlying's length, else `badSymbol`.
    /// Off the hot path: only for a rejected event.
    public static func rejection(utf8 bytes: UnsafeRawBufferPointer) -> InvalidTradeReason {
        bytes.count > maximumLength && layout(bytes) != nil ? .underlyingTooLong : .badSymbol
    }

    /// The OCC form without the length bound: `O:`, an underlying of
    /// `[A-Z0-9.]`, a real date, C/P and 8 strike digits. Allocates nothing.
    private static func layout(
        _ bytes: UnsafeRawBufferPointer
    ) -> (underlyingEnd: Int, expiry: ExpiryDate, type: OptionType, strikeThousandths: Int64)? {
        // "O:" + underlying (≥ 1) + YYMMDD (6) + C/P (1) + strike (8)
        let count = bytes.count
        guard count >= 2 + 1 + suffixLength, bytes[0] == 0x4F, bytes[1] == 0x3A else { return nil }
        let underlyingEnd = count - suffixLength
        for index in 2..<underlyingEnd {
            let byte = bytes[index]
            let isUpper = byte >= 0x41 && byte <= 0x5A
            let isDigit = byte >= 0x30 && byte <= 0x39
            guard isUpper || isDigit || byte == 0x2E else { return nil }
        }
        func digits(_ start: Int, _ length: Int) -> Int? {
            var value = 0
            for index in start..<(start + length) {
                let byte = bytes[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let yy = digits(underlyingEnd, 2), let mm = digits(underlyingEnd + 2, 2),
            let dd = digits(underlyingEnd + 4, 2),
            let expiry = ExpiryDate(year: 2000 + yy, month: mm, day: dd),
            let type = OptionType(rawValue: bytes[underlyingEnd + 6]),
            let strike = digits(underlyingEnd + 7, 8)
        else { return nil }
        return (underlyingEnd, expiry, type, Int64(strike))
    }
}

/// The bytes of a JSON string value, without its quotes.
struct StringToken {
    var start: Int
    var length: Int
    /// The string holds a backslash escape, so its bytes are not its text.
    var hasEscape: Bool
}

/// A JSON number as scanned: decimal mantissa and power of ten, converted
/// only when a field asks for it.
struct JSONNumber {
    var mantissa: UInt64
    var exponent: Int
    var negative: Bool
    /// Digits were dropped (more than 19 significant): the fast conversions don't apply.
    var lossy: Bool
    /// Where the text is in the frame, for the slow path (`Double(String)`).
    var start: Int
    var end: Int

    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The nearest `Double`. Exact (correctly rounded) on the fast path: a
    /// mantissa below 2^53 times or divided by an exact power of ten ≤ 10^22.
    func double(in bytes: UnsafeRawBufferPointer) -> Double? {
        if !lossy, mantissa <= (1 << 53), exponent >= -22, exponent <= 22 {
            let value = Double(mantissa)
            let scaled = exponent >= 0 ? value * Self.powersOfTen[exponent] : value / Self.powersOfTen[-exponent]
            return negative ? -scaled : scaled
        }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
    }

    /// The exact integer, `nil` when the number has a fraction or does not fit.
    var int64: Int64? {
        guard !lossy else { return nil }
        // Zero with any exponent ("0e99999") is zero: without this the loops below run once per power of ten.
        guard mantissa != 0 else { return 0 }
        var value = mantissa
        var exponent = exponent
        while exponent > 0 {
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = product
            exponent -= 1
        }
        while exponent < 0 {
            guard value % 10 == 0 else { return nil }
            value /= 10
            exponent += 1
        }
        if negative {
            guard value <= UInt64(Int64.max) + 1 else { return nil }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        guard value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }
}

/// A cursor over a frame's bytes with the few JSON scanning steps the decoder needs.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func error(_ reason: String) -> FrameError {
        FrameError(offset: index, reason: reason)
    }

    @inline(__always)
    func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(FrameError) {
        guard peek() == byte else { throw error("expected \(Character(Unicode.Scalar(byte)))") }
        index += 1
    }

    @inline(__always)
    mutating func scanString() throws(FrameError) -> StringToken {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
        index += 1
        let start = index
        var hasEscape = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let token = StringToken(start: start, length: index - start, hasEscape: hasEscape)
                index += 1
                return token
            }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                // A backslash as the last byte must not move the cursor past the end.
                index = min(index + 2, bytes.count)
                continue
            }
            if byte < 0x20 { throw error("control character in a string") }
            index += 1
        }
        throw error("unterminated string")
    }

    @inline(__always)
    mutating func scanNumber() throws(FrameError) -> JSONNumber {
        let start = index
        var number = JSONNumber(mantissa: 0, exponent: 0, negative: false, lossy: false, start: start, end: start)
        if peek() == UInt8(ascii: "-") {
            number.negative = true
            index += 1
        }
        var digits = 0
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        guard isDigit(peek()) else { throw error("expected a digit") }
        while let byte = peek(), isDigit(byte) {
            if number.mantissa < 1_000_000_000_000_000_000 {
                number.mantissa = number.mantissa * 10 + UInt64(byte - 0x30)
                if number.mantissa > 0 { digits += 1 }
            } else {
                number.exponent += 1
                number.lossy = true
            }
            index += 1
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard isDigit(peek()) else { throw error("expected a digit after the decimal point") }
            while let byte = peek(), isDigit(byte) {
                if number.mantissa < 1_000_000_000_000_000_000 {
                    number.mantissa = number.mantissa * 10 + UInt64(byte - 0x30)
                    number.exponent -= 1
                } else if byte != 0x30 {
                    number.lossy = true
                }
                index += 1
            }
        }
        if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            index += 1
            var negativeExponent = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negativeExponent = sign == UInt8(ascii: "-")
                index += 1
            }
            guard isDigit(peek()) else { throw error("expected a digit in the exponent") }
            var value = 0
            while let byte = peek(), isDigit(byte) {
                if value < 100_000 { value = value * 10 + Int(byte - 0x30) }
                index += 1
            }
            number.exponent += negativeExponent ? -value : value
        }
        number.end = index
        return number
    }

    /// How deep unknown values may nest. Skipping recurses once per level, so
    /// without a limit a frame of a million `[` would overflow the stack.
    static let maximumDepth = 256

    /// Skips any JSON value (used for unknown fields), checking its shape.
    mutating func skipValue(depth: Int = 0) throws(FrameError) {
        guard depth < Self.maximumDepth else { throw error("values nested deeper than \(Self.maximumDepth)") }
        guard let byte = peek() else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if peek() == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if close == UInt8(ascii: "}") {
                    _ = try scanString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = peek() else { throw error("unterminated container") }
                index += 1
                if next == close { return }
                guard next == UInt8(ascii: ",") else { throw error("expected , in a container") }
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            throw error("unexpected byte \(byte)")
        }
    }

    private mutating func literal(_ word: StaticString) throws(FrameError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("truncated literal") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw error("bad literal")
        }
        index += count
    }

    @inline(__always)
    func equals(_ token: StringToken, _ word: StaticString) -> Bool {
        guard !token.hasEscape, token.length == word.utf8CodeUnitCount else { return false }
        for offset in 0..<token.length where bytes[token.start + offset] != word.utf8Start[offset] {
            return false
        }
        return true
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The text of a string token with JSON escapes resolved, leniently
    /// (status messages only: off the hot path).
    func unescapedText(_ token: StringToken) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.start + token.length])
        guard token.hasEscape else { return String(decoding: raw, as: UTF8.self) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(token.length)
        // The token's closing quote follows its bytes in the frame.
        var index = token.start
        try? JSONString.unescape(bytes, from: &index, into: &utf8, .lenient)
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// The layout Polygon writes every options trade in: the same keys in the
/// same order, no whitespace, plain numbers (docs/design.md §5.1):
///
///     {"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":1.25,"s":10,"c":[209],"t":1764614400000,"q":42}
///
/// (`c` may be left out). Reading that layout directly, keys compared a word
/// at a time and digits in a tight loop, takes about half the time of the
/// general scanner's key dispatch (docs/performance.md: the decoder's 3M trades/s). Any
/// other shape (another order, whitespace, escapes, `null`, a sign, an
/// exponent, more fields) is not read here: `read` returns `nil` and the
/// general scanner reads the event from its start. Both fill the same
/// `EventFields`, so a trade is validated the same way whichever path read it.
enum CanonicalTrade {
    /// Reads the trade event starting at `start` (its `{`) into `fields`;
    /// returns the index after its `}`, or `nil` (with `fields` untouched) when
    /// the event is not in the canonical layout.
    @inline(__always)
    static func read(_ bytes: UnsafeRawBufferPointer, at start: Int, into fields: inout EventFields) -> Int? {
        var cursor = Cursor(bytes: bytes, index: start)
        guard cursor.skip(word: Self.head0, word: Self.head1, byte: UInt8(ascii: "\"")) else { return nil }
        guard let symbol = cursor.plainString() else { return nil }
        guard cursor.skipKey(UInt8(ascii: "x")), let x = cursor.decimal(fraction: false),
            cursor.skipKey(UInt8(ascii: "p")), let p = cursor.decimal(fraction: true),
            cursor.skipKey(UInt8(ascii: "s")), let s = cursor.decimal(fraction: false)
        else { return nil }
        var conditions = ConditionLists.Codes()
        var tooManyConditions = false
        if cursor.skipKey(UInt8(ascii: "c")) {
            guard cursor.skip(UInt8(ascii: "[")) else { return nil }
            if !cursor.skip(UInt8(ascii: "]")) {
                while true {
                    guard let number = cursor.decimal(fraction: false), let code = Int16(exactly: number.mantissa) else { return nil }
                    // Past the bound the codes are read, not kept: the trade is refused (as by the general scanner).
                    if conditions.count < OptionTrade.maximumConditions {
                        conditions.append(code)
                    } else {
                        tooManyConditions = true
                    }
                    if cursor.skip(UInt8(ascii: "]")) { break }
                    guard cursor.skip(UInt8(ascii: ",")) else { return nil }
                }
            }
        }
        guard cursor.skipKey(UInt8(ascii: "t")), let t = cursor.decimal(fraction: false),
            cursor.skipKey(UInt8(ascii: "q")), let q = cursor.decimal(fraction: false),
            cursor.skip(UInt8(ascii: "}"))
        else { return nil }
        fields.ev = StringToken(start: start + 7, length: 1, hasEscape: false)
        fields.sym = symbol
        fields.x = x
        fields.p = p
        fields.s = s
        fields.t = t
        fields.q = q
        fields.conditions = conditions
        fields.tooManyConditions = tooManyConditions
        return cursor.index
    }

    /// `{"ev":"T` and `","sym":` as little-endian words; a `"` follows.
    static let head0 = word(#"{"ev":"T"#)
    static let head1 = word(#"","sym":"#)

    private static func word(_ text: StaticString) -> UInt64 {
        precondition(text.utf8CodeUnitCount == 8)
        var value: UInt64 = 0
        for offset in (0..<8).reversed() { value = value << 8 | UInt64(text.utf8Start[offset]) }
        return value
    }

    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var index: Int

        @inline(__always)
        mutating func skip(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        @inline(__always)
        mutating func skip(word first: UInt64, word second: UInt64, byte: UInt8) -> Bool {
            guard index + 17 <= bytes.count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) == first.littleEndian,
                bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self) == second.littleEndian,
                bytes[index + 16] == byte
            else { return false }
            index += 17
            return true
        }

        /// `,"K":` for the one-letter key `K`.
        @inline(__always)
        mutating func skipKey(_ key: UInt8) -> Bool {
            guard index + 5 <= bytes.count else { return false }
            let expected = UInt32(0x2C) | UInt32(0x22) << 8 | UInt32(key) << 16 | UInt32(0x22) << 24
            guard bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self) == expected.littleEndian,
                bytes[index + 4] == UInt8(ascii: ":")
            else { return false }
            index += 5
            return true
        }

        /// The rest of a string whose opening quote was read, and its closing
        /// quote: eight bytes at a time while no quote, backslash or control
        /// byte is among them. `nil` for an escape or a control byte (the
        /// general scanner decides what those are).
        @inline(__always)
        mutating func plainString() -> StringToken? {
            let start = index
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= bytes.count {
                let chunk = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let quotes = chunk ^ (ones &* 0x22)
                let backslashes = chunk ^ (ones &* 0x5C)
                // A byte flags where it is 0 (the quote / backslash) or below 0x20; the lowest flag is exact.
                let flags =
                    ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes | (chunk &- ones &* 0x20) & ~chunk) & highs
                if flags == 0 {
                    index += 8
                    continue
                }
                index += flags.trailingZeroBitCount / 8
                return closeString(from: start)
            }
            while index < bytes.count, bytes[index] >= 0x20, bytes[index] != UInt8(ascii: "\\"), bytes[index] != UInt8(ascii: "\"") {
                index += 1
            }
            return closeString(from: start)
        }

        @inline(__always)
        private mutating func closeString(from start: Int) -> StringToken? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            defer { index += 1 }
            return StringToken(start: start, length: index - start, hasEscape: false)
        }

        /// Reads digits while there are, appending each to `mantissa` (which
        /// wraps past 19 digits: the caller refuses more than 18); how many.
        @inline(__always)
        private mutating func appendDigits(to mantissa: inout UInt64) -> Int {
            let start = index
            while index < bytes.count {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { break }
                mantissa = mantissa &* 10 &+ UInt64(digit)
                index += 1
            }
            return index - start
        }

        /// Digits, and with `fraction` an optional `.` and digits: at most 18
        /// significant digits, no sign, no exponent (those go to the general scanner).
        @inline(__always)
        mutating func decimal(fraction: Bool) -> JSONNumber? {
            let start = index
            var mantissa: UInt64 = 0
            var digits = appendDigits(to: &mantissa)
            guard digits > 0 else { return nil }
            var exponent = 0
            if fraction, index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                let fractionDigits = appendDigits(to: &mantissa)
                guard fractionDigits > 0 else { return nil }
                exponent = -fractionDigits
                digits += fractionDigits
            }
            guard digits <= 18 else { return nil }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: ".") { return nil }
            return JSONNumber(mantissa: mantissa, exponent: exponent, negative: false, lossy: false, start: start, end: index)
        }
    }
}

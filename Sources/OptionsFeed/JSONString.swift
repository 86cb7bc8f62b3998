/// The one JSON string escaper and unescaper: recordings, log lines, the
/// feed's status messages and the requests sent to the feed all go through
/// it, so a character survives the same way everywhere.
///
/// Both directions work on bytes with no allocation beyond the output the
/// caller passes in, because recording and replay run them for every frame.
public enum JSONString {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `bytes` as the inside of a JSON string: runs of plain bytes are
    /// copied in one go, `"` `\` and bytes below 0x20 are escaped, and every
    /// other byte, UTF-8 or not, is copied as it is.
    public static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            runStart = index + 1
            out.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            default:
                out.append(UInt8(ascii: "u"))
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart...])) }
    }

    /// `text` as a JSON string literal, quotes included. Text with nothing to
    /// escape (nearly all of it) is copied without a byte buffer.
    public static func quoted(_ text: String) -> String {
        var contiguous = text
        let escaped: [UInt8]? = contiguous.withUTF8 { utf8 in
            guard utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return nil }
            var out: [UInt8] = [UInt8(ascii: "\"")]
            out.reserveCapacity(utf8.count + utf8.count / 8 + 2)
            appendEscaped(UnsafeRawBufferPointer(utf8), to: &out)
            out.append(UInt8(ascii: "\""))
            return out
        }
        guard let escaped else { return "\"" + text + "\"" }
        return String(decoding: escaped, as: UTF8.self)
    }

    /// Why a string body could not be unescaped, and where (the byte offset
    /// of the fault in the buffer given).
    public struct Fault: Error, Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// The buffer ends before the closing quote.
            case unterminated
            /// A raw byte below 0x20, which JSON requires escaped.
            case controlCharacter
            /// The buffer ends inside a `\` escape.
            case truncatedEscape
            /// A `\` followed by a letter JSON does not define.
            case unknownEscape
            /// `\u` not followed by four hex digits.
            case badHex
            /// A `\uD800`…`\uDBFF` not followed by a `\uDC00`…`\uDFFF`.
            case loneHighSurrogate
            /// A `\uDC00`…`\uDFFF` with no high half before it.
            case loneLowSurrogate
        }

        public var kind: Kind
        public var offset: Int
    }

    /// How the unescaper treats what JSON does not allow.
    public enum Strictness: Sendable {
        /// Every fault throws (recordings: a damaged line is reported, not half-used).
        case strict
        /// Nothing throws but a missing closing quote (feed status messages,
        /// which are text for people): a lone surrogate becomes U+FFFD, an
        /// unknown escape `\q` becomes its letter, a `\u` without four hex
        /// digits is dropped, raw control bytes are kept.
        case lenient
    }

    /// Unescapes the body of a JSON string starting at `index` (just after
    /// the opening quote) into `out` as UTF-8, through the closing quote,
    /// leaving `index` just past it. `\uXXXX` escapes, surrogate pairs
    /// included, become the UTF-8 of their scalar.
    public static func unescape(
        _ bytes: UnsafeRawBufferPointer, from index: inout Int, into out: inout [UInt8], _ strictness: Strictness
    ) throws(Fault) {
        let strict = strictness == .strict
        var runStart = index
        while true {
            guard index < bytes.count else { throw Fault(kind: .unterminated, offset: index) }
            let byte = bytes[index]
            if byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 || !strict {
                index += 1
                continue
            }
            if runStart < index { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            guard byte == UInt8(ascii: "\\") else { throw Fault(kind: .controlCharacter, offset: index) }
            let escapeStart = index
            index += 1
            guard index < bytes.count else { throw Fault(kind: strict ? .truncatedEscape : .unterminated, offset: escapeStart) }
            let code = bytes[index]
            index += 1
            switch code {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(code)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard let high = hex4(bytes, at: index) else {
                    if strict { throw Fault(kind: index + 4 <= bytes.count ? .badHex : .truncatedEscape, offset: escapeStart) }
                    break
                }
                index += 4
                var scalar = high
                if (0xD800...0xDBFF).contains(high) {
                    if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                        let low = hex4(bytes, at: index + 2), (0xDC00...0xDFFF).contains(low)
                    {
                        index += 6
                        scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        if strict { throw Fault(kind: .loneHighSurrogate, offset: escapeStart) }
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(high) {
                    if strict { throw Fault(kind: .loneLowSurrogate, offset: escapeStart) }
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
            default:
                if strict { throw Fault(kind: .unknownEscape, offset: escapeStart) }
                out.append(code)
            }
            runStart = index
        }
    }

    /// The value of the four hex digits at `index`, `nil` when there are not four.
    private static func hex4(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

/// A metadata value that is already JSON (the health report inside its log
/// line): written as is in JSON format, as text in text format.
public struct RawJSON: CustomStringConvertible, Sendable {
    public let json: String
    public init(_ json: String) { self.json = json }
    public var description: String { json }
}

import OptionsFeed

/// A cursor over a REST response body with the steps the page parsers need:
/// objects and arrays read field by field without closures or dictionaries,
/// numbers converted only where a field asks, unknown values skipped with
/// their shape checked. A fault at the end of the bytes is `truncated`, any
/// other `malformed`, so the retry rule can tell a cut body from a bad one.
struct RESTJSONReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    /// How deep skipped values may nest: skipping recurses once per level, and
    /// a body of a million `[` must not overflow the stack. The pages are 3 deep.
    static let maximumDepth = 64

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Runs a page parser over an array's bytes.
    static func parse<Page>(
        _ bytes: [UInt8], _ parser: (UnsafeRawBufferPointer) throws(RESTPageError) -> Page
    ) throws(RESTPageError) -> Page {
        let result: Result<Page, RESTPageError> = bytes.withUnsafeBytes { raw in
            do throws(RESTPageError) { return .success(try parser(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func fault(_ reason: String) -> RESTPageError {
        index >= bytes.count ? .truncated(offset: bytes.count) : .malformed(offset: index, reason: reason)
    }

    @inline(__always)
    func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    /// After the top-level value: only whitespace may follow.
    mutating func expectEnd() throws(RESTPageError) {
        skipWhitespace()
        guard index == bytes.count else { throw fault("trailing bytes after the JSON") }
    }

    // MARK: Containers

    /// Consumes `{`; `true` when a field follows, `false` for `{}`.
    mutating func openObject() throws(RESTPageError) -> Bool {
        try open(UInt8(ascii: "{"), UInt8(ascii: "}"), "expected an object")
    }

    /// Consumes `[`; `true` when an element follows, `false` for `[]`.
    mutating func openArray() throws(RESTPageError) -> Bool {
        try open(UInt8(ascii: "["), UInt8(ascii: "]"), "expected an array")
    }

    private mutating func open(_ opening: UInt8, _ closing: UInt8, _ reason: String) throws(RESTPageError) -> Bool {
        skipWhitespace()
        guard peek() == opening else { throw fault(reason) }
        index += 1
        skipWhitespace()
        guard peek() == closing else { return true }
        index += 1
        return false
    }

    /// A field's key (the bytes between its quotes) and its `:`; the cursor
    /// is then at the value, which the caller must read or skip.
    mutating func key() throws(RESTPageError) -> Range<Int> {
        skipWhitespace()
        let key = try stringBytes()
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw fault("expected : after a key") }
        index += 1
        skipWhitespace()
        return key
    }

    /// After a value in an object: `true` at `,` (another field follows), `false` at `}`.
    mutating func nextField() throws(RESTPageError) -> Bool {
        try next(UInt8(ascii: "}"))
    }

    /// After a value in an array: `true` at `,` (another element follows), `false` at `]`.
    mutating func nextElement() throws(RESTPageError) -> Bool {
        try next(UInt8(ascii: "]"))
    }

    private mutating func next(_ closing: UInt8) throws(RESTPageError) -> Bool {
        skipWhitespace()
        guard let byte = peek() else { throw fault("unterminated container") }
        if byte == UInt8(ascii: ",") {
            index += 1
            skipWhitespace()
            return true
        }
        guard byte == closing else { throw fault("expected , or \(Character(Unicode.Scalar(closing)))") }
        index += 1
        return false
    }

    /// Whether a key's bytes are `word` (keys with escapes never match: the API writes none).
    @inline(__always)
    func isKey(_ key: Range<Int>, _ word: StaticString) -> Bool {
        guard key.count == word.utf8CodeUnitCount else { return false }
        var offset = 0
        for index in key {
            guard bytes[index] == word.utf8Start[offset] else { return false }
            offset += 1
        }
        return true
    }

    // MARK: Values

    /// Consumes a `null` if one is next.
    mutating func skipNull() throws(RESTPageError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// A JSON string with its escapes resolved.
    mutating func string() throws(RESTPageError) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw fault("expected a string") }
        index += 1
        var utf8: [UInt8] = []
        do {
            try JSONString.unescape(bytes, from: &index, into: &utf8, .strict)
        } catch {
            index = error.offset
            throw self.error(for: error)
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    private func error(for fault: JSONString.Fault) -> RESTPageError {
        switch fault.kind {
        case .unterminated, .truncatedEscape: .truncated(offset: bytes.count)
        default: .malformed(offset: fault.offset, reason: "bad string escape or control character")
        }
    }

    /// The bytes of a string between its quotes, escapes unresolved (keys).
    private mutating func stringBytes() throws(RESTPageError) -> Range<Int> {
        guard peek() == UInt8(ascii: "\"") else { throw fault("expected a string") }
        index += 1
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return start..<(index - 1)
            case UInt8(ascii: "\\"): index = min(index + 2, bytes.count)
            case 0..<0x20: throw fault("control character in a string")
            default: index += 1
            }
        }
        throw fault("unterminated string")
    }

    /// An integer written as one (`-`? digits): a fraction or exponent is the
    /// wrong type, more than fits `Int64` is out of range.
    mutating func int64() throws(RESTPageError) -> Int64 {
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        guard let first = peek(), isDigit(first) else { throw fault("expected an integer") }
        // Accumulated negatively so Int64.min fits.
        var value: Int64 = 0
        while let byte = peek(), isDigit(byte) {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else { throw fault("integer out of range") }
            value = next
            index += 1
        }
        if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            throw fault("expected an integer, found a fraction or exponent")
        }
        if negative { return value }
        guard value != .min else { throw fault("integer out of range") }
        return -value
    }

    /// A number as the nearest `Double` (correctly rounded, like the feed's
    /// decoder, so one decimal gives one bit pattern on both paths); a number
    /// beyond `Double`'s range is out of range.
    mutating func double() throws(RESTPageError) -> Double {
        let range = try numberBytes()
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            index = range.lowerBound
            throw fault("number out of range")
        }
        return value
    }

    /// The bytes of a number in JSON's grammar: `-`? digits (`.` digits)? ([eE] [+-]? digits)?.
    private mutating func numberBytes() throws(RESTPageError) -> Range<Int> {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        try digits("expected a number")
        if peek() == UInt8(ascii: ".") {
            index += 1
            try digits("expected a digit after the decimal point")
        }
        if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            try digits("expected a digit in the exponent")
        }
        return start..<index
    }

    private mutating func digits(_ reason: String) throws(RESTPageError) {
        guard let first = peek(), isDigit(first) else { throw fault(reason) }
        while let byte = peek(), isDigit(byte) { index += 1 }
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// Skips any value (an unknown field), checking its shape.
    mutating func skipValue(depth: Int = 0) throws(RESTPageError) {
        guard depth < Self.maximumDepth else { throw fault("values nested deeper than \(Self.maximumDepth)") }
        guard let byte = peek() else { throw fault("expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try stringBytes()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try numberBytes()
        case UInt8(ascii: "{"):
            var more = try openObject()
            while more {
                _ = try key()
                try skipValue(depth: depth + 1)
                more = try nextField()
            }
        case UInt8(ascii: "["):
            var more = try openArray()
            while more {
                try skipValue(depth: depth + 1)
                more = try nextElement()
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw fault("unexpected byte \(byte)")
        }
    }

    private mutating func literal(_ word: StaticString) throws(RESTPageError) {
        for offset in 0..<word.utf8CodeUnitCount {
            guard peek() == word.utf8Start[offset] else { throw fault("bad literal") }
            index += 1
        }
    }
}

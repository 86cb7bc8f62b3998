import OptionsFeed

/// A recording line that is not `{"rx":<Unix µs>,"frame":"<text>"}`.
public struct RecordedLineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset of the fault in the line.
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// One line of a feed recording (docs/design.md §5.6 `--record`): `{"rx":<receive time,
/// Unix µs>,"frame":"<the WebSocket text frame as received>"}` and a newline.
///
/// The frame is embedded as a JSON *string*, so the file is plain JSON lines
/// any tool can read, while the bytes of the frame survive exactly: the
/// encoder escapes only what JSON requires (`"`, `\`, control characters)
/// and copies every other byte, UTF-8 or not, as it is. Both directions work
/// on bytes with no Foundation and no per-line allocation beyond the output
/// buffer, because recording runs for every frame of a live feed.
public enum RecordedFrameLine {
    private static let prefix = Array(#"{"rx":"#.utf8)
    private static let middle = Array(#","frame":""#.utf8)
    private static let suffix = Array("\"}\n".utf8)

    /// Receive times a replay accepts (Unix µs, 1970-01-01 … 9999-12-31, the
    /// range of trade timestamps): the line format reads any 64-bit `rx`, but
    /// a time outside this would overflow the arithmetic downstream (the COPY
    /// encoder's epoch shift, commit-lag and pacing offsets) and trap.
    public static let receiveTimeRange: ClosedRange<Int64> = 0...253_402_300_799_999_999

    /// Appends the line for `frame`, received at `receivedAtMicros`, to `line`.
    public static func encode(receivedAtMicros: Int64, frame: UnsafeRawBufferPointer, into line: inout [UInt8]) {
        line.reserveCapacity(line.count + frame.count + frame.count / 8 + 48)
        line.append(contentsOf: prefix)
        appendDecimal(receivedAtMicros, to: &line)
        line.append(contentsOf: middle)
        JSONString.appendEscaped(frame, to: &line)
        line.append(contentsOf: suffix)
    }

    /// Convenience for tests and tools: the line for a frame given as text.
    public static func encode(receivedAtMicros: Int64, frame: String) -> [UInt8] {
        var line: [UInt8] = []
        var frame = frame
        frame.withUTF8 { encode(receivedAtMicros: receivedAtMicros, frame: UnsafeRawBufferPointer($0), into: &line) }
        return line
    }

    private static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digitCount = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digitCount += 1
        }
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digitCount))
        var position = out.count - 1
        repeat {
            out[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
    }

    /// Convenience for tests and tools: reads a line given as bytes (without its newline).
    public static func decode(line: [UInt8]) throws(RecordedLineError) -> (receivedAtMicros: Int64, frame: [UInt8]) {
        var frame: [UInt8] = []
        let result: Result<Int64, RecordedLineError> = line.withUnsafeBytes { bytes in
            do throws(RecordedLineError) {
                return .success(try decode(bytes, frame: &frame))
            } catch {
                return .failure(error)
            }
        }
        return (try result.get(), frame)
    }

    /// Reads one line (without its newline): returns the receive time and
    /// replaces `frame` with the frame's bytes. Whitespace between tokens and
    /// either key order are accepted; anything else is an error, so a torn or
    /// edited line is reported, not half-used.
    public static func decode(_ line: UnsafeRawBufferPointer, frame: inout [UInt8]) throws(RecordedLineError) -> Int64 {
        var index = 0
        func fail(_ reason: String) -> RecordedLineError { RecordedLineError(offset: index, reason: reason) }
        func skipWhitespace() {
            while index < line.count, line[index] == 0x20 || line[index] == 0x09 || line[index] == 0x0D { index += 1 }
        }
        func expect(_ byte: UInt8, _ what: String) throws(RecordedLineError) {
            skipWhitespace()
            guard index < line.count else { throw fail("line ends before \(what)") }
            guard line[index] == byte else { throw fail("expected \(what)") }
            index += 1
        }

        var receivedAt: Int64?
        var sawFrame = false
        try expect(UInt8(ascii: "{"), "{")
        while true {
            try expect(UInt8(ascii: "\""), "a key")
            let keyStart = index
            while index < line.count, line[index] != UInt8(ascii: "\"") { index += 1 }
            guard index < line.count else { throw fail("line ends inside a key") }
            let key = UnsafeRawBufferPointer(rebasing: line[keyStart..<index])
            index += 1
            try expect(UInt8(ascii: ":"), ":")
            skipWhitespace()
            if key.elementsEqual("rx".utf8) {
                guard receivedAt == nil else { throw fail("rx appears twice") }
                receivedAt = try decodeInteger(line, &index)
            } else if key.elementsEqual("frame".utf8) {
                guard !sawFrame else { throw fail("frame appears twice") }
                guard index < line.count, line[index] == UInt8(ascii: "\"") else {
                    throw index < line.count ? fail("frame must be a string") : fail("line ends before the frame")
                }
                index += 1
                frame.removeAll(keepingCapacity: true)
                try decodeString(line, &index, into: &frame)
                sawFrame = true
            } else {
                throw fail("unknown key \"\(String(decoding: key, as: UTF8.self))\"")
            }
            skipWhitespace()
            guard index < line.count else { throw fail("line ends inside the object") }
            let next = line[index]
            index += 1
            if next == UInt8(ascii: "}") { break }
            guard next == UInt8(ascii: ",") else { throw fail("expected , or }") }
        }
        skipWhitespace()
        guard index == line.count else { throw fail("trailing bytes after the object") }
        guard let receivedAt else { throw fail("no rx") }
        guard sawFrame else { throw fail("no frame") }
        return receivedAt
    }

    private static func decodeInteger(_ line: UnsafeRawBufferPointer, _ index: inout Int) throws(RecordedLineError) -> Int64 {
        let start = index
        var negative = false
        if index < line.count, line[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        let digitsStart = index
        while index < line.count, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(line[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw RecordedLineError(offset: start, reason: "rx does not fit in 64 bits") }
            value = sum
            index += 1
        }
        guard index > digitsStart else { throw RecordedLineError(offset: start, reason: "rx must be a whole number") }
        return negative ? -value : value
    }

    /// Unescapes the frame's string body (the opening quote already read)
    /// into `out`, through the closing quote, strictly: a damaged line is
    /// reported, not half-used.
    private static func decodeString(_ line: UnsafeRawBufferPointer, _ index: inout Int, into out: inout [UInt8]) throws(RecordedLineError) {
        do throws(JSONString.Fault) {
            try JSONString.unescape(line, from: &index, into: &out, .strict)
        } catch {
            let reason = switch error.kind {
            case .unterminated: "line ends inside the frame (truncated?)"
            case .controlCharacter: "unescaped control character in the frame"
            case .truncatedEscape: "line ends inside an escape"
            case .unknownEscape: "unknown escape"
            case .badHex: "bad \\u escape"
            case .loneHighSurrogate: "high surrogate without its low half"
            case .loneLowSurrogate: "lone low surrogate"
            }
            throw RecordedLineError(offset: error.offset, reason: reason)
        }
    }
}

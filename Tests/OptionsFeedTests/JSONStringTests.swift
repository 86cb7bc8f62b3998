import Testing

@testable import OptionsFeed

@Suite("JSON string escaper and unescaper")
struct JSONStringTests {
    func escaped(_ text: String) -> String {
        var out: [UInt8] = []
        var text = text
        text.withUTF8 { JSONString.appendEscaped(UnsafeRawBufferPointer($0), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Unescapes `bytes` from its start: the text, or the fault, and where the cursor stopped.
    func run(_ bytes: [UInt8], _ strictness: JSONString.Strictness) -> (text: String?, fault: JSONString.Fault?, index: Int) {
        var out: [UInt8] = []
        var index = 0
        let fault = bytes.withUnsafeBytes { raw -> JSONString.Fault? in
            do throws(JSONString.Fault) {
                try JSONString.unescape(raw, from: &index, into: &out, strictness)
                return nil
            } catch {
                return error
            }
        }
        return (fault == nil ? String(decoding: out, as: UTF8.self) : nil, fault, index)
    }

    /// The text of a string body (its closing quote added); the fault otherwise.
    func unescaped(_ body: String, _ strictness: JSONString.Strictness) -> String? {
        let bytes = Array((body + "\"").utf8)
        let result = run(bytes, strictness)
        if result.fault == nil { #expect(result.index == bytes.count, "the cursor stops just past the closing quote") }
        return result.text
    }

    func fault(_ body: String) -> JSONString.Fault? {
        run(Array((body + "\"").utf8), .strict).fault
    }

    @Test("an emoji written as a surrogate pair unescapes to the emoji, in both modes")
    func surrogatePair() {
        #expect(unescaped(#"smile \ud83d\ude00!"#, .strict) == "smile 😀!")
        #expect(unescaped(#"smile \uD83D\uDE00!"#, .lenient) == "smile 😀!")
    }

    @Test("text round-trips through the escaper and the unescaper", arguments: [
        "plain", "quote \" and backslash \\", "new\nline\ttab\r", "\u{0}\u{1}\u{8}\u{C}\u{1F}", "é日😀🚀", "",
    ])
    func roundTrip(_ text: String) {
        #expect(unescaped(escaped(text), .strict) == text)
        #expect(unescaped(String(JSONString.quoted(text).dropFirst().dropLast()), .strict) == text)
    }

    @Test("control characters, quotes and backslashes are escaped; other bytes are copied as they are")
    func escapes() {
        #expect(escaped("a\"b\\c\nd\re\tf\u{8}g\u{C}h\u{1}i\u{1F}") == #"a\"b\\c\nd\re\tf\bg\fh\u0001i\u001f"#)
        #expect(escaped("é😀/") == "é😀/")
        #expect(JSONString.quoted("ok") == "\"ok\"")
        #expect(JSONString.quoted("a\u{2}") == #""a\u0002""#)
    }

    @Test("a lone surrogate becomes U+FFFD when lenient and is refused when strict", arguments: [
        (#"x\ud83dy"#, "x\u{FFFD}y", JSONString.Fault.Kind.loneHighSurrogate),
        (#"x\ude00y"#, "x\u{FFFD}y", .loneLowSurrogate),
        (#"\ud83d\u0041"#, "\u{FFFD}A", .loneHighSurrogate),
        (#"\ud83d"#, "\u{FFFD}", .loneHighSurrogate),
    ])
    func loneSurrogate(_ body: String, _ lenient: String, _ fault: JSONString.Fault.Kind) {
        #expect(unescaped(body, .lenient) == lenient)
        #expect(self.fault(body) == JSONString.Fault(kind: fault, offset: body.hasPrefix("x") ? 1 : 0))
    }

    @Test("strict unescaping refuses what JSON does not allow; lenient keeps what it can", arguments: [
        (#"a\qb"#, "aqb", JSONString.Fault.Kind.unknownEscape),
        (#"a\u12zzb"#, "a12zzb", .badHex),
        ("a\u{1}b", "a\u{1}b", .controlCharacter),
    ])
    func faults(_ body: String, _ lenient: String, _ fault: JSONString.Fault.Kind) {
        #expect(unescaped(body, .lenient) == lenient)
        #expect(self.fault(body) == JSONString.Fault(kind: fault, offset: 1))
    }

    @Test("a body without its closing quote is unterminated")
    func unterminated() {
        #expect(run(Array("abc".utf8), .lenient).fault == JSONString.Fault(kind: .unterminated, offset: 3))
        #expect(run(Array("ab\\".utf8), .strict).fault == JSONString.Fault(kind: .truncatedEscape, offset: 2))
    }

    @Test("a status message with an escaped emoji decodes to the emoji, not two U+FFFD")
    func statusMessageEmoji() throws {
        let frame = try FrameDecoder().decode(#"[{"ev":"status","status":"ok","message":"hi \ud83d\ude00 \"x\""}]"#)
        #expect(frame.statuses.first?.message == "hi 😀 \"x\"")
    }
}

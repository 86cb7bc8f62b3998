import Foundation
import Testing

@testable import IngestPipeline

@Suite("Recorded frame line codec")
struct RecordedFrameLineTests {
    /// Encodes `frame` and decodes the line back (without its newline).
    func roundTrip(_ frame: [UInt8], rx: Int64 = 1_764_772_200_123_456) throws -> (rx: Int64, frame: [UInt8], line: [UInt8]) {
        var line: [UInt8] = []
        frame.withUnsafeBytes { RecordedFrameLine.encode(receivedAtMicros: rx, frame: $0, into: &line) }
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil, "one frame is one line")
        let decoded = try RecordedFrameLine.decode(line: Array(line.dropLast()))
        return (decoded.receivedAtMicros, decoded.frame, line)
    }

    @Test("a feed frame is embedded as a JSON string: quotes escaped, nothing else touched")
    func exactEncoding() {
        let line = RecordedFrameLine.encode(receivedAtMicros: 1_764_772_200_123_456, frame: #"[{"ev":"T","sym":"O:SPY251219C00650000","p":1.5}]"#)
        #expect(String(decoding: line, as: UTF8.self) == #"{"rx":1764772200123456,"frame":"[{\"ev\":\"T\",\"sym\":\"O:SPY251219C00650000\",\"p\":1.5}]"}"# + "\n")
    }

    @Test(
        "every frame comes back byte for byte with its receive time",
        arguments: [
            #"[{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":6.5,"s":20,"c":[209],"t":1764772200120,"q":981}]"#,
            "", "plain text", #"quotes " and "" more"#, #"back\slash \\ and \" and \n as text"#,
            "unicode: é ü ß 日本語 ∑ 🚀 👩‍👩‍👧", "tab\tnew\nline\rcarriage\u{8}bs\u{c}ff", "nul\u{0}and\u{1}\u{1f}\u{7f}",
            #"[{"ev":"status","message":"a \"quoted\" \\ message"}]"#, "/ slashes / stay", "\u{2028}\u{2029} line separators",
        ])
    func roundTripText(_ text: String) throws {
        let result = try roundTrip(Array(text.utf8))
        #expect(result.rx == 1_764_772_200_123_456)
        #expect(String(decoding: result.frame, as: UTF8.self) == text)
        // The line is JSON any tool can read, and it says the same.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.line)) as? [String: Any])
        #expect(object["frame"] as? String == text)
        #expect((object["rx"] as? NSNumber)?.int64Value == 1_764_772_200_123_456)
    }

    @Test("every byte value survives, including control characters and bytes that are not UTF-8")
    func everyByte() throws {
        let frame = (0...255).map(UInt8.init) + (0...255).reversed().map(UInt8.init)
        let result = try roundTrip(frame)
        #expect(result.frame == frame)
        #expect(!result.line.dropLast().contains(where: { $0 < 0x20 }), "no raw control character in a line")
    }

    @Test("receive times of any size and sign come back", arguments: [Int64(0), 1, 9, 10, 1_764_772_200_123_456, Int64.max, -1, Int64.min + 1])
    func receiveTimes(_ rx: Int64) throws {
        #expect(try roundTrip(Array("[]".utf8), rx: rx).rx == rx)
    }

    func decode(_ line: String) throws(RecordedLineError) -> (Int64, String) {
        let decoded = try RecordedFrameLine.decode(line: Array(line.utf8))
        return (decoded.receivedAtMicros, String(decoding: decoded.frame, as: UTF8.self))
    }

    @Test("a frame read into a reused buffer replaces what the buffer held")
    func reusedBuffer() throws {
        var frame = Array("left over from a longer frame".utf8)
        let line = Array(#"{"rx":5,"frame":"[]"}"#.utf8)
        let rx = try line.withUnsafeBytes { bytes in try RecordedFrameLine.decode(bytes, frame: &frame) }
        #expect(rx == 5)
        #expect(frame == Array("[]".utf8))
    }

    @Test("lines written by other tools: whitespace, key order, \\u escapes with surrogate pairs, \\/")
    func lenientReading() throws {
        #expect(try decode(#"  { "frame" : "[]" , "rx" : 7 }  "# + "\r") == (7, "[]"))
        #expect(try decode(#"{"rx":1,"frame":"\u00e9\u65E5\ud83d\ude80\/\u0000"}"#) == (1, "é日🚀/\u{0}"))
    }

    @Test(
        "a line that is not a recorded frame is refused with a reason",
        arguments: [
            ("", "line ends before {"), (#"{"rx":1,"frame":"[{\"ev\":\"T\""#, "line ends inside the frame"),
            (#"{"rx":1,"frame":"abc"} trailing"#, "trailing bytes"), (#"{"rx":"1","frame":"abc"}"#, "whole number"),
            (#"{"frame":"abc"}"#, "no rx"), (#"{"rx":1}"#, "no frame"), (#"{"rx":1,"frame":"a\qb"}"#, "unknown escape"),
            (#"{"rx":1,"frame":"\ud83d"}"#, "surrogate"), (#"{"rx":1,"frame":"\u12"}"#, "escape"),
            ("{\"rx\":1,\"frame\":\"a\u{1}b\"}", "control character"), (#"{"rx":1,"frame":"a","other":2}"#, "unknown key"),
            (#"{"rx":99999999999999999999,"frame":"a"}"#, "64 bits"), (#"{"rx":1,"frame":[1]}"#, "must be a string"),
            (#"{"rx":1,"rx":2,"frame":"a"}"#, "twice"), (#"{"rx":1 "frame":"a"}"#, "expected , or }"), ("garbage", "expected {"),
        ])
    func refusals(_ line: String, _ reason: String) {
        #expect {
            _ = try decode(line)
        } throws: { error in
            (error as? RecordedLineError)?.reason.contains(reason) == true
        }
    }
}

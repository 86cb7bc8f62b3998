import Foundation
import IngestPipeline
import OptionsFeed
import Testing

@testable import IngestService

/// `ingest-options replay` on recordings that are corrupt or hostile: every
/// bad line is counted and skipped, the good lines around it are replayed,
/// and nothing traps.
@Suite("Replay reader: hostile lines")
struct ReplayHostileLineTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-hostile-\(UUID().uuidString)")

    static let trade = "[\(ReplayServiceTests.trade(q: 7))]"
    static var escapedTrade: String { String(ReplayServiceTests.line(0, trade).dropFirst(#"{"rx":0,"frame":""#.count).dropLast(3)) }

    /// A bad line and what the reader counts it as.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }

        init(_ name: String, _ text: String) {
            self.name = name
            bytes = Array(text.utf8)
        }

        init(_ name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    static let cases: [Case] = [
        Case("rx of Int64.max", #"{"rx":9223372036854775807,"frame":"\#(escapedTrade)"}"#),
        Case("rx of -Int64.max", #"{"rx":-9223372036854775807,"frame":"\#(escapedTrade)"}"#),
        Case("rx negative", #"{"rx":-1,"frame":"\#(escapedTrade)"}"#),
        Case("rx after 9999", #"{"rx":253402300800000000,"frame":"\#(escapedTrade)"}"#),
        Case("rx past 64 bits", #"{"rx":123456789012345678901234567890,"frame":"\#(escapedTrade)"}"#),
        Case("rx just past Int64.max", #"{"rx":9223372036854775808,"frame":"\#(escapedTrade)"}"#),
        Case("rx Int64.min", #"{"rx":-9223372036854775808,"frame":"\#(escapedTrade)"}"#),
        Case("rx a fraction", #"{"rx":1.5,"frame":"\#(escapedTrade)"}"#),
        Case("rx an exponent", #"{"rx":1e18,"frame":"\#(escapedTrade)"}"#),
        Case("rx not a number", #"{"rx":"soon","frame":"\#(escapedTrade)"}"#),
        Case("rx a lone minus", #"{"rx":-,"frame":"\#(escapedTrade)"}"#),
        Case("rx null", #"{"rx":null,"frame":"\#(escapedTrade)"}"#),
        Case("rx missing", #"{"frame":"\#(escapedTrade)"}"#),
        Case("rx without a value", #"{"rx":"#),
        Case("frame missing", #"{"rx":1764772200000000}"#),
        Case("cut inside the frame", #"{"rx":1764772200000000,"frame":"[{\"ev\":\"T"#),
        Case("invalid UTF-8 in a key", bytes: Array(#"{"r"#.utf8) + [0xFF, 0xC3] + Array(#"":1,"frame":"[]"}"#.utf8)),
        Case("invalid UTF-8 outside the object", bytes: [0xC3, 0x28, 0xA0, 0xA1]),
        Case("a NUL byte", bytes: Array(#"{"rx":1764772200000000,"frame":"a"#.utf8) + [0] + Array(#""}"#.utf8)),
        Case("10 MB of garbage", String(repeating: "x", count: 10 << 20)),
        Case("10 MB rx", #"{"rx":"# + String(repeating: "9", count: 10 << 20) + #","frame":"[]"}"#),
    ]

    @Test("a hostile or corrupt line is counted as corrupt and skipped; the lines around it are replayed", arguments: cases)
    func hostileLine(_ bad: Case) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("feed.jsonl").path
        let before = ReplayServiceTests.line(1_764_772_200_000_001, "[\(ReplayServiceTests.trade(q: 1))]")
        let after = ReplayServiceTests.line(1_764_772_200_000_003, "[\(ReplayServiceTests.trade(q: 3))]")
        let bytes = Array(before.utf8) + bad.bytes + [UInt8(ascii: "\n")] + Array(after.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let pipeline = ReplayServiceTests.Pipeline()
        try await pipeline.run([path], schedule: ReplaySchedule(speed: 1000))
        let trades = pipeline.trades
        #expect(trades.map(\.sequence) == [1, 3])
        #expect(trades.allSatisfy { RecordedFrameLine.receiveTimeRange.contains($0.receivedAtMicros) })
        #expect(pipeline.counters.corruptLines.load(ordering: .relaxed) == 1)
        #expect(pipeline.counters.lines.load(ordering: .relaxed) == 3)
        #expect(pipeline.counters.finished)
    }

    @Test("the same lines as the torn last line of a recording are counted as truncated")
    func hostileLastLine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("feed.jsonl").path
        let bytes = Array(ReplayServiceTests.line(1_764_772_200_000_001, "[\(ReplayServiceTests.trade(q: 1))]").utf8)
            + Array(#"{"rx":-9223372036854775807,"frame":"\#(Self.escapedTrade)"}"#.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let pipeline = ReplayServiceTests.Pipeline()
        try await pipeline.run([path])
        #expect(pipeline.trades.map(\.sequence) == [1])
        #expect(pipeline.counters.truncatedLines.load(ordering: .relaxed) == 1)
    }

    @Test("pacing is total: any two receive times and any speed give an offset, never a trap", arguments: [
        (Int64.max, Int64.min, 1.0), (Int64.min, Int64.max, 1.0), (Int64.max, 0, 1e-300), (253_402_300_799_999_999, 0, 0.001),
        (5, 5, Double.leastNonzeroMagnitude), (10, 0, Double.infinity),
    ])
    func pacingIsTotal(_ receivedAt: Int64, _ first: Int64, _ speed: Double) {
        let offset = ReplaySchedule(speed: speed).offset(of: receivedAt, first: first)
        #expect(offset != nil)
        #expect(offset! >= .zero)
    }
}

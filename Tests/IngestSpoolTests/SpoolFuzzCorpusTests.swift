import Foundation
import Testing

@testable import IngestSpool

/// Replays the spool fuzzer's kept corpus (`Fuzz/corpus/spool-segment/`)
/// through the fuzzer's own entry point (`SpoolFuzzProbe`), in the normal
/// test suite (docs/guarantees.md).
@Suite("Fuzz corpus: spool segments")
struct SpoolFuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/spool-segment")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    @Test("the corpus is there and small")
    func corpusIsKept() throws {
        #expect(Self.files.count >= 15 && Self.files.count <= 200)
    }

    /// What each seed was made to show (`Fuzz/corpus/spool-segment/`, written by hand).
    static let expected: [String: SpoolFuzzProbe.Outcome] = [
        "segment-one-record.bin": .init(batches: 1, corruptRecords: 0, payloadRecords: nil),
        "segment-three-records.bin": .init(batches: 3, corruptRecords: 0, payloadRecords: nil),
        "segment-torn-tail.bin": .init(batches: 1, corruptRecords: 1, payloadRecords: nil),
        "segment-torn-header.bin": .init(batches: 1, corruptRecords: 1, payloadRecords: nil),
        "segment-bad-crc-middle.bin": .init(batches: 2, corruptRecords: 1, payloadRecords: nil),
        "segment-huge-length.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-bad-timestamp.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-negative-received.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-nan-price.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-count-lies.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-trailing-bytes.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-bad-symbol.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-zero-trades.bin": .init(batches: 1, corruptRecords: 0, payloadRecords: nil),
        "payload-one-trade.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: 1, payloadKind: .trade),
        "payload-count-lies.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "payload-zero-size.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "empty.bin": .init(batches: 0, corruptRecords: 0, payloadRecords: nil),
        // Formats 3 (aggregates), 4 (quotes) and 5 (fair values), and batches of every kind in one segment.
        "payload-aggregates.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: 2, payloadKind: .aggregate),
        "payload-quotes.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: 2, payloadKind: .quote),
        "payload-fair-values.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: 2, payloadKind: .fmv),
        "payload-aggregate-high-below-low.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "payload-aggregate-unknown-presence.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "payload-quote-negative-size.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "payload-fmv-nan.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "payload-unknown-format.bin": .init(batches: 0, corruptRecords: 1, payloadRecords: nil),
        "segment-mixed-kinds.bin": .init(batches: 5, corruptRecords: 0, payloadRecords: nil),
        "segment-aggregate-end-before-start.bin": .init(batches: 1, corruptRecords: 1, payloadRecords: nil),
    ]

    @Test("every corpus input runs through the fuzz probe without a crash, with the outcome it was made for", arguments: files)
    func replay(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let outcome = data.withUnsafeBytes { SpoolFuzzProbe.run($0) }
        if let expected = Self.expected[name] { #expect(outcome == expected) }
    }
}

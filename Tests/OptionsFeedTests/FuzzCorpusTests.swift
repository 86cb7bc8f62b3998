import Foundation
import Testing

@testable import OptionsFeed

/// Replays the frame fuzzer's kept corpus (`Fuzz/corpus/frame-decoder/`)
/// through the fuzzer's own entry point (`FrameFuzzProbe`), so every input
/// that once mattered to it — crashes it found included — stays covered by
/// the normal test suite (docs/guarantees.md).
@Suite("Fuzz corpus: frame decoder")
struct FuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/frame-decoder")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    @Test("the corpus is there and small")
    func corpusIsKept() throws {
        #expect(Self.files.count >= 20 && Self.files.count <= 200)
        let bytes = try Self.files.reduce(0) { $0 + (try Data(contentsOf: Self.directory.appendingPathComponent($1))).count }
        #expect(bytes < 256 * 1024)
    }

    @Test("every corpus input runs through the fuzz probe without a crash", arguments: files)
    func replay(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let outcome = data.withUnsafeBytes { FrameFuzzProbe.run($0) }
        // Sensible outcomes: what the file is named for.
        if name.hasPrefix("malformed-") || name.hasPrefix("found-") || name.hasSuffix(".bin") {
            #expect(outcome.malformed || outcome.trades == 0)
        }
        if name.hasPrefix("trade") || name.hasPrefix("two-trades") || name == "single-object.json" {
            #expect(!outcome.malformed && outcome.trades >= 1 && outcome.invalid == 0)
        }
        if name.hasPrefix("status-") { #expect(outcome.statuses == 1 && outcome.trades == 0) }
        if name.hasPrefix("symbol-") && name.hasSuffix(".json") { #expect(outcome.trades == 0 && outcome.invalid >= 1) }
        if ["huge-numbers.json", "negative-price.json", "time-far-past.json", "time-far-future.json", "zero-exponent.json"].contains(name) {
            #expect(outcome.trades == 0 && outcome.invalid == 1)
        }
        if name == "symbol-only.txt" || name == "symbol-leap-day.txt" { #expect(outcome.symbol) }
        if name == "symbol-bad-day.txt" { #expect(!outcome.symbol) }
    }
}

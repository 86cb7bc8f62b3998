import Foundation
import IngestTestSupport
import Logging
import Testing

@testable import IngestDatabase

@Suite("Dead letters", .serialized)
struct DeadLetterTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a 10 MB raw input is kept as its first 4 KiB with its full length; a short one is kept whole")
    func rawIsBounded() {
        let huge = String(repeating: "x", count: 10 << 20)
        let letter = DeadLetter(source: "feed", reason: "invalid_json", raw: huge)
        #expect(letter.raw.utf8.count == DeadLetter.rawLimitBytes)
        #expect(letter.rawBytes == 10 << 20)
        #expect(!letter.isRawComplete)
        let small = DeadLetter(source: "feed", reason: "bad_price", raw: #"{"ev":"T","p":-1}"#)
        #expect(small.raw == #"{"ev":"T","p":-1}"#)
        #expect(small.rawBytes == 17)
        #expect(small.isRawComplete)
    }

    @Test("the cut never splits a character", arguments: [1, 2, 3])
    func cutOnCharacterBoundary(offset: Int) {
        // A 4-byte character straddles the 4 KiB limit at each offset.
        let text = String(repeating: "a", count: DeadLetter.rawLimitBytes - offset) + "😀" + String(repeating: "b", count: 100)
        let letter = DeadLetter(source: "feed", reason: "x", raw: text)
        #expect(letter.raw == String(repeating: "a", count: DeadLetter.rawLimitBytes - offset))
        #expect(letter.rawBytes == text.utf8.count)
        let exact = String(repeating: "a", count: DeadLetter.rawLimitBytes - 4) + "😀" + "tail"
        #expect(DeadLetter(source: "feed", reason: "x", raw: exact).raw == String(exact.dropLast(4)))
    }

    @Test("a 10 MB invalid trade becomes a 4 KiB row that records its full length; the migration cuts rows stored before it")
    func storedRowIsBounded() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        // A row stored by the first schema, before raw was bounded.
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: first, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: first) }
        for file in ["0001_initial_schema.sql", "0002_ingest_state.sql"] {
            try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("migrations/" + file), to: first.appendingPathComponent(file))
        }
        _ = try Migrator(directory: first.path).apply(conninfo: database.url, logger: Self.quiet)
        try database.connect().execute(
            "INSERT INTO dead_letters (source, reason, raw) VALUES ('feed', 'old', repeat('é', 5000)), ('feed', 'old-small', 'abc')")
        try database.migrate()

        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        try await writer.recordDeadLetters([DeadLetter(source: "feed", reason: "invalid_json", raw: String(repeating: "{", count: 10 << 20))])
        await writer.shutdown()
        let rows = try database.connect().query("SELECT reason, octet_length(raw), raw_bytes FROM dead_letters ORDER BY id")
        #expect(rows == [["old", "4096", "10000"], ["old-small", "3", "3"], ["invalid_json", "4096", String(10 << 20)]])
    }
}

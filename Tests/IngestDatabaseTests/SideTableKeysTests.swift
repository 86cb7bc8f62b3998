import Foundation
import IngestTestSupport
import Logging
import Testing

@testable import IngestDatabase

/// The side tables' natural keys: a retry or a replay adds nothing. Against
/// the real PostgreSQL of scripts/test.
@Suite("Side-table keys", .serialized)
struct SideTableKeysTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static let events: [HealthEvent] = [
        .symbolHealth(symbol: "SPY", atMicros: 1_000, status: "stale", stalenessSeconds: 301, updateCount: 7),
        .stalenessAlert(symbol: "SPY", atMicros: 1_000, stalenessSeconds: 301, level: "warning"),
        .connection(atMicros: 2_000, component: "websocket", message: "feed disconnected: connection reset", statusCode: nil, metadataJSON: #"{"attempt":1}"#),
        .stalenessResolved(symbol: "SPY", atMicros: 3_000),
    ]

    static func counts(_ connection: PGConnection) throws -> [String?] {
        try connection.query(
            """
            SELECT (SELECT count(*) FROM dead_letters)::text, (SELECT count(*) FROM symbol_health_history)::text,
                   (SELECT count(*) FROM price_staleness_alerts)::text, (SELECT count(*) FROM websocket_health_logs)::text
            """
        ).first ?? []
    }

    @Test("the same dead letters and health events written twice are stored once each, and a resolved alert stays resolved")
    func writtenTwiceStoredOnce() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let letters = [
            DeadLetter(source: "feed", reason: "bad_price", raw: #"{"ev":"T","sym":"O:SPY251219C00650000","p":-1,"q":1}"#),
            DeadLetter(source: "feed", reason: "bad_price", raw: #"{"ev":"T","sym":"O:SPY251219C00650000","p":-1,"q":2}"#),
            DeadLetter(source: "database", reason: "constraint", sqlState: "23514", message: "check", raw: String(repeating: "y", count: 9000)),
        ]
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        try await writer.recordDeadLetters(letters)
        try await writer.recordHealthEvents(Self.events)
        try await writer.recordDeadLetters(letters)
        try await writer.recordHealthEvents(Self.events)
        await writer.shutdown()
        let connection = try database.connect()
        #expect(try Self.counts(connection) == ["3", "1", "1", "1"])
        #expect(try connection.query("SELECT resolved_at IS NOT NULL FROM price_staleness_alerts") == [["t"]])
    }

    @Test("the migration removes copies stored before it, keeping the oldest, then adds the keys")
    func migrationRemovesCopies() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let earlier = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: earlier, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: earlier) }
        for file in try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path).files() where file < "0004" {
            try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("migrations/" + file), to: earlier.appendingPathComponent(file))
        }
        _ = try Migrator(directory: earlier.path).apply(conninfo: database.url, logger: Self.quiet)
        let connection = try database.connect()
        for _ in 0..<3 {
            try connection.execute(
                """
                INSERT INTO dead_letters (source, reason, raw, raw_bytes, message) VALUES ('feed', 'bad_price', '{"q":1}', 7, 'first');
                INSERT INTO symbol_health_history (symbol, "timestamp", status, staleness_seconds, update_count) VALUES ('SPY', 'epoch', 'stale', 1, 1);
                INSERT INTO price_staleness_alerts (symbol, detected_at, staleness_seconds, alert_level) VALUES ('SPY', 'epoch', 1, 'warning');
                INSERT INTO websocket_health_logs ("timestamp", component, message) VALUES ('epoch', 'websocket', 'reset');
                UPDATE dead_letters SET message = 'copy' WHERE id > (SELECT min(id) FROM dead_letters);
                """)
        }
        try connection.execute("INSERT INTO dead_letters (source, reason, raw, raw_bytes) VALUES ('feed', 'bad_price', '{\"q\":2}', 7)")
        #expect(try Self.counts(connection) == ["4", "3", "3", "3"])
        try database.migrate()
        #expect(try Self.counts(connection) == ["2", "1", "1", "1"])
        #expect(try connection.query("SELECT message FROM dead_letters WHERE raw = '{\"q\":1}'") == [["first"]])
        #expect(throws: DatabaseError.self, "the key is in place") {
            try connection.execute("INSERT INTO symbol_health_history (symbol, \"timestamp\", status, staleness_seconds, update_count) VALUES ('SPY', 'epoch', 'stale', 2, 2)")
        }
    }
}

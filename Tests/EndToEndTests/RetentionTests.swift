import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// Partitions ahead and retention as the running service does them
/// (docs/design.md §4.3, docs/operations.md §6): at start, then hourly.
@Suite("Retention", .serialized, .temporaryDirectory("retention"))
struct RetentionTests {
    static func int(_ connection: PGConnection, _ sql: String) throws -> Int {
        Int(try connection.query(sql).first?.first.flatMap { $0 } ?? "") ?? -1
    }

    @Test(
        "RETENTION_DAYS=2: at start the service drops the days before its horizon, logging each, keeps the rest, makes PARTITIONS_AHEAD_DAYS for every table, deletes old side rows; a trade older than the horizon is dead-lettered"
    )
    func retentionAtStart() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()
        try database.migrate()
        let connection = try database.connect()
        let today = "(now() AT TIME ZONE 'UTC')::date"
        // Days -10 … -7 and -2, one trade each; an old dead letter and a recent one.
        try connection.execute(
            """
            SELECT ingest_ensure_partitions('options_trades', \(today) - 10, \(today) - 7);
            SELECT ingest_ensure_partitions('options_trades', \(today) - 2, \(today) - 2);
            INSERT INTO options_trades (sym, underlying, expiry, option_type, strike, exchange, price, size, notional, ts, seq, received_at)
            SELECT 'O:SPY261219C00650000', 'SPY', '2026-12-19', 'C', 650, 1, 1.5, 100, 15000,
                   ((\(today) - d)::timestamp AT TIME ZONE 'UTC') + interval '15 hours', d, now()
            FROM unnest(ARRAY[10, 9, 8, 7, 2]) AS d;
            INSERT INTO dead_letters (created_at, source, reason, raw, raw_bytes) VALUES
              (now() - interval '30 days', 'feed', 'old', 'a', 1), (now() - interval '1 day', 'feed', 'recent', 'b', 1);
            """)

        // feed-sim's stream is dated 2025-12-03: older than any horizon of RETENTION_DAYS=2.
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "11", "--rate", "200", "--symbols", "20"], databaseURL: database.url, log: "ingest.log",
            ["RETENTION_DAYS": "2", "SIDE_RETENTION_DAYS": "5", "PARTITIONS_AHEAD_DAYS": "5", "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0"],
            directory: directory)
        let dropped = try await pipeline.waitForLog("partition dropped by RETENTION_DAYS", count: 4, timeout: .seconds(30))
        let names = Set(dropped.compactMap { $0["partition"] as? String })
        let expected = try Set(
            connection.query("SELECT 'options_trades_p' || to_char(\(today) - d, 'YYYYMMDD') FROM unnest(ARRAY[10, 9, 8, 7]) AS d")
                .compactMap { $0.first ?? nil })
        #expect(names == expected)
        try await pipeline.waitForLog("old rows deleted by SIDE_RETENTION_DAYS", timeout: .seconds(30))
        try await pipeline.waitUntilStreaming(timeout: .seconds(30))
        _ = try await waitFor(timeout: .seconds(30), what: "feed trades dead-lettered as no_partition") {
            (try? Self.int(connection, "SELECT count(*) FROM dead_letters WHERE reason = 'no_partition'")).flatMap { $0 > 0 ? $0 : nil }
        }
        try await pipeline.finish()

        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades") == 1, "only day -2's trade is left")
        for table in ["options_trades", "options_aggregates", "options_quotes", "options_fmv"] {
            let ahead = try Self.int(
                connection,
                "SELECT count(*) FROM generate_series(0, 5) AS d WHERE to_regclass('\(table)_p' || to_char(\(today) + d, 'YYYYMMDD')) IS NOT NULL")
            #expect(ahead == 6, "\(table): today and 5 days ahead")
        }
        #expect(try connection.query("SELECT reason FROM dead_letters WHERE source = 'feed' ORDER BY reason") == [["recent"]])
        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades WHERE ts < now() - interval '3 days'") == 0)
    }
}

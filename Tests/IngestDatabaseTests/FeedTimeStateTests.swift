import Foundation
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The feed times of the gap backfill in the database (docs/design.md §5.8):
/// `ingest_state.last_trade_t` and the `feed_gaps` columns of
/// `migrations/0006_backfill.sql`. Against the real PostgreSQL of scripts/test.
@Suite("Feed time state", .serialized)
struct FeedTimeStateTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let t0: Int64 = 1_764_772_200_000

    static func trade(t: Int64, q: Int64, price: Double = 1.25) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 65, price: price, size: 5, conditions: [209],
            timestampMs: t, sequence: q, receivedAtMicros: WallClock.system.nowMicros())
    }

    static func lastTradeT(_ database: TestDatabase) throws -> Int64? {
        try database.connect().query("SELECT last_trade_t FROM ingest_state").first?.first.flatMap { $0 }.flatMap { Int64($0) }
    }

    @Test("0006 on a database of 0005 holding trades seeds last_trade_t with the newest t, adds the gap columns and refuses an unknown backfill state")
    func migrationSeedsLastTradeT() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let upTo0005 = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: upTo0005, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: upTo0005) }
        let all = repositoryRoot.appendingPathComponent("migrations")
        for file in try FileManager.default.contentsOfDirectory(atPath: all.path) where file.hasSuffix(".sql") && file < "0006" {
            try FileManager.default.copyItem(at: all.appendingPathComponent(file), to: upTo0005.appendingPathComponent(file))
        }
        #expect(try Migrator(directory: upTo0005.path).apply(conninfo: database.url, logger: Self.quiet).count == 5)
        let connection = try database.connect()
        // Trades stored by the previous version, the newest not last in the table.
        try connection.execute(
            """
            INSERT INTO options_trades (sym, underlying, expiry, option_type, strike, exchange, price, size, notional, ts, seq, received_at)
            VALUES ('O:SPY251219C00650000', 'SPY', '2025-12-19', 'C', 650, 65, 1.5, 1, 150, 'epoch'::timestamptz + \(Self.t0 + 900) * interval '1 millisecond', 1, now()),
                   ('O:SPY251219C00650000', 'SPY', '2025-12-19', 'C', 650, 65, 1.5, 1, 150, 'epoch'::timestamptz + \(Self.t0 + 123) * interval '1 millisecond', 2, now())
            """)
        try connection.execute("INSERT INTO feed_gaps (started_at, ended_at, reason) VALUES (now(), now(), 'old')")
        try database.migrate()
        #expect(try Self.lastTradeT(database) == Self.t0 + 900)
        #expect(try connection.query("SELECT from_t, to_t, backfill FROM feed_gaps") == [[nil, nil, nil]], "a row from before keeps no feed times")
        #expect(throws: DatabaseError.self) {
            try connection.execute("UPDATE feed_gaps SET backfill = 'maybe'")
        }
        #expect(try SchemaCheck.problems(conninfo: database.url).isEmpty)
        try connection.execute("ALTER TABLE ingest_state DROP COLUMN last_trade_t")
        #expect(try SchemaCheck.problems(conninfo: database.url) == ["ingest_state has no column last_trade_t: apply the migrations (ingest-options migrate)"])
    }

    @Test("every write path raises last_trade_t to the batch's newest committed t and never lowers it", arguments: WriteMode.allCases)
    func everyWritePathRaisesLastTradeT(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        #expect(try Self.lastTradeT(database) == nil)
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Self.quiet)
        // COPY: the direct path; INSERT: the bound statements.
        _ = try await writer.write([Self.trade(t: Self.t0 + 30, q: 1), Self.trade(t: Self.t0 + 50, q: 2), Self.trade(t: Self.t0 + 40, q: 3)])
        #expect(try Self.lastTradeT(database) == Self.t0 + 50, "the batch's largest t, not its last")
        // A batch with a row already stored: COPY goes through the staging table.
        let staged = try await writer.write([Self.trade(t: Self.t0 + 50, q: 2), Self.trade(t: Self.t0 + 70, q: 4)])
        #expect(staged.inserted == 1)
        #expect(try Self.lastTradeT(database) == Self.t0 + 70)
        // Another batch through the staging run (the 20 batches after a duplicate).
        _ = try await writer.write([Self.trade(t: Self.t0 + 80, q: 5)])
        #expect(try Self.lastTradeT(database) == Self.t0 + 80)
        // An older batch (a replay) leaves it.
        _ = try await writer.write([Self.trade(t: Self.t0 + 10, q: 6)])
        #expect(try Self.lastTradeT(database) == Self.t0 + 80)
        // A refused row (price ≤ 0 breaks the CHECK) is isolated: the half that commits raises it to its own t only.
        let isolated = try await writer.write([Self.trade(t: Self.t0 + 90, q: 7), Self.trade(t: Self.t0 + 200, q: 8, price: -1)])
        #expect(isolated.deadLetters.count == 1)
        #expect(try Self.lastTradeT(database) == Self.t0 + 90, "the refused row's t is not committed, so it does not count")
        #expect(try Migrator.unrecordedRestartGap(conninfo: database.url)?.lastTradeT == Self.t0 + 90, "the restart gap starts at it")
        await writer.shutdown()
    }

    /// The gap rows' feed columns by reason.
    static func gapRows(_ database: TestDatabase) throws -> [String: [String?]] {
        var rows: [String: [String?]] = [:]
        for row in try database.connect().query("SELECT reason, from_t, to_t, backfill, ended_at IS NOT NULL FROM feed_gaps") {
            rows[row[0]!] = Array(row.dropFirst())
        }
        return rows
    }

    @Test("a gap row is written with from_t; its close sets to_t and, when asked, backfill = 'pending', for its own row and for rows left open")
    func gapRowsCarryFeedTimes() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let leftOpen = try database.connect().query(
            "INSERT INTO feed_gaps (started_at, reason, from_t) VALUES (clock_timestamp(), 'left-by-id', 11), (clock_timestamp(), 'left-every', NULL) RETURNING id"
        ).compactMap { $0[0].flatMap { Int64($0) } }
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        let now = WallClock.system.nowMicros()
        let marked = GapRow(startedAtMicros: now - 2_000_000, reason: "marked", fromT: Self.t0)
        let plain = GapRow(startedAtMicros: now - 2_000_000, reason: "plain", fromT: Self.t0 + 1)
        try await writer.recordGaps(GapChanges([
            .opened(marked), .closed(marked, atMicros: now - 1_000_000, toT: Self.t0 + 5_000, backfill: true),
            .opened(plain), .closed(plain, atMicros: now - 1_000_000, toT: Self.t0 + 6_000),
        ]))
        try await writer.recordGaps(GapChanges([.closedLeftOpen(.ids([leftOpen[0]]), atMicros: now, toT: Self.t0 + 7_000, backfill: true)]))
        var rows = try Self.gapRows(database)
        #expect(rows["marked"] == [String(Self.t0), String(Self.t0 + 5_000), "pending", "t"])
        #expect(rows["plain"] == [String(Self.t0 + 1), String(Self.t0 + 6_000), nil, "t"], "backfill off: no mark")
        #expect(rows["left-by-id"] == ["11", String(Self.t0 + 7_000), "pending", "t"])
        #expect(rows["left-every"] == [nil, nil, nil, "f"])
        try await writer.recordGaps(GapChanges([.closedLeftOpen(.every, atMicros: now, toT: Self.t0 + 8_000, backfill: true)]))
        rows = try Self.gapRows(database)
        #expect(rows["left-every"] == [nil, String(Self.t0 + 8_000), "pending", "t"])
        #expect(rows["marked"]?[1] == String(Self.t0 + 5_000), "a closed row is not closed again")
        await writer.shutdown()
    }
}

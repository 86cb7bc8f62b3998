import Foundation
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The newest receive time, kept in `ingest_state` so that a start costs the
/// same on a table of any size. Against the real PostgreSQL of scripts/test.
@Suite("Ingest state", .serialized)
struct IngestStateTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Tuples read by sequential scans of `options_trades` and its partitions
    /// (the parent of a partitioned table has no rows of its own), once every
    /// other session of the database has ended and flushed its statistics.
    static func sequentialTuplesRead(_ database: TestDatabase) async throws -> Int {
        let connection = try database.connect()
        for _ in 0..<100 {
            let others = try connection.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if others == [["0"]] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // A backend leaves pg_stat_activity just before it flushes its counters: read a few times.
        var read = 0
        for _ in 0..<5 {
            _ = try connection.query("SELECT pg_stat_clear_snapshot()")
            let rows = try connection.query(
                "SELECT sum(seq_tup_read) FROM pg_stat_user_tables WHERE relid IN (SELECT relid FROM pg_partition_tree('options_trades'))")
            read = max(read, Int(rows.first?.first.flatMap { $0 } ?? "0") ?? 0)
            try await Task.sleep(for: .milliseconds(100))
        }
        return read
    }

    @Test("on a table of a million rows a start reads options_trades for less than 1 % of its rows, and the restart gap starts at the newest receive time")
    func startIsConstantTime() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        // A deployment of the first schema holding a million trades, then upgraded.
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: first, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: first) }
        try FileManager.default.copyItem(
            at: repositoryRoot.appendingPathComponent("migrations/0001_initial_schema.sql"), to: first.appendingPathComponent("0001_initial_schema.sql"))
        _ = try Migrator(directory: first.path).apply(conninfo: database.url, logger: Self.quiet)
        let rows = 1_000_000
        let connection = try database.connect()
        // The secondary indexes only slow the load down; the natural key stays.
        try connection.execute("DROP INDEX options_trades_ts_idx; DROP INDEX options_trades_underlying_ts_idx")
        try connection.execute(
            """
            INSERT INTO options_trades (sym, underlying, expiry, option_type, strike, exchange, price, size, notional, ts, seq, received_at)
            SELECT 'O:SPY251219C' || lpad((i % 1000)::text, 8, '0'), 'SPY', '2025-12-19', 'C', (i % 1000)::numeric / 1000, 65,
                   1.5, 100, 15000, to_timestamp(1764772200) + i * interval '1 millisecond', i,
                   to_timestamp(1764772200) + i * interval '1 microsecond'
            FROM generate_series(1, \(rows)) AS i
            """)
        try database.migrate()

        let before = try await Self.sequentialTuplesRead(database)
        // The start path: migrations (nothing new), the restart gap, and a leader's failover gap.
        #expect(try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path)
            .apply(conninfo: database.url, logger: Self.quiet).isEmpty)
        let restart = try Migrator.unrecordedRestartGap(conninfo: database.url)
        let lock = LeaderLock(conninfo: database.url, group: "state-test", logger: Self.quiet)
        let failover = try await lock.gapBeforeLeading().start
        await lock.close()
        let after = try await Self.sequentialTuplesRead(database)

        let newest: Int64 = 1_764_772_200_000_000 + Int64(rows)
        #expect(restart == UnrecordedGap(start: .database(newest), lastTradeT: 1_764_772_200_000 + Int64(rows)), "0006 seeded last_trade_t from max(ts)")
        #expect(failover == .database(newest))
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["p"]], "measured on the partitioned layout")
        #expect(after - before < rows / 100, "a start read \(after - before) rows of options_trades by sequential scans")
    }

    static func trade(q: Int64, size: Int64 = 5, receivedAt: Int64) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 65, price: 1.25, size: size, conditions: [],
            timestampMs: 1_764_772_200_000 + q, sequence: q, receivedAtMicros: receivedAt)
    }

    static func lastReceived(_ database: TestDatabase) throws -> Int64? {
        try database.connect().query("SELECT (extract(epoch FROM last_received_at) * 1000000)::bigint FROM ingest_state")
            .first?.first.flatMap { $0 }.flatMap { Int64($0) }
    }

    /// Within half a second (a batch commits a few milliseconds after the test reads the database's clock).
    static func near(_ value: Int64?, _ expected: Int64) -> Bool {
        value.map { abs($0 - expected) <= 500_000 } ?? false
    }

    static func databaseNow(_ database: TestDatabase) throws -> Int64 {
        Int64(try database.connect().query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")[0][0]!)!
    }

    @Test(
        "a committed batch moves the last receive time forward, on the database's clock whatever the host's; a rolled-back one does not, nor does an older batch",
        arguments: WriteMode.allCases)
    func stateFollowsCommits(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        #expect(try Self.lastReceived(database) == nil, "an empty table has no last receive time")
        // This host's clock runs an hour ahead of the database's, frozen: a trade's age here is exact.
        let hostNow = WallClock.system.nowMicros() + 3_600_000_000
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, wallClock: WallClock { hostNow }, logger: Self.quiet)
        let second: Int64 = 1_000_000

        _ = try await writer.write([
            Self.trade(q: 1, receivedAt: hostNow - 30 * second), Self.trade(q: 2, receivedAt: hostNow - 20 * second),
            Self.trade(q: 3, receivedAt: hostNow - 40 * second),
        ])
        let first = try #require(try Self.lastReceived(database))
        #expect(Self.near(first, try Self.databaseNow(database) - 20 * second), "the newest trade's age, taken from the database's now")
        _ = try await writer.write([Self.trade(q: 4, receivedAt: hostNow - 50 * second)])
        #expect(try Self.lastReceived(database) == first, "an older batch (a replay) does not move it back")

        // A check that fails only at COMMIT: the whole transaction, the state's update with it, rolls back.
        // It fails as a server would (a serialization failure), not as a row would: a row to blame
        // would be dead-lettered and the rest committed.
        try database.connect().execute(
            """
            CREATE FUNCTION refuse_size_13() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN IF NEW.size = 13 THEN RAISE EXCEPTION 'size 13 refused at commit' USING ERRCODE = '40001'; END IF; RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER refuse_size_13 AFTER INSERT ON options_trades
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_size_13();
            """)
        await #expect(throws: DatabaseError.self) {
            try await writer.write([Self.trade(q: 5, receivedAt: hostNow - 2 * second), Self.trade(q: 6, size: 13, receivedAt: hostNow - second)])
        }
        #expect(try Self.lastReceived(database) == first)
        #expect(try database.connect().query("SELECT count(*) FROM options_trades") == [["4"]])

        _ = try await writer.write([Self.trade(q: 7, receivedAt: hostNow - second)])
        await writer.shutdown()
        #expect(Self.near(try Self.lastReceived(database), try Self.databaseNow(database) - second))
    }
}

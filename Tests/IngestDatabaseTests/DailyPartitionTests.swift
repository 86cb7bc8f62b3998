import Foundation
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The day arithmetic of `TableRetention` and `PartitionDays`: pure.
@Suite("Partition days")
struct PartitionDayTests {
    static let day = TableRetention.millisecondsPerDay

    @Test("a Unix time's UTC day: midnight starts one, the millisecond before it ends the one before, also before 1970")
    func days() {
        #expect(TableRetention.day(ofMilliseconds: 0) == 0)
        #expect(TableRetention.day(ofMilliseconds: Self.day - 1) == 0)
        #expect(TableRetention.day(ofMilliseconds: Self.day) == 1)
        #expect(TableRetention.day(ofMilliseconds: -1) == -1)
        #expect(TableRetention.day(ofMilliseconds: -Self.day) == -1)
        #expect(TableRetention.day(ofMilliseconds: -Self.day - 1) == -2)
        // 2026-12-06T23:59:59.999Z and the next day.
        let today = CivilTime.daysFromCivil(year: 2026, month: 12, day: 6)
        #expect(TableRetention.day(ofMilliseconds: Int64(today + 1) * Self.day - 1) == today)
        #expect(TableRetention.day(ofMilliseconds: Int64(today + 1) * Self.day) == today + 1)
    }

    @Test("RETENTION_DAYS=N keeps today and the N days before; 0 keeps all; writes may create days from there to today + ahead")
    func windows() {
        let today = 20_000
        let keepAll = TableRetention(aheadDays: 3)
        #expect(keepAll.firstTradeDayKept(today: today) == nil)
        #expect(keepAll.creatableDays(today: today) == 0...20_003)
        #expect(keepAll.daysAhead(today: today) == 20_000...20_003)
        #expect(keepAll.nearDays(today: today) == 19_993...20_003)
        let twoDays = TableRetention(aheadDays: 1, tradeDays: 2)
        #expect(twoDays.firstTradeDayKept(today: today) == 19_998)
        #expect(twoDays.creatableDays(today: today) == 19_998...20_001)
        #expect(TableRetention(aheadDays: 1, tradeDays: 1).firstTradeDayKept(today: today) == 19_999, "1 keeps yesterday whole")
    }

    @Test("QuestDB's retention drops its own day partitions by the designated timestamp, the horizon at the second, in QuestDB's to_timestamp format")
    func questDBRetention() {
        let horizon = Int64(CivilTime.daysFromCivil(year: 2026, month: 11, day: 6)) * 86_400_000_000 + 1_500_000
        #expect(
            QuestDBDialect.dropPartitions(table: "options_trades", timestamp: "ts", beforeMicros: horizon)
                == "ALTER TABLE options_trades DROP PARTITION WHERE ts < to_timestamp('2026-11-06:00:00:01', 'yyyy-MM-dd:HH:mm:ss')")
        #expect(QuestDBDialect.sideTimestamps.map(\.table) == SideTable.all.map(\.name), "the same side tables as on PostgreSQL")
        #expect(QuestDBDialect.dayTimestamps.map(\.table) == PostgresDialect.partitionedTables, "the same event tables as on PostgreSQL")
    }

    static func trade(t: Int64) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 1, price: 1, size: 1, conditions: [], timestampMs: t, sequence: 1,
            receivedAtMicros: 1)
    }

    @Test("a row without a partition is told from a CHECK violation by the constraint the server names, in any language")
    func noPartitionError() {
        #expect(DatabaseError(kind: .constraint, sqlState: "23514", message: "keine Partition von Relation gefunden").isNoPartition)
        #expect(DatabaseError(kind: .constraint, sqlState: "23514", message: "no partition of relation \"options_trades\" found for row").isNoPartition)
        #expect(!DatabaseError(kind: .constraint, sqlState: "23514", message: "violates check constraint", constraint: "options_trades_price_check").isNoPartition)
        #expect(!DatabaseError(kind: .constraint, sqlState: "23505", message: "duplicate key").isNoPartition)
    }

    @Test("a batch's days: a range when they are adjacent, only the days held when spread (a corrupt time is not a century of days)")
    func batchDays() {
        let base = Int64(20_000) * Self.day
        #expect(PartitionDays.days(of: [OptionTrade]()[...]) == [])
        #expect(PartitionDays.days(of: [Self.trade(t: base + 5), Self.trade(t: base + 9)][...]) == [20_000])
        #expect(PartitionDays.days(of: [Self.trade(t: base + Self.day), Self.trade(t: base)][...]) == [20_000, 20_001])
        #expect(PartitionDays.days(of: [Self.trade(t: base), Self.trade(t: 1), Self.trade(t: base + 40 * Self.day)][...]) == [0, 20_000, 20_040])
        #expect(PartitionDays.runs([1, 2, 3, 7, 9, 10]) == [1...3, 7...7, 9...10])
        #expect(PartitionDays.runs([]) == [])
    }
}

/// Daily partitions, the upgrade in place and retention against the real
/// PostgreSQL server that scripts/test starts (docs/design.md §4.3).
@Suite("Daily partitions", .serialized, .temporaryDirectory("partitions"))
struct DailyPartitionTests {
    static let logger = Logger(label: "test")
    static let dayMs = TableRetention.millisecondsPerDay

    static func today() -> Int { TableRetention.day(ofMilliseconds: WallClock.system.nowMicros() / 1000) }

    static func trade(_ symbol: String = "O:SPY251219C00650000", t: Int64, q: Int64) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol(symbol)!, exchange: 4, price: 1.25, size: 10, conditions: [209], timestampMs: t, sequence: q,
            receivedAtMicros: WallClock.system.nowMicros())
    }

    static func int(_ connection: PGConnection, _ sql: String) throws -> Int {
        Int(try connection.query(sql).first?.first.flatMap { $0 } ?? "") ?? -1
    }

    /// The partitions of options_trades, by name, with their upper bound as text.
    static func partitions(_ connection: PGConnection) throws -> [String] {
        try connection.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'options_trades'::regclass AND c.relkind = 'r' ORDER BY c.relname
            """
        ).compactMap { $0.first ?? nil }
    }

    static func name(day: Int) -> String {
        let (y, m, d) = CivilTime.civilFromDays(Int64(day))
        return String(format: "options_trades_p%04d%02d%02d", y, m, d)
    }

    @Test("a fresh database has a partitioned options_trades with the key (sym, ts, seq), today's partition and 3 days ahead, no legacy table")
    func freshLayout() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        #expect(try TableMaintenance.createPartitionsAhead(conninfo: database.url, retention: .init(aheadDays: 3)) == 4 * 4, "4 days of 4 tables")
        #expect(try TableMaintenance.createPartitionsAhead(conninfo: database.url, retention: .init(aheadDays: 3)) == 0, "created once")
        let connection = try database.connect()
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["p"]])
        #expect(try connection.query("SELECT to_regclass('options_trades_legacy') IS NULL") == [["t"]])
        let today = Self.today()
        #expect(try Self.partitions(connection) == (today...(today + 3)).map(Self.name))
        #expect(try SchemaCheck.problems(conninfo: database.url) == [], "the partitioned key is the natural key")
        for table in ["options_aggregates", "options_quotes", "options_fmv"] {
            #expect(try Self.int(connection, "SELECT count(*) FROM pg_inherits WHERE inhparent = '\(table)'::regclass AND inhrelid::regclass::text LIKE '%_p%'") >= 4, "\(table)")
            #expect(try connection.query("SELECT to_regclass('\(table)_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')) IS NOT NULL") == [["t"]])
        }
    }

    @Test(
        "upgrade in place: a table of rows over 5 days becomes the legacy partition, not copied (same file), every row once, the key still refuses a second copy"
    )
    func upgradeInPlace() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()
        _ = try Migrator(directory: try migrations(upTo: "0006_backfill.sql", in: directory)).apply(conninfo: database.url, logger: Self.logger)
        let connection = try database.connect()
        // 50 000 rows over 5 past days, through the writer of the old layout.
        let today = Self.today()
        let start = Int64(today - 5) * Self.dayMs
        let old = PostgresTradeWriter(conninfo: database.url, logger: Self.logger)
        let trades = (0..<50_000).map { i in Self.trade(t: start + Int64(i) * (5 * Self.dayMs / 50_000), q: Int64(i)) }
        for chunk in stride(from: 0, to: trades.count, by: 5_000) {
            _ = try await old.write(Array(trades[chunk..<(chunk + 5_000)]))
        }
        await old.shutdown()
        let fingerprint = "SELECT count(*), md5(string_agg(sym || ts::text || seq || price || size || conditions::text || received_at::text, ',' ORDER BY sym, ts, seq)) FROM options_trades"
        let before = try connection.query(fingerprint)
        let file = try connection.query("SELECT pg_relation_filenode('options_trades')")

        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path).apply(conninfo: database.url, logger: Self.logger)
        #expect(try connection.query(fingerprint) == before, "every row, once, unchanged")
        #expect(try connection.query("SELECT pg_relation_filenode('options_trades_legacy')") == file, "the old table itself, not a copy")
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["p"]])
        let newest = trades.map(\.timestampMs).max()!
        let bound = Int64(TableRetention.day(ofMilliseconds: newest) + 1) * Self.dayMs
        #expect(
            try connection.query("SELECT (extract(epoch FROM ingest_partition_upper('options_trades_legacy')) * 1000)::bigint") == [[String(bound)]],
            "the legacy partition ends at the UTC midnight after its newest row")
        #expect(try SchemaCheck.problems(conninfo: database.url) == [])

        // The new writer: a copy of an old row is refused by the key across the layout, today's rows get their partition.
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.logger)
        let now = Int64(today) * Self.dayMs + 1000
        let result = try await writer.write([trades[17], trades[49_999], Self.trade(t: now, q: 1), Self.trade(t: now, q: 2)])
        #expect(result == BatchResult(trades: 4, inserted: 2))
        await writer.shutdown()
        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades") == 50_002)
        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades_legacy") == 50_000)
        #expect(try Self.int(connection, "SELECT count(*) FROM \(Self.name(day: today))") == 2)
        // Migrating again changes nothing.
        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path).apply(conninfo: database.url, logger: Self.logger)
        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades") == 50_002)
    }

    @Test("a table holding a trade dated after tomorrow is left as it is: the upgrade stops with the count, and runs once the row is gone; a renamed key is found")
    func upgradeRefusesFutureRows() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()
        _ = try Migrator(directory: try migrations(upTo: "0006_backfill.sql", in: directory)).apply(conninfo: database.url, logger: Self.logger)
        let old = PostgresTradeWriter(conninfo: database.url, logger: Self.logger)
        let future = Int64(Self.today() + 400) * Self.dayMs
        _ = try await old.write([Self.trade(t: Int64(Self.today()) * Self.dayMs, q: 1), Self.trade(t: future, q: 2)])
        await old.shutdown()
        let connection = try database.connect()
        try connection.execute("ALTER INDEX options_trades_pkey RENAME TO operators_own_name")
        let all = Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path)
        #expect {
            _ = try all.apply(conninfo: database.url, logger: Self.logger)
        } throws: { error in
            (error as? DatabaseError)?.message.contains("options_trades holds 1 rows dated after tomorrow") == true
        }
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["r"]], "rolled back whole")
        try connection.execute("DELETE FROM options_trades WHERE seq = 2")
        _ = try all.apply(conninfo: database.url, logger: Self.logger)
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["p"]])
        #expect(try connection.query("SELECT to_regclass('options_trades_legacy_pkey') IS NOT NULL") == [["t"]])
        #expect(try SchemaCheck.problems(conninfo: database.url) == [])
    }

    @Test("a batch creates the partitions of its days; a trade after today + PARTITIONS_AHEAD_DAYS or before RETENTION_DAYS is dead-lettered as no_partition")
    func partitionsOnDemand() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let today = Self.today()
        let writer = PostgresTradeWriter(conninfo: database.url, retention: .init(aheadDays: 2, tradeDays: 30), logger: Self.logger)
        let day = { (offset: Int) in Int64(today + offset) * Self.dayMs + 3_600_000 }
        let batch = [
            Self.trade(t: day(-30), q: 1), Self.trade(t: day(-29), q: 2), Self.trade(t: day(0), q: 3), Self.trade(t: day(2), q: 4),
            Self.trade(t: day(-31), q: 5),  // older than RETENTION_DAYS
            Self.trade(t: day(3), q: 6),  // after the days ahead
        ]
        let result = try await writer.write(batch)
        #expect(result.inserted == 4)
        #expect(result.deadLetters.map(\.reason) == ["no_partition", "no_partition"])
        #expect(Set(result.deadLetters.map(\.raw)) == Set([batch[4].polygonJSON, batch[5].polygonJSON]))
        let connection = try database.connect()
        #expect(try Self.partitions(connection) == [-30, -29, 0, 2].map { Self.name(day: today + $0) })
        #expect(try Self.int(connection, "SELECT count(*) FROM dead_letters WHERE reason = 'no_partition'") == 2)
        // The next batch of the same days asks nothing more of the database and writes as before.
        let again = try await writer.write([Self.trade(t: day(0) + 1, q: 7), Self.trade(t: day(-30) + 1, q: 8)])
        #expect(again == BatchResult(trades: 2, inserted: 2))
        await writer.shutdown()
    }

    @Test("a corrupt feed's times spread over decades create at most 64 partitions of far days a round; the rest is dead-lettered")
    func farDaysAreBounded() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.logger)
        // One trade on each of 100 days a year apart from 1971: far from today.
        let batch = (0..<100).map { i in Self.trade(t: Int64(365 + i * 97) * Self.dayMs, q: Int64(i)) }
        let result = try await writer.write(batch)
        #expect(result.inserted == TableRetention.farDaysPerRound)
        #expect(result.deadLetters.count == 100 - TableRetention.farDaysPerRound)
        #expect(Set(result.deadLetters.map(\.reason)) == ["no_partition"])
        #expect(try Self.partitions(database.connect()).count == TableRetention.farDaysPerRound)
        await writer.shutdown()
    }

    @Test("RETENTION_DAYS drops the whole days before its horizon (the legacy partition too) and keeps the rest; SIDE_RETENTION_DAYS deletes old side rows but open and pending gaps")
    func retention() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()
        _ = try Migrator(directory: try migrations(upTo: "0006_backfill.sql", in: directory)).apply(conninfo: database.url, logger: Self.logger)
        let today = Self.today()
        // Days -12 and -11 go to the table before the upgrade (the legacy partition), -6…0 after it, by a writer that keeps all.
        let setup = PostgresTradeWriter(conninfo: database.url, logger: Self.logger)
        _ = try await setup.write([Self.trade(t: Int64(today - 12) * Self.dayMs, q: 1), Self.trade(t: Int64(today - 11) * Self.dayMs, q: 1)])
        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path).apply(conninfo: database.url, logger: Self.logger)
        for offset in -6...0 {
            _ = try await setup.write([Self.trade(t: Int64(today + offset) * Self.dayMs + 5, q: 1)])
        }
        await setup.shutdown()
        let writer = PostgresTradeWriter(conninfo: database.url, retention: .init(aheadDays: 3, tradeDays: 2, sideDays: 10), logger: Self.logger)
        let connection = try database.connect()
        try connection.execute(
            """
            INSERT INTO feed_gaps (started_at, ended_at, reason, backfill) VALUES
              (now() - interval '30 days', now() - interval '29 days', 'old', 'done'),
              (now() - interval '30 days', now() - interval '29 days', 'old pending', 'pending'),
              (now() - interval '30 days', NULL, 'old open', NULL),
              (now() - interval '2 days', now() - interval '1 day', 'recent', NULL);
            INSERT INTO dead_letters (created_at, source, reason, raw, raw_bytes) VALUES
              (now() - interval '11 days', 'feed', 'old', 'a', 1), (now() - interval '9 days', 'feed', 'recent', 'b', 1);
            INSERT INTO websocket_health_logs ("timestamp", component, message)
              SELECT now() - interval '20 days' - g * interval '1 second', 'websocket', 'm' || g FROM generate_series(1, 25000) g;
            INSERT INTO websocket_health_logs ("timestamp", component, message) VALUES (now(), 'websocket', 'new');
            """)

        let report = try await writer.maintainTables()
        let expectedDropped = ["options_trades_legacy"] + (-6 ... -3).map { Self.name(day: today + $0) }
        #expect(report.partitionsDropped.sorted() == expectedDropped.sorted())
        #expect(try Self.partitions(connection) == (-2...3).map { Self.name(day: today + $0) }, "yesterday's start minus one day is the horizon")
        #expect(try Self.int(connection, "SELECT count(*) FROM options_trades") == 3)
        #expect(report.sideRowsDeleted["feed_gaps"] == 1)
        #expect(try connection.query("SELECT reason FROM feed_gaps ORDER BY reason") == [["old open"], ["old pending"], ["recent"]])
        #expect(report.sideRowsDeleted["dead_letters"] == 1)
        #expect(report.sideRowsDeleted["websocket_health_logs"] == 25_000, "in chunks of 10 000")
        #expect(try Self.int(connection, "SELECT count(*) FROM websocket_health_logs") == 1)
        // A trade of a dropped day is not written back into a new partition: it is dead-lettered.
        let late = try await writer.write([Self.trade(t: Int64(today - 4) * Self.dayMs, q: 9)])
        #expect(late.deadLetters.map(\.reason) == ["no_partition"])
        // The next round has nothing left to do.
        #expect(try await writer.maintainTables().isEmpty)
        await writer.shutdown()
    }
}

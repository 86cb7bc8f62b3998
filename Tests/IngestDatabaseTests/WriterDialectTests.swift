import Foundation
import IngestTestSupport
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The statements each `WriterDialect` gives the writer, and the direct
/// COPY's staging run (docs/design.md §5.3). Pure: no server.
@Suite("Writer dialects")
struct WriterDialectTests {
    /// The columns `options_trades` is created with in this flavor's first migration.
    static func tableColumns(_ flavor: DatabaseFlavor) throws -> [String] {
        let folder = repositoryRoot.appendingPathComponent("migrations").appendingPathComponent(flavor.migrationsSubdirectory ?? "")
        let sql = try String(contentsOf: folder.appendingPathComponent("0001_initial_schema.sql"), encoding: .utf8)
        let body = try #require(sql.range(of: "CREATE TABLE IF NOT EXISTS options_trades (")).upperBound
        return sql[body...].split(separator: "\n").prefix { !$0.hasPrefix(")") }.compactMap { line in
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            return name.isEmpty || name == "PRIMARY" ? nil : name
        }
    }

    /// The column list of `INSERT INTO options_trades (…)` or `COPY … (…)`.
    static func namedColumns(_ sql: String) throws -> [String] {
        let open = try #require(sql.firstIndex(of: "("))
        let close = try #require(sql[open...].firstIndex(of: ")"))
        return sql[sql.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static let trades = (0..<3).map { q in
        OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650500")!, exchange: 7, price: 12.5, size: 3, conditions: [209],
            timestampMs: 1_764_772_200_123 + Int64(q), sequence: Int64(q), receivedAtMicros: 1_764_772_200_456_789)
    }

    @Test("each dialect's INSERT names every column of its options_trades, in the COPY encoder's order, with one parameter each", arguments: DatabaseFlavor.allCases)
    func insertNamesEveryColumn(flavor: DatabaseFlavor) throws {
        let dialect = flavor.dialect
        let columns = try Self.tableColumns(flavor)
        #expect(columns.count == 13)
        #expect(Set(columns) == Set(TradeCopyEncoder.columns))
        let sql = dialect.insertTrades(rows: 3)
        #expect(try Self.namedColumns(sql) == TradeCopyEncoder.columns)
        #expect(sql.contains("$39") && !sql.contains("$40"), "13 parameters a row, 3 rows")
        let parameters = dialect.parameters(Self.trades[...])
        let perStatement = dialect.rowsPerStatement * columns.count
        #expect(parameters.count == 3 * columns.count)
        #expect(perStatement <= 65_535, "below the protocol's parameter limit")
    }

    @Test("PostgreSQL's COPY and staging statements name every column, and the staging insert skips rows already stored")
    func postgresCopyStatements() throws {
        let columns = try Self.tableColumns(.postgres)
        #expect(try Self.namedColumns(PostgresDialect.copyDirect) == TradeCopyEncoder.columns)
        #expect(PostgresDialect.copyDirect.hasPrefix("COPY options_trades ("))
        #expect(try Self.namedColumns(PostgresDialect.copyIntoStaging) == TradeCopyEncoder.columns)
        #expect(PostgresDialect.copyIntoStaging.hasPrefix("COPY \(PostgresDialect.stagingTable) ("))
        for copy in [PostgresDialect.copyDirect, PostgresDialect.copyIntoStaging] { #expect(copy.hasSuffix("FROM STDIN (FORMAT binary)")) }
        let insert = PostgresDialect.insertFromStaging
        #expect(try Self.namedColumns(insert).sorted() == columns.sorted())
        #expect(insert.contains("SELECT \(TradeCopyEncoder.columns.joined(separator: ", ")) FROM \(PostgresDialect.stagingTable)"))
        #expect(insert.hasSuffix("ON CONFLICT (sym, ts, seq) DO NOTHING"))
        #expect(PostgresDialect.insertTrades(rows: 2).hasSuffix("ON CONFLICT (sym, ts, seq) DO NOTHING"))
    }

    @Test("PostgreSQL sets the statement timeout and builds the staging table on connect; QuestDB runs nothing and takes no transactions")
    func connectionSetup() {
        let transactional = DatabaseFlavor.allCases.map { $0.dialect.isTransactional }
        #expect(transactional == [true, false])
        #expect(PostgresDialect.connectionSetup(statementTimeoutMs: 30_000) == [
            "SET statement_timeout = 30000",
            "CREATE TEMP TABLE IF NOT EXISTS options_trades_staging (LIKE options_trades INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        ])
        #expect(PostgresDialect.beginBatch(bulkTimeoutMs: 60_000) == "BEGIN; SET LOCAL statement_timeout = 60000")
        let commit = PostgresDialect.commitBatch(lastReceivedAgeMicros: 5, lastTradeT: 1_764_772_200_123)
        #expect(commit.hasSuffix("; COMMIT"))
        #expect(commit.contains("last_trade_t = GREATEST(ingest_state.last_trade_t, EXCLUDED.last_trade_t)") && commit.contains("1764772200123"))
        #expect(QuestDBDialect.connectionSetup(statementTimeoutMs: 30_000).isEmpty)
    }

    @Test("every PostgreSQL side-table insert is ON CONFLICT DO NOTHING; QuestDB's has none")
    func sideTableInserts() {
        let events: [HealthEvent] = [
            .symbolHealth(symbol: "SPY", atMicros: 1_000, status: "stale", stalenessSeconds: 301, updateCount: 7),
            .stalenessAlert(symbol: "SPY", atMicros: 1_000, stalenessSeconds: 301, level: "warning"),
            .connection(atMicros: 2_000, component: "websocket", message: "reset", statusCode: 1006, metadataJSON: "{}"),
        ]
        for event in events {
            #expect(PostgresDialect.healthEvent(event).0.hasSuffix("ON CONFLICT DO NOTHING"))
            #expect(!QuestDBDialect.healthEvent(event).0.contains("ON CONFLICT"))
        }
        #expect(PostgresDialect.insertDeadLetter.hasSuffix("ON CONFLICT DO NOTHING"))
        #expect(!QuestDBDialect.insertDeadLetter.contains("ON CONFLICT"))
    }

    @Test("a PostgreSQL gap time read here is aged on this host; a close without a row id writes nothing")
    func postgresGapStatements() throws {
        let row = GapRow(startedAtMicros: 1_000_000, reason: "restart")
        let (open, openParameters) = try #require(PostgresDialect.gapStatement(.opened(row), rowID: nil, nowMicros: 1_250_000))
        #expect(open == "INSERT INTO feed_gaps (started_at, reason, from_t) VALUES (clock_timestamp() - $1::bigint * interval '1 microsecond', $2, $3::bigint) RETURNING id")
        #expect(openParameters == ["250000", "restart", nil])
        let known = GapRow(startedAt: .database(900_000), reason: "restart", fromT: 42)
        #expect(try #require(PostgresDialect.gapStatement(.opened(known), rowID: nil, nowMicros: 1_250_000)).1 == ["900000", "restart", "42"])
        #expect(PostgresDialect.gapStatement(.closed(row, atMicros: 1_200_000), rowID: nil, nowMicros: 1_250_000) == nil)
        let (close, closeParameters) = try #require(PostgresDialect.gapStatement(.closed(row, atMicros: 1_200_000), rowID: 7, nowMicros: 1_250_000))
        #expect(close.contains("GREATEST(started_at,") && close.hasSuffix("WHERE id = $1 AND ended_at IS NULL"))
        #expect(close.contains("to_t = $3::bigint, backfill = COALESCE($4::text, backfill)"))
        #expect(closeParameters == ["7", "50000", nil, nil])
        let marked = try #require(PostgresDialect.gapStatement(.closed(row, atMicros: 1_200_000, toT: 99, backfill: true), rowID: 7, nowMicros: 1_250_000))
        #expect(marked.1 == ["7", "50000", "99", "pending"])
        let (ids, idParameters) = try #require(PostgresDialect.gapStatement(.closedLeftOpen(.ids([3, 4]), atMicros: 1_200_000), rowID: nil, nowMicros: 1_250_000))
        #expect(ids.contains("id = ANY($1::bigint[])") && ids.contains("to_t = $3::bigint"))
        #expect(idParameters == ["{3,4}", "50000", nil, nil])
        let every = try #require(PostgresDialect.gapStatement(.closedLeftOpen(.every, atMicros: 1_200_000, toT: 5, backfill: true), rowID: nil, nowMicros: 1_250_000))
        #expect(every.0.contains("to_t = $2::bigint, backfill = COALESCE($3::text, backfill)"))
        #expect(every.1 == ["50000", "5", "pending"])
        #expect(QuestDBDialect.gapStatement(.closed(row, atMicros: 1_200_000), rowID: nil, nowMicros: 0) != nil, "QuestDB finds the row by its dedup key")
    }

    @Test("after a direct COPY meets a duplicate the next 20 batches take the staging table, then the direct COPY is tried again")
    func stagingRun() {
        var run = StagingRun()
        /// Whether each of the next `count` batches tries the direct COPY.
        func next(_ count: Int) -> [Bool] { (0..<count).map { _ in run.nextBatchTriesDirectCopy() } }
        let fresh = next(2)
        run.metDuplicate()
        let afterDuplicate = next(StagingRun.batchesAfterDuplicate + 2)
        run.metDuplicate()
        let again = next(1)
        #expect(fresh == [true, true])
        #expect(afterDuplicate == Array(repeating: false, count: 20) + [true, true])
        #expect(again == [false])
        #expect(StagingRun.batchesAfterDuplicate == 20)
    }
}

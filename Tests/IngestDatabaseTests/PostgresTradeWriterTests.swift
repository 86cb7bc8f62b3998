import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// Against the real PostgreSQL server that scripts/test starts.
@Suite("PostgreSQL writer", .serialized)
struct PostgresTradeWriterTests {
    static func trade(_ symbol: String, price: Double, size: Int64, conditions: [Int16], t: Int64, q: Int64, x: Int16 = 65) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol(symbol)!, exchange: x, price: price, size: size, conditions: conditions,
            timestampMs: t, sequence: q, receivedAtMicros: 1_764_772_300_123_456)
    }

    static let batch: [OptionTrade] = [
        trade("O:SPY251219C00650000", price: 12.34, size: 25, conditions: [209, 219], t: 1_764_772_200_123, q: 1),
        trade("O:AAPL240119P00185500", price: 0.05, size: 1, conditions: [], t: 1_705_000_000_001, q: 2, x: 0),
        trade("O:BRK.B260320C00000500", price: 1234.5678, size: 9_999_999, conditions: [-5, 32767], t: 946_684_800_000, q: 3),
        trade("O:SPXW241231P04500000", price: 0.1 + 0.2, size: 3, conditions: [1], t: 1, q: Int64.max),
    ]

    @Test("a batch round-trips every column, and writing it again inserts nothing", arguments: WriteMode.allCases)
    func roundTrip(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Logger(label: "test"))
        let first = try await writer.write(Self.batch)
        #expect(first == BatchResult(trades: 4, inserted: 4))
        let again = try await writer.write(Self.batch + Self.batch)
        #expect(again == BatchResult(trades: 8, inserted: 0))
        await writer.shutdown()

        let rows = try database.connect().query(
            """
            SELECT sym, underlying, expiry::text, option_type, strike::text, exchange::text, price::float8::text,
                   size::text, notional::text, conditions::text,
                   (extract(epoch FROM ts) * 1000)::bigint::text, seq::text,
                   (extract(epoch FROM received_at) * 1000000)::bigint::text
            FROM options_trades ORDER BY seq
            """)
        #expect(rows.count == 4)
        let expected: [[String?]] = [
            ["O:SPY251219C00650000", "SPY", "2025-12-19", "C", "650.000", "65", "12.34", "25", "\(12.34 * 25 * 100)", "{209,219}", "1764772200123", "1", "1764772300123456"],
            ["O:AAPL240119P00185500", "AAPL", "2024-01-19", "P", "185.500", "0", "0.05", "1", "5", "{}", "1705000000001", "2", "1764772300123456"],
            ["O:BRK.B260320C00000500", "BRK.B", "2026-03-20", "C", "0.500", "65", "1234.5678", "9999999", "\(1234.5678 * 9_999_999 * 100)", "{-5,32767}", "946684800000", "3", "1764772300123456"],
            ["O:SPXW241231P04500000", "SPXW", "2024-12-31", "P", "4500.000", "65", "\(0.1 + 0.2)", "3", "\((0.1 + 0.2) * 3 * 100)", "{1}", "1", "\(Int64.max)", "1764772300123456"],
        ]
        for (row, want) in zip(rows, expected) {
            // float8 columns compare as numbers: "30850" and "30850.0" are the same value.
            let numeric = [6, 8]
            #expect(numeric.map { row[$0].flatMap { Double($0) } } == numeric.map { want[$0].flatMap { Double($0) } })
            #expect(row.indices.filter { !numeric.contains($0) }.map { row[$0] }
                == want.indices.filter { !numeric.contains($0) }.map { want[$0] })
        }
    }

    @Test("a batch is COPYed in pieces of CopyStream.rowsPerPiece rows: 1 000 trades arrive whole, the session's buffer held a piece, and the batch again is refused as duplicates")
    func copyInPieces() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let connection = try database.connect()
        _ = try connection.query("SELECT ingest_ensure_partitions('options_trades'::regclass, date '2025-12-03', date '2025-12-04')")
        let batch: [OptionTrade] = (0..<1000).map { (index: Int) -> OptionTrade in
            let conditions: [Int16] = index % 3 == 0 ? [] : [209, Int16(index % 100)]
            let price = 1 + Double(index) / 100
            let time = Int64(1_764_772_200_000) + Int64(index)
            return Self.trade("O:SPY251219C00650000", price: price, size: Int64(index + 1), conditions: conditions, t: time, q: Int64(index))
        }
        let session = WriterSession(
            conninfo: database.url, statementTimeoutMs: 30_000, bulkTimeoutMs: 60_000, mode: .copy, flavor: .postgres, wallClock: .system)
        let sql = "COPY options_trades (\(TradeCopyEncoder.columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
        try BatchStrategy.copy(batch[...], sql: sql, session: session, connection: connection)
        #expect(
            try connection.query("SELECT count(*)::text, count(DISTINCT seq)::text, sum(size)::text, max(cardinality(conditions))::text FROM options_trades")
                == [["1000", "1000", "500500", "2"]])
        var whole: [UInt8] = []
        TradeCopyEncoder().encode(batch, into: &whole)
        #expect(session.buffer.count * 3 < whole.count, "the buffer held the last piece, not the batch")
        let duplicate = #expect(throws: DatabaseError.self) {
            try BatchStrategy.copy(batch[...], sql: sql, session: session, connection: connection)
        }
        #expect(duplicate?.sqlState == "23505")
    }

    @Test("rows the database refuses are isolated into dead_letters and the rest is committed", arguments: WriteMode.allCases)
    func poisonedRows(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        // A rule of this database refuses trades of 13 contracts.
        try database.connect().execute("ALTER TABLE options_trades ADD CONSTRAINT no_thirteen CHECK (size <> 13)")
        let batch = (0..<1000).map { index in
            Self.trade("O:SPY251219C00650000", price: 1.25, size: index % 97 == 0 ? 13 : 5, conditions: [], t: 1_764_772_200_000 + Int64(index), q: Int64(index))
        }
        let poisoned = Set(batch.filter { $0.size == 13 }.map(\.sequence))
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Logger(label: "test"))
        let result = try await writer.write(batch)
        await writer.shutdown()
        #expect(result.trades == 1000)
        #expect(result.inserted == 1000 - poisoned.count)
        #expect(Set(result.deadLetters.map { $0.raw }) == Set(batch.filter { $0.size == 13 }.map(\.polygonJSON)))
        let connection = try database.connect()
        #expect(try connection.query("SELECT count(*) FROM options_trades") == [[String(1000 - poisoned.count)]])
        let letters = try connection.query("SELECT source, reason, sqlstate, raw FROM dead_letters ORDER BY id")
        #expect(letters.count == poisoned.count)
        #expect(letters.allSatisfy { $0[0] == "database" && $0[1] == "constraint" && $0[2] == "23514" })
        let stored = try connection.query("SELECT seq FROM options_trades").compactMap { $0[0].flatMap { Int64($0) } }
        #expect(Set(stored).isDisjoint(with: poisoned))
    }

    @Test("a failed batch commits nothing and reports a connection error as retryable")
    func failureIsAtomic() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        // No migrations: the table is missing, so the staging table cannot be built.
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Logger(label: "test"))
        await #expect(throws: DatabaseError.self) { try await writer.write(Self.batch) }
        await writer.shutdown()

        let unreachable = PostgresTradeWriter(conninfo: "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", logger: Logger(label: "test"))
        do {
            _ = try await unreachable.write(Self.batch)
            Issue.record("writing to a closed port succeeded")
        } catch let error as DatabaseError {
            #expect(error.kind == .connection)
            #expect(error.isRetryable)
        }
        await unreachable.shutdown()
    }

    @Test("migrations apply once and are recorded; running them again changes nothing")
    func migrationsAreIdempotent() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let migrator = Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path)
        let first = try migrator.apply(conninfo: database.url, logger: Logger(label: "test"))
        #expect(first == (try migrator.files().map { String($0.dropLast(4)) }))
        #expect(try migrator.apply(conninfo: database.url, logger: Logger(label: "test")).isEmpty)
        let tables = try database.connect().query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).compactMap { $0[0] }
        #expect(tables == [
            "dead_letters", "feed_gaps", "ingest_state", "options_aggregates", "options_fmv", "options_quotes", "options_trades",
            "price_staleness_alerts", "schema_migrations",
            "symbol_health_history", "websocket_health_logs",
        ])
        let primaryKey = try database.connect().query(
            """
            SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum))
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = 'options_trades'::regclass AND i.indisprimary
            """)
        #expect(primaryKey == [["sym,ts,seq"]])
    }

    @Test("SQLSTATEs map to the error classes of docs/design.md §5.3", arguments: [
        ("08006", DatabaseError.Kind.connection), ("08001", .connection), ("57P01", .connection), ("57014", .timeout),
        ("22P02", .data), ("22003", .data), ("23505", .constraint), ("23514", .constraint), ("28P01", .auth),
        ("42P01", .schema), ("42703", .schema), ("42P10", .schema), ("42601", .other), ("", .other),
    ])
    func sqlStateClasses(_ state: String, _ kind: DatabaseError.Kind) {
        #expect(DatabaseError.kind(forSQLState: state) == kind)
    }

    @Test("connection strings are validated without being echoed, and masked for logs")
    func conninfoValidationAndMasking() {
        #expect(PGConnection.validate(conninfo: "postgresql://u:pw@localhost:5432/db") == nil)
        #expect(PGConnection.validate(conninfo: "host=localhost port=5432 dbname=x") == nil)
        #expect(PGConnection.validate(conninfo: "postgresql://u:secretpw@localhost:notaport/db") != nil)
        #expect(PGConnection.validate(conninfo: "this is not a conninfo") != nil)
        #expect(PGConnection.validate(conninfo: "postgresql://u:secretpw@localhost:5432/db?bogus=1") != nil)
        let masked = PGConnection.masked(conninfo: "postgresql://trader:secretpw@db.example:5433/ticks")
        #expect(masked == "postgresql://trader:***@db.example:5433/ticks")
        #expect(!(PGConnection.validate(conninfo: "postgresql://u:secretpw@localhost:notaport/db") ?? "").contains("secretpw"))
    }
}

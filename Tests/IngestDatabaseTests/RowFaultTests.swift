import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// Errors that are not data or constraint errors but that the rows cause:
/// against the real PostgreSQL server that scripts/test starts.
@Suite("Rows to blame", .serialized)
struct RowFaultTests {
    static func batch(count: Int, guilty: (Int) -> Bool, guiltySize: Int64) -> [OptionTrade] {
        (0..<count).map { index in
            PostgresTradeWriterTests.trade(
                "O:SPY251219C00650000", price: 1.25, size: guilty(index) ? guiltySize : 5, conditions: [],
                t: 1_764_772_200_000 + Int64(index), q: Int64(index))
        }
    }

    @Test("a trigger that raises (P0001) for some rows: those rows are dead-lettered and the rest is committed", arguments: WriteMode.allCases)
    func triggerRaises(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        try database.connect().execute(
            """
            CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.size = 666 THEN RAISE EXCEPTION 'size 666 refused by a trigger'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER refuse_666 BEFORE INSERT ON options_trades FOR EACH ROW EXECUTE FUNCTION refuse_666();
            """)
        let batch = Self.batch(count: 1000, guilty: { $0 % 97 == 0 }, guiltySize: 666)
        let guilty = batch.filter { $0.size == 666 }
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Logger(label: "test"))
        let result = try await writer.write(batch)
        // The same rows again, as a spool replay would: no stall, nothing new.
        let again = try await writer.write(batch)
        await writer.shutdown()
        #expect(result.trades == 1000)
        #expect(result.inserted == 1000 - guilty.count)
        #expect(Set(result.deadLetters.map(\.raw)) == Set(guilty.map(\.polygonJSON)))
        #expect(result.deadLetters.allSatisfy { $0.sqlState == "P0001" && $0.reason == "rejected" })
        #expect(again.inserted == 0)
        let connection = try database.connect()
        #expect(try connection.query("SELECT count(*) FROM options_trades") == [[String(1000 - guilty.count)]])
        #expect(try connection.query("SELECT count(*) FROM options_trades WHERE size = 666") == [["0"]])
        let letters = try connection.query("SELECT DISTINCT source, sqlstate FROM dead_letters")
        #expect(letters == [["database", "P0001"]])
    }

    @Test("a row too large for a B-tree index (54000) is dead-lettered and the rest is committed")
    func indexRowTooLarge() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        // An index whose entry for trades of size 777 is ~6 KB of incompressible text, past
        // the B-tree's 2704-byte limit: Postgres refuses those rows with 54000.
        try database.connect().execute(
            """
            CREATE FUNCTION wide(key text) RETURNS text LANGUAGE sql IMMUTABLE AS
              $$ SELECT string_agg(md5(key || i::text), '') FROM generate_series(1, 200) AS i $$;
            CREATE INDEX wide_777 ON options_trades ((wide(sym || seq::text))) WHERE size = 777;
            """)
        let batch = Self.batch(count: 500, guilty: { $0 == 3 || $0 == 250 || $0 == 499 }, guiltySize: 777)
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Logger(label: "test"))
        let result = try await writer.write(batch)
        await writer.shutdown()
        #expect(result.inserted == 497)
        #expect(result.deadLetters.count == 3)
        #expect(result.deadLetters.allSatisfy { $0.sqlState == "54000" })
        #expect(try database.connect().query("SELECT count(*) FROM options_trades") == [["497"]])
    }

    @Test("a schema error (no such table) is not blamed on the rows: nothing is dead-lettered, the write fails")
    func schemaErrorIsNotTheRows() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Logger(label: "test"))
        _ = try await writer.write(Self.batch(count: 1, guilty: { _ in false }, guiltySize: 5))
        try database.connect().execute("ALTER TABLE options_trades RENAME TO options_trades_moved")
        await #expect(throws: DatabaseError.self) {
            _ = try await writer.write(Self.batch(count: 10, guilty: { _ in false }, guiltySize: 5))
        }
        await writer.shutdown()
        #expect(try database.connect().query("SELECT count(*) FROM dead_letters") == [["0"]])
    }

    @Test("which errors may be the rows' fault", arguments: [
        ("P0001", true), ("54000", true), ("42804", true), ("22P02", false), ("40001", false), ("40P01", false),
        ("53100", false), ("55P03", false), ("57014", false), ("08006", false), ("42P01", false), ("42501", false),
        ("XX000", false), ("58030", false),
    ])
    func classes(state: String, blamed: Bool) {
        let error = DatabaseError(kind: DatabaseError.kind(forSQLState: state), sqlState: state, message: "m")
        #expect(error.mayBeCausedByRows == blamed)
    }
}

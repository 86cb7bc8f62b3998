import OptionsFeed
import Testing

@testable import IngestDatabase

/// The QuestDB path's statements and error classes (no QuestDB server runs
/// here: these check the shapes; `WRITE_MODE=insert` runs its Postgres twin).
@Suite("QuestDB dialect")
struct QuestDBDialectTests {
    @Test("a multi-row INSERT binds every value: 13 parameters a row, numbered in order, no ON CONFLICT")
    func insertStatementShape() {
        let sql = QuestDBDialect.insertTrades(rows: 2)
        #expect(sql.hasPrefix("INSERT INTO options_trades (sym, underlying, expiry"))
        #expect(sql.hasSuffix("($14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"))
        #expect(!sql.contains("ON CONFLICT"))
        let trade = OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650500")!, exchange: 7, price: 12.5, size: 3, conditions: [209, 12],
            timestampMs: 1_764_772_200_123, sequence: 42, receivedAtMicros: 1_764_772_200_456_789)
        let parameters = QuestDBDialect.parameters([trade][...])
        #expect(parameters.count == 13)
        #expect(parameters == [
            "O:SPY251219C00650500", "SPY", "2025-12-19", "C", "650.5", "7", "12.5", "3", "3750.0", "{209,12}",
            "2025-12-03T14:30:00.123000Z", "42", "2025-12-03T14:30:00.456789Z",
        ])
    }

    @Test("a QuestDB gap close finds its row by its dedup key (started_at, reason), compares no clocks, and never ends before it started")
    func gapStatements() {
        let row = GapRow(startedAtMicros: 1_764_772_200_000_000, reason: "restart")
        let (insert, insertParameters) = QuestDBDialect.gapStatement(.opened(row))
        #expect(insert == "INSERT INTO feed_gaps (started_at, reason, from_t) VALUES ($1, $2, $3)")
        #expect(insertParameters == ["2025-12-03T14:30:00.000000Z", "restart", nil])
        let (close, closeParameters) = QuestDBDialect.gapStatement(.closed(row, atMicros: 1_764_772_199_000_000))
        #expect(close == "UPDATE feed_gaps SET ended_at = $1 WHERE started_at = $2 AND reason = $3 AND ended_at IS NULL")
        #expect(closeParameters == ["2025-12-03T14:30:00.000000Z", "2025-12-03T14:30:00.000000Z", "restart"])
        #expect(!close.contains("<="))
        // Feed times and the backfill mark, as on PostgreSQL.
        let timed = GapRow(startedAtMicros: 1_764_772_200_000_000, reason: "reconnect", fromT: 1_764_772_199_500)
        #expect(QuestDBDialect.gapStatement(.opened(timed)).1.last == "1764772199500")
        let (marked, markedParameters) = QuestDBDialect.gapStatement(.closed(timed, atMicros: 1_764_772_201_000_000, toT: 1_764_772_200_900, backfill: true))
        #expect(marked == "UPDATE feed_gaps SET ended_at = $1, to_t = $4, backfill = 'pending' WHERE started_at = $2 AND reason = $3 AND ended_at IS NULL")
        #expect(markedParameters.last == "1764772200900")
        let (leftOpen, leftOpenParameters) = QuestDBDialect.gapStatement(.closedLeftOpen(.every, atMicros: 1_764_772_201_000_000, toT: 7, backfill: true))
        #expect(leftOpen == "UPDATE feed_gaps SET ended_at = $1, to_t = $2, backfill = 'pending' WHERE ended_at IS NULL")
        #expect(leftOpenParameters.count == 2)
    }

    @Test("the QuestDB migration splits into one statement per CREATE TABLE, comments dropped")
    func migrationStatements() throws {
        let sql = "-- header; with a semicolon\nCREATE TABLE a (\n  x INT\n) TIMESTAMP(x);\n\nCREATE TABLE b (y INT);\n"
        #expect(QuestDBDialect.statements(of: sql) == ["CREATE TABLE a (\n  x INT\n) TIMESTAMP(x)", "CREATE TABLE b (y INT)"])
    }

    @Test("QuestDB errors (SQLSTATE 00000) are classed by connection status and message", arguments: [
        ("inconvertible value: `abc` [STRING -> DOUBLE]", true, DatabaseError.Kind.data),
        ("could not parse timestamp [value=x]", true, .data),
        ("timeout, query aborted", true, .timeout),
        ("table does not exist [table=options_trades]", true, .schema),
        ("anything at all", false, .connection),
        ("invalid password", true, .auth),
    ])
    func questDBClasses(_ message: String, _ healthy: Bool, _ kind: DatabaseError.Kind) {
        #expect(DatabaseError.kind(sqlState: "00000", message: message, connectionHealthy: healthy) == kind)
    }

    @Test("QuestDB's words for a wrong schema are a schema error, which stops writes, not a data error that dead-letters every row", arguments: [
        "Invalid column: raw_bytes", "invalid column: received_at [position=42]", "unknown column: strike",
        "table does not exist [table=options_trades]", "table not found: feed_gaps", "column not found: seq",
    ])
    func questDBSchemaErrors(_ message: String) {
        let kind = DatabaseError.kind(sqlState: "00000", message: message, connectionHealthy: true)
        #expect(kind == .schema)
        #expect(kind != .data && kind != .constraint, "the writer dead-letters rows only on data and constraint errors")
        #expect(!DatabaseError(kind: kind, sqlState: "00000", message: message).isRetryable)
        #expect(DatabaseError.kind(sqlState: "00000", message: message, connectionHealthy: false) == .connection, "a dead connection is still a connection error")
    }

    @Test("QuestDB's data errors stay data errors beside the schema words", arguments: [
        "inconvertible value: `abc` [STRING -> DOUBLE]", "invalid timestamp: 2025-13-45", "value out of range",
    ])
    func questDBDataErrorsStay(_ message: String) {
        #expect(DatabaseError.kind(sqlState: "00000", message: message, connectionHealthy: true) == .data)
    }

    @Test("a Postgres error keeps its SQLSTATE class; an unclassed one on a dead connection is a connection error")
    func postgresClassesUnchanged() {
        #expect(DatabaseError.kind(sqlState: "23505", message: "duplicate key", connectionHealthy: true) == .constraint)
        #expect(DatabaseError.kind(sqlState: nil, message: "server closed the connection", connectionHealthy: false) == .connection)
    }

    @Test("the server's version string says which flavor it is")
    func flavorDetection() {
        #expect(DatabaseFlavor.detect(versionString: "PostgreSQL 12.3, compiled by Visual C++ build 1914, 64-bit, QuestDB") == .questdb)
        #expect(DatabaseFlavor.detect(versionString: "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu") == .postgres)
    }
}

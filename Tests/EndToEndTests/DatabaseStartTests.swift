import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// The database end of the bad-input promises (docs/guarantees.md): a database that is not up
/// at start, or refuses the password, gets a clear log line and a retry,
/// never a crash or a silent exit.
@Suite("Database at start", .serialized, .temporaryDirectory("dbstart"))
struct DatabaseStartTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    func retryLines(_ log: String) -> [[String: Any]] {
        logLines(log, message: "the database is not reachable; retrying")
    }

    @Test("a database that is down at start is waited for with a log line per attempt; once it is up the service streams")
    func waitsForTheDatabase() async throws {
        // A Postgres of this test's own, on a port chosen before it starts.
        try await PrivatePostgres.with(database: "late", started: false) { server in
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "21", "--rate", "500", "--count", "2000"], databaseURL: server.url, log: "late.log",
                ["RETRY_DELAY_MS": "200", "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0", "FLUSH_INTERVAL_MS": "200"], directory: directory)
            let (ingester, log) = (pipeline.ingester, pipeline.log)

            let lines = try await waitFor(timeout: .seconds(30), what: "3 retry lines") {
                let lines = retryLines(log)
                return lines.count >= 3 ? lines : nil
            }
            #expect(ingester.isRunning, "an unreachable database is not fatal")
            #expect(lines.allSatisfy { $0["level"] as? String == "error" && ($0["error"] as? String ?? "").contains("connection") })
            #expect(lines.prefix(3).map { $0["attempt"] as? Int } == [1, 2, 3])

            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(40), what: "migrations after the database came up") {
                logLines(log, message: "migrations up to date").isEmpty ? nil : true
            }
            let rows = try await waitFor(timeout: .seconds(60), what: "rows in the late database") {
                let count = try PGConnection(conninfo: server.url).query("SELECT count(*) FROM options_trades").first?.first ?? nil
                return (Int(count ?? "0") ?? 0) > 0 ? count : nil
            }
            #expect((Int(rows) ?? 0) > 0, "trades reached the database that was down at start")
            #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
            pipeline.feed.signal(SIGTERM)
        }
    }

    @Test("a wrong password at start is named as such, retried, and DB_START_MAX_ATTEMPTS ends it with exit 75; SIGTERM ends the wait with 0")
    func wrongPassword() async throws {
        try await PrivatePostgres.with(database: "late") { server in
            // One role that must give a password; everything else stays on trust.
            try PGConnection(conninfo: server.url).execute("CREATE ROLE ingest_pw LOGIN PASSWORD 'right-password'")
            let hba = server.dataDirectory + "/pg_hba.conf"
            let rules = try String(contentsOfFile: hba, encoding: .utf8)
            try ("host all ingest_pw 127.0.0.1/32 scram-sha-256\n" + rules).write(toFile: hba, atomically: false, encoding: .utf8)
            try await server.run("stop")
            try await server.run("start")
            let wrongURL = "postgresql://ingest_pw:wrong-password@127.0.0.1:\(server.port)/late"
            #expect(throws: DatabaseError.self) { _ = try PGConnection(conninfo: wrongURL) }

            let log = directory.appendingPathComponent("password.log").path
            let limited = try await ManagedProcess.ingester(
                port: try freePort(), databaseURL: wrongURL, logFile: log, ["RETRY_DELAY_MS": "100", "DB_START_MAX_ATTEMPTS": "3"],
                directory: directory)
            #expect(try await limited.waitForExit(timeout: .seconds(60)) == 75)
            let retries = logLines(log, message: "the database rejected the credentials (check the user and password in DATABASE_URL); retrying")
            #expect(retries.count == 2)
            #expect(retries.allSatisfy { ($0["error"] as? String ?? "").contains("password authentication failed") })
            let gaveUp = logLines(
                log, message: "the database rejected the credentials (check the user and password in DATABASE_URL); giving up after 3 attempts (DB_START_MAX_ATTEMPTS)")
            #expect(gaveUp.count == 1)
            let text = try String(contentsOfFile: log, encoding: .utf8) + limited.stdout + limited.stderr
            #expect(!text.contains("wrong-password"), "the password is never logged")

            let waitingLog = directory.appendingPathComponent("password-wait.log").path
            let waiting = try await ManagedProcess.ingester(
                port: try freePort(), databaseURL: wrongURL, logFile: waitingLog, ["RETRY_DELAY_MS": "100"], directory: directory)
            _ = try await waitFor(timeout: .seconds(30), what: "a retry line") {
                logLines(waitingLog, message: "the database rejected the credentials (check the user and password in DATABASE_URL); retrying")
                    .count >= 2 ? true : nil
            }
            #expect(waiting.isRunning)
            #expect(try await waiting.stop(timeout: .seconds(20)) == 0)
            #expect(logLines(waitingLog, message: "stopped while waiting for the database").count == 1)
        }
    }

    @Test("options_trades without its natural key stops the start with exit 64 and one line saying what is missing")
    func missingNaturalKey() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        try database.connect().execute("ALTER TABLE options_trades DROP CONSTRAINT options_trades_pkey")
        let log = directory.appendingPathComponent("schema.log").path
        let ingester = try await ManagedProcess.ingester(port: try freePort(), databaseURL: database.url, logFile: log, directory: directory)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 64)
        let lines = ingester.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(lines == [
            "error: database schema: options_trades has no primary key or unique index on exactly (sym, ts, seq): without it a trade written twice is stored twice; restore it, e.g. ALTER TABLE options_trades ADD PRIMARY KEY (sym, ts, seq)"
        ])
        #expect(logLines(log, message: "feed connecting").isEmpty, "nothing is read while the table cannot keep its promise")

        // A unique index on the same columns, in another order, is as good as the primary key.
        try database.connect().execute("CREATE UNIQUE INDEX options_trades_key ON options_trades (seq, sym, ts)")
        #expect(try SchemaCheck.problems(conninfo: database.url).isEmpty)
        try database.connect().execute("DROP INDEX options_trades_key; CREATE UNIQUE INDEX options_trades_key ON options_trades (sym, ts, seq) WHERE seq > 0")
        #expect(try SchemaCheck.problems(conninfo: database.url).count == 1, "a partial index is no arbiter")

        // A pair's gap fence needs the leadership term: a schema from before it is named.
        try database.connect().execute("DROP INDEX options_trades_key; ALTER TABLE options_trades ADD PRIMARY KEY (sym, ts, seq)")
        try database.connect().execute("ALTER TABLE ingest_state DROP COLUMN leader_term")
        #expect(try SchemaCheck.problems(conninfo: database.url) == ["ingest_state has no column leader_term: apply the migrations (ingest-options migrate)"])
    }

    @Test("a subscription whose events have no table (migrations not applied) stops the start with exit 64 naming the table")
    func missingEventTable() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        try database.connect().execute("DROP TABLE options_quotes")
        #expect(try SchemaCheck.problems(conninfo: database.url, tables: ["options_aggregates"]).isEmpty)
        let log = directory.appendingPathComponent("event-table.log").path
        let ingester = try await ManagedProcess.ingester(
            port: try freePort(), databaseURL: database.url, logFile: log,
            ["POLYGON_SUBSCRIPTIONS": "T.*,AM.*,Q.O:SPY251219C00650000"], directory: directory)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 64)
        let lines = ingester.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(lines == [
            "error: database schema: table options_quotes does not exist, and POLYGON_SUBSCRIPTIONS has its events: apply the migrations (ingest-options migrate)"
        ])
        #expect(logLines(log, message: "feed connecting").isEmpty)
    }
}

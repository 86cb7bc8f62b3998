import Foundation
import IngestApp
import IngestDatabase
import IngestService
import IngestTestSupport
import Testing

/// The whole product: `feed-sim` → `ingest-options` → PostgreSQL, as
/// subprocesses of the built binaries, against the test server.
@Suite("End to end", .serialized, .temporaryDirectory("e2e"))
struct EndToEndTests {
    /// One ledger line of feed-sim: `sym,t,q,p,s,x,valid,c`.
    struct LedgerTrade: Hashable {
        var sym: String
        var t: Int64
        var q: Int64
        var price: Double
        var size: Int64
        var x: Int
        var conditions: [Int]

        var notional: Double { price * Double(size) * 100 }
        var key: String { "\(sym)|\(t)|\(q)" }
    }

    static func readLedger(_ path: String) throws -> (valid: [LedgerTrade], invalid: Int) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.first == "sym,t,q,p,s,x,valid,c")
        var valid: [LedgerTrade] = []
        var invalid = 0
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields[6] == "1" else {
                invalid += 1
                continue
            }
            valid.append(
                LedgerTrade(
                    sym: fields[0], t: Int64(fields[1])!, q: Int64(fields[2])!, price: Double(fields[3])!,
                    size: Int64(fields[4])!, x: Int(fields[5])!,
                    conditions: fields[7].isEmpty ? [] : fields[7].split(separator: "|").map { Int($0)! }))
        }
        return (valid, invalid)
    }

    /// `sym|t|q` of every trade stored in the database at `conninfo`: the ledger's `key`.
    static func storedKeys(_ conninfo: String) throws -> [String] {
        try PGConnection(conninfo: conninfo)
            .query("SELECT sym || '|' || (extract(epoch FROM ts) * 1000)::bigint || '|' || seq FROM options_trades")
            .compactMap { $0[0] }
    }

    /// Runs feed-sim with a seeded stream until it has sent `count` trades and
    /// exited, with an ingester attached; stops the ingester with SIGTERM once
    /// it has read the whole stream, and returns the ledger path and the ingester's exit status.
    static func ingestOnce(
        seed: UInt64, count: Int, database: TestDatabase, directory: URL, tag: String, writeMode: String, settings: [String: String] = [:]
    ) async throws -> (ledger: String, summary: String, exitStatus: Int32) {
        let ledger = directory.appendingPathComponent("ledger-\(tag).csv").path
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "\(seed)", "--rate", "0", "--count", "\(count)", "--symbols", "300", "--invalid-fraction", "0.01",
                   "--ledger", ledger, "--exit-after-count"],
            databaseURL: database.url, log: "ingest-\(tag).log", settings, arguments: ["--write-mode", writeMode], directory: directory)
        let ingester = pipeline.ingester

        // The stream is over once the ingester saw the server close the socket.
        try await pipeline.waitForFeedEnd(exitWithin: .seconds(180), endSeenWithin: .seconds(60))
        let summary = pipeline.feed.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let status = try await ingester.stop(timeout: .seconds(60))
        if status != 0 { Issue.record("ingester exited \(status): \(ingester.stdout.suffix(3000)) \(ingester.stderr.suffix(2000))") }
        return (ledger, summary, status)
    }

    @Test(
        "a seeded stream of 20 000 trades with ~1 % invalid lands exactly once with every column intact; a replay changes nothing",
        arguments: ["copy", "insert"])
    func seededStreamLandsExactlyOnce(writeMode: String) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()

        let first = try await Self.ingestOnce(seed: 4242, count: 20_000, database: database, directory: directory, tag: "1", writeMode: writeMode)
        #expect(first.exitStatus == 0)
        #expect(first.summary.hasPrefix(#"{"sent":20000,"#))
        let (valid, invalid) = try Self.readLedger(first.ledger)
        #expect(valid.count + invalid == 20_000)
        #expect(invalid > 100 && invalid < 350, "about 1 % invalid, got \(invalid)")

        let threshold = 10_000.0
        let expected = valid.filter { $0.notional >= threshold }
        #expect(expected.count > 5_000 && expected.count < valid.count, "the threshold filters some but not all")
        #expect(Set(expected.map(\.key)).count == expected.count, "(sym, t, q) unique within a run")

        let connection = try database.connect()
        let rows = try connection.query(
            """
            SELECT sym, (extract(epoch FROM ts) * 1000)::bigint, seq, price, size, exchange, conditions::text,
                   underlying, expiry::text, option_type, strike::text, notional
            FROM options_trades
            """)
        #expect(rows.count == expected.count)
        var byKey: [String: [String?]] = [:]
        for row in rows { byKey["\(row[0]!)|\(row[1]!)|\(row[2]!)"] = row }
        #expect(Set(byKey.keys) == Set(expected.map(\.key)))

        var mismatches = 0
        for trade in expected {
            guard let row = byKey[trade.key] else { continue }
            // The symbol's parts, cut independently of the parser: O:<underlying><YYMMDD><C|P><strike×1000, 8 digits>.
            let body = trade.sym.dropFirst(2)
            let strikeDigits = Int(body.suffix(8))!
            let type = String(body.dropLast(8).suffix(1))
            let date = body.dropLast(9).suffix(6)
            let underlying = String(body.dropLast(15))
            let expiry = "20\(date.prefix(2))-\(date.dropFirst(2).prefix(2))-\(date.suffix(2))"
            let strike = "\(strikeDigits / 1000).\(String(format: "%03d", strikeDigits % 1000))"
            let conditions = "{" + trade.conditions.map(String.init).joined(separator: ",") + "}"
            let ok = Double(row[3]!) == trade.price && Int64(row[4]!) == trade.size && Int(row[5]!) == trade.x
                && row[6] == conditions && row[7] == underlying && row[8] == expiry && row[9] == type && row[10] == strike
                && Double(row[11]!) == trade.notional
            if !ok {
                mismatches += 1
                if mismatches <= 5 { Issue.record("row differs from the ledger: \(row) vs \(trade)") }
            }
        }
        #expect(mismatches == 0)
        let invalidInTable = try connection.query("SELECT count(*) FROM options_trades WHERE price <= 0 OR size <= 0")
        #expect(invalidInTable == [["0"]])

        // Every trade the decoder rejected is a dead letter, once.
        let feedDeadLetters = try connection.query("SELECT count(*) FROM dead_letters WHERE source = 'feed'")
        #expect(feedDeadLetters == [[String(invalid)]])

        let fingerprint = "SELECT count(*), md5(string_agg(sym || ts::text || seq || price || size || conditions::text, ',' ORDER BY sym, ts, seq)) FROM options_trades"
        let before = try connection.query(fingerprint)

        // The same seeded stream again: the same trades, and the table does not change.
        let second = try await Self.ingestOnce(seed: 4242, count: 20_000, database: database, directory: directory, tag: "2", writeMode: writeMode)
        #expect(second.exitStatus == 0)
        #expect(try String(contentsOfFile: second.ledger, encoding: .utf8) == (try String(contentsOfFile: first.ledger, encoding: .utf8)))
        #expect(try connection.query(fingerprint) == before)
    }
}

@Suite("Command line")
struct CommandLineTests {
    let directory = FileManager.default.temporaryDirectory

    func run(_ arguments: [String], environment: [String: String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        // Only what the test gives: no stray POLYGON_* or DATABASE_URL from the machine.
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        let process = try await ManagedProcess("ingest-options", arguments, environment: env, directory: directory, inheritEnvironment: false)
        let status = try await process.waitForExit(timeout: .seconds(30))
        return (status, process.stdout, process.stderr)
    }

    @Test("--help lists every flag")
    func help() async throws {
        let result = try await run(["--help"], environment: [:])
        #expect(result.status == 0)
        for flag in Setting.all.map(\.flag) + ["--no-migrate", "--env-file", "migrate"] {
            #expect(result.stdout.contains(flag), "--help does not list \(flag)")
        }
    }

    @Test(
        "bad configuration exits 64 with one line naming the variable, and never prints a secret",
        arguments: [
            (["POLYGON_API_KEY": "supersecretkey1", "DATABASE_URL": "postgresql://u:secretpw@localhost/db", "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "abc"], "POLYGON_OPTION_TRADE_VALUE_THRESHOLD"),
            (["POLYGON_API_KEY": "supersecretkey1", "DATABASE_URL": "postgresql://u:secretpw@localhost:port/db"], "DATABASE_URL"),
            (["DATABASE_URL": "postgresql://u:secretpw@localhost/db"], "POLYGON_API_KEY"),
            (["POLYGON_API_KEY": "supersecretkey1"], "DATABASE_URL"),
        ])
    func badConfiguration(_ environment: [String: String], _ variable: String) async throws {
        let result = try await run([], environment: environment)
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains(variable) == true)
        for output in [result.stdout, result.stderr] {
            #expect(!output.contains("secretpw") && !output.contains("supersecretkey1"))
        }
    }

    @Test("a flag wins over the environment")
    func flagWins() async throws {
        let result = try await run(
            ["--polygon-option-trade-value-threshold", "x1"],
            environment: ["POLYGON_API_KEY": "k", "DATABASE_URL": "postgresql://localhost/db", "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "5"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("\"x1\""))
    }
}

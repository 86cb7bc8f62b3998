import Foundation
import IngestDatabase
import IngestPipeline
import IngestSpool
import IngestTestSupport
import OptionsFeed
import Testing

/// Database outages, crashes and a damaged spool, with a real Postgres and
/// feed-sim (docs/design.md §5.3): nothing lost, nothing doubled.
@Suite("Database faults", .serialized, .temporaryDirectory("dbfaults"))
struct DatabaseFaultTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    static let fast = [
        "WS_BACKOFF_INITIAL_MS": "200", "WS_BACKOFF_MAX_MS": "1000", "FLUSH_INTERVAL_MS": "1000", "RETRY_DELAY_MS": "100",
        "MAX_RETRIES": "1", "DB_BREAKER_OPEN_MS": "2000", "SHUTDOWN_TIMEOUT_MS": "10000",
    ]

    /// A Postgres server of this test's own, which it may stop and start.
    struct PrivateServer {
        let environment: [String: String]
        let url: String

        init(directory: URL) async throws {
            let port = try freePort()
            environment = ProcessInfo.processInfo.environment.merging([
                "PG_PORT": "\(port)", "PG_DATA": repositoryRoot.appendingPathComponent(".data/test-pg-\(port)").path,
                "PG_DATABASE": "outage",
            ]) { $1 }
            let output = try await runTool(repositoryRoot.appendingPathComponent("scripts/pg").path, ["start"], environment: environment)
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("DATABASE_URL=") }) else {
                throw TestSetupError("no DATABASE_URL from scripts/pg: \(output)")
            }
            url = String(line.dropFirst("DATABASE_URL=".count))
        }

        func run(_ command: String) async throws {
            try await runTool(repositoryRoot.appendingPathComponent("scripts/pg").path, [command], environment: environment)
        }

        /// Runs `body` with a server of its own, stopped and removed afterwards, also when `body` throws.
        static func with<T>(directory: URL, _ body: (PrivateServer) async throws -> T) async throws -> T {
            let server = try await PrivateServer(directory: directory)
            return try await withCleanup({ await server.destroy() }) { try await body(server) }
        }

        func destroy() async {
            try? await run("stop")
            if let data = environment["PG_DATA"] {
                try? FileManager.default.removeItem(atPath: data)
                try? FileManager.default.removeItem(atPath: data + "-socket")
                try? FileManager.default.removeItem(atPath: data + ".log")
            }
        }
    }

    /// Stops feed-sim first, waits until the ingester saw the end of the stream, then stops the ingester.
    static func finish(sim: ManagedProcess, ingester: ManagedProcess, log: String) async throws {
        let streamed = logLines(log, message: "feed streaming").count
        sim.signal(SIGTERM)
        #expect(try await sim.waitForExit(timeout: .seconds(20)) == 0)
        _ = try await waitFor(timeout: .seconds(20), what: "the ingester to see the end of the stream") {
            logLines(log, message: "feed disconnected").count >= streamed ? true : nil
        }
        ingester.signal(SIGTERM)
        #expect(try await ingester.waitForExit(timeout: .seconds(60)) == 0)
    }

    /// The spool's segment files (the directory also holds its `.lock`).
    static func segments(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".spool") }.sorted()
    }

    /// `sym|t|q` of every stored trade.
    func storedKeys(_ url: String) throws -> [String] {
        try PGConnection(conninfo: url)
            .query("SELECT sym || '|' || (extract(epoch FROM ts) * 1000)::bigint || '|' || seq FROM options_trades")
            .compactMap { $0[0] }
    }

    @Test("Postgres stopped for 20 s mid-stream: the breaker opens, trades spool, and after the restart every one is in the table once")
    func outageSpoolsAndRecovers() async throws {
        try await PrivateServer.with(directory: directory) { server in
            let ledger = directory.appendingPathComponent("outage.csv").path
            let sim = try await ManagedProcess(
                "feed-sim", ["--port", "0", "--seed", "11", "--rate", "1000", "--invalid-fraction", "0.01", "--ledger", ledger],
                directory: directory)
            let port = try await listeningPort(sim)
            let log = directory.appendingPathComponent("outage.log").path
            var environment = ingesterEnvironment(port: port, databaseURL: server.url, logFile: log, Self.fast)
            environment["SPOOL_DIR"] = directory.appendingPathComponent("spool").path
            let ingester = try await ManagedProcess("ingest-options", [], environment: environment, directory: directory)
            try await waitForTrades(in: server.url)
            try await server.run("stop")
            // Time passing is the point: a 20 s outage, long enough for the breaker to open and 20 s of trades to spool.
            try await Task.sleep(for: .seconds(20))
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(60), what: "the breaker closed and the spool replayed") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "closed" }
                    && !logLines(log, message: "spool segment replayed").isEmpty ? true : nil
            }
            try await Self.finish(sim: sim, ingester: ingester, log: log)

            let breaker = logLines(log, message: "database circuit breaker state changed")
            #expect(breaker.contains { $0["to"] as? String == "open" })
            #expect(breaker.contains { $0["to"] as? String == "closed" })
            let stopped = try #require(logLines(log, message: "stopped").first)
            #expect((stopped["spooled_trades"] as? Int ?? 0) > 1000, "20 s of trades went through the spool")
            #expect(stopped["trades_dropped"] as? Int == 0)

            let (valid, _) = try EndToEndTests.readLedger(ledger)
            let expected = Set(valid.filter { $0.notional >= 10_000 }.map(\.key))
            let stored = try storedKeys(server.url)
            #expect(stored.count == expected.count, "nothing doubled, nothing lost")
            #expect(Set(stored) == expected)
            #expect(try Self.segments(in: directory.appendingPathComponent("spool").path).isEmpty)
        }
    }

    @Test("kill -9 mid-stream and restart: nothing doubled; only trades of the last flush interval are missing; a restart gap is recorded")
    func killAndRestart() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let ledger = directory.appendingPathComponent("kill.csv").path
        let sim = try await ManagedProcess(
            "feed-sim", ["--port", "0", "--seed", "12", "--rate", "1000", "--ledger", ledger], directory: directory)
        let port = try await listeningPort(sim)
        var environment = ingesterEnvironment(
            port: port, database: database, logFile: directory.appendingPathComponent("kill-1.log").path, Self.fast)
        environment["SPOOL_DIR"] = directory.appendingPathComponent("spool").path
        let first = try await ManagedProcess("ingest-options", [], environment: environment, directory: directory)
        // Mid-stream: once it has committed some, and a second later, with a flush interval's trades in flight.
        try await waitForTrades(in: database.url)
        try await Task.sleep(for: .seconds(1))  // time passing is the point: trades in flight at the kill
        first.signal(SIGKILL)
        _ = try await first.waitForExit(timeout: .seconds(10))
        let log = directory.appendingPathComponent("kill-2.log").path
        environment["LOG_FILE"] = log
        let second = try await ManagedProcess("ingest-options", [], environment: environment, directory: directory)
        _ = try await waitFor(timeout: .seconds(20), what: "the second ingester streaming") {
            logLines(log, message: "feed streaming").isEmpty ? nil : true
        }
        // Time passing is the point: the second run streams for a while before the feed stops.
        try await Task.sleep(for: .seconds(4))
        try await Self.finish(sim: sim, ingester: second, log: log)

        let (valid, _) = try EndToEndTests.readLedger(ledger)
        let expected = valid.filter { $0.notional >= 10_000 }
        let stored = Set(try storedKeys(database.url))
        #expect(stored.isSubset(of: Set(expected.map(\.key))), "nothing that was not sent")
        let missing = expected.filter { !stored.contains($0.key) }
        // What a kill -9 may lose: trades received but not yet flushed (one flush interval, 1 s at 1000/s)
        // and what was in the socket. They form one run of the stream, before the restart.
        #expect(missing.count <= 1500, "lost \(missing.count) trades")
        if let low = missing.map(\.q).min(), let high = missing.map(\.q).max() {
            let storedInside = expected.filter { stored.contains($0.key) && $0.q > low && $0.q < high }
            #expect(storedInside.isEmpty, "the missing trades are one contiguous stretch of the stream")
        }
        let gaps = try database.connect().query("SELECT reason, ended_at IS NOT NULL FROM feed_gaps ORDER BY id")
        #expect(gaps.first == ["restart", "t"], "the restart is a recorded gap, closed by the first trade after it")
    }

    @Test("a spool left with a torn tail is replayed at start, minus the torn record, which is counted")
    func tornSpoolReplayed() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let spoolDirectory = directory.appendingPathComponent("spool").path
        let trades = (0..<60).map { index in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 12.5, size: 20, conditions: [209],
                timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000)
        }
        do {
            let spool = try Spool(configuration: .init(directory: spoolDirectory))
            #expect(try spool.append(trades[0..<30]))
            #expect(try spool.append(trades[30..<60]))
            try spool.close()
        }
        let segment = try #require(try Self.segments(in: spoolDirectory).first)
        let path = spoolDirectory + "/" + segment
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))

        // No feed at all: the spool is replayed whatever the feed does.
        let silent = try SilentListener()
        let log = directory.appendingPathComponent("torn.log").path
        var environment = ingesterEnvironment(
            port: silent.port, database: database, logFile: log, Self.fast.merging(["WS_MAX_RECONNECT_ATTEMPTS": "0"]) { $1 })
        environment["SPOOL_DIR"] = spoolDirectory
        let ingester = try await ManagedProcess("ingest-options", [], environment: environment, directory: directory)
        _ = try await waitFor(timeout: .seconds(20), what: "the spool replayed") {
            logLines(log, message: "spool segment replayed").isEmpty ? nil : true
        }
        ingester.signal(SIGTERM)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 0)
        let skipped = logLines(log, message: "spool records skipped: torn or failed their checksum")
        #expect(skipped.first?["records"] as? Int == 1)
        let stored = try database.connect().query("SELECT seq FROM options_trades ORDER BY seq").compactMap { $0[0].flatMap { Int($0) } }
        #expect(stored == Array(0..<30))
        #expect(try Self.segments(in: spoolDirectory).isEmpty)
    }
}

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

    /// The spool's segment files (the directory also holds its `.lock`).
    static func segments(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".spool") }.sorted()
    }

    /// Writes two batches of `batch` trades of one contract, sequence numbers 0 ..< 2 × `batch`, into a spool in
    /// `directory` (with segments of `segmentBytes`, when given), as an ingester stopped during an outage leaves it.
    static func writeSpool(_ directory: String, batch: Int, segmentBytes: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let trades = (0..<2 * batch).map { index in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 12.5, size: 20, conditions: [209],
                timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000)
        }
        let spool = try Spool(
            configuration: segmentBytes.map { .init(directory: directory, segmentBytes: $0) } ?? .init(directory: directory))
        #expect(try spool.append(trades[..<batch]), sourceLocation: sourceLocation)
        #expect(try spool.append(trades[batch...]), sourceLocation: sourceLocation)
        try spool.close()
    }

    /// Runs `body` with an ingester that has no feed at all (a listener that never answers the upgrade) and the
    /// spool in `spool`: the spool is replayed whatever the feed does.
    static func withSpoolReplay<T>(
        _ spool: String, database: TestDatabase, logFile: String, directory: URL, _ body: (ManagedProcess) async throws -> T
    ) async throws -> T {
        let silent = try SilentListener()
        let ingester = try await ManagedProcess.ingester(
            port: silent.port, databaseURL: database.url, logFile: logFile, fast.merging(["WS_MAX_RECONNECT_ATTEMPTS": "0"]) { $1 },
            spool: spool, directory: directory)
        let result = try await body(ingester)
        withExtendedLifetime(silent) {}
        return result
    }

    @Test("Postgres stopped for 20 s mid-stream: the breaker opens, trades spool, and after the restart every one is in the table once")
    func outageSpoolsAndRecovers() async throws {
        try await PrivatePostgres.with { server in
            let ledger = directory.appendingPathComponent("outage.csv").path
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "11", "--rate", "1000", "--invalid-fraction", "0.01", "--ledger", ledger], databaseURL: server.url,
                log: "outage.log", Self.fast, spool: directory.appendingPathComponent("spool").path, directory: directory)
            let log = pipeline.log
            try await waitForTrades(in: server.url)
            try await server.run("stop")
            // Time passing is the point: a 20 s outage, long enough for the breaker to open and 20 s of trades to spool.
            try await Task.sleep(for: .seconds(20))
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(60), what: "the breaker closed and the spool replayed") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "closed" }
                    && !logLines(log, message: "spool segment replayed").isEmpty ? true : nil
            }
            try await pipeline.finish()

            let breaker = logLines(log, message: "database circuit breaker state changed")
            #expect(breaker.contains { $0["to"] as? String == "open" })
            #expect(breaker.contains { $0["to"] as? String == "closed" })
            let stopped = try #require(logLines(log, message: "stopped").first)
            #expect((stopped["spooled_trades"] as? Int ?? 0) > 1000, "20 s of trades went through the spool")
            #expect(stopped["trades_dropped"] as? Int == 0)

            let (valid, _) = try EndToEndTests.readLedger(ledger)
            let expected = Set(valid.filter { $0.notional >= 10_000 }.map(\.key))
            let stored = try EndToEndTests.storedKeys(server.url)
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
        let first = try await RunningPipeline.start(
            feed: ["--seed", "12", "--rate", "1000", "--ledger", ledger], databaseURL: database.url, log: "kill-1.log", Self.fast,
            spool: directory.appendingPathComponent("spool").path, directory: directory)
        // Mid-stream: once it has committed some, and a second later, with a flush interval's trades in flight.
        try await waitForTrades(in: database.url)
        try await Task.sleep(for: .seconds(1))  // time passing is the point: trades in flight at the kill
        first.ingester.signal(SIGKILL)
        _ = try await first.ingester.waitForExit(timeout: .seconds(10))
        let second = try await first.withIngester(log: "kill-2.log")
        try await second.waitUntilStreaming(timeout: .seconds(20))
        // Time passing is the point: the second run streams for a while before the feed stops.
        try await Task.sleep(for: .seconds(4))
        try await second.finish()

        let (valid, _) = try EndToEndTests.readLedger(ledger)
        let expected = valid.filter { $0.notional >= 10_000 }
        let stored = Set(try EndToEndTests.storedKeys(database.url))
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
        try Self.writeSpool(spoolDirectory, batch: 30)
        let segment = try #require(try Self.segments(in: spoolDirectory).first)
        let path = spoolDirectory + "/" + segment
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))

        let log = directory.appendingPathComponent("torn.log").path
        try await Self.withSpoolReplay(spoolDirectory, database: database, logFile: log, directory: directory) { ingester in
            try await waitForLog(log, "spool segment replayed", timeout: .seconds(20))
            #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
        }
        let skipped = logLines(log, message: "spool records skipped: torn or failed their checksum")
        #expect(skipped.first?["records"] as? Int == 1)
        let stored = try database.connect().query("SELECT seq FROM options_trades ORDER BY seq").compactMap { $0[0].flatMap { Int($0) } }
        #expect(stored == Array(0..<30))
        #expect(try Self.segments(in: spoolDirectory).isEmpty)
    }
}

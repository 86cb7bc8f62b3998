import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// A shutdown whose writes cannot finish, and rows the database refuses for
/// reasons of their own, with a real Postgres and feed-sim (docs/faults.md).
@Suite("Shutdown bound and rows to blame", .serialized, .temporaryDirectory("shutdown"))
struct ShutdownBoundTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    static let shutdownTimeoutMs = 3000

    /// Streams `seconds` of trades, then stops feed-sim and waits until the ingester saw the end of the stream.
    func streamThenStopFeed(_ pipeline: RunningPipeline, seconds: Int) async throws {
        try await pipeline.waitUntilStreaming(timeout: .seconds(20))
        // Time passing is the point: `seconds` of trades, the amount the test is about.
        try await Task.sleep(for: .seconds(seconds))
        try await pipeline.stopFeed()
    }

    /// A second run with no feed at all: it replays the spool the first one left, then stops.
    func replaySpool(_ spoolDirectory: String, database: TestDatabase) async throws {
        let log = directory.appendingPathComponent("second.log").path
        try await DatabaseFaultTests.withSpoolReplay(spoolDirectory, database: database, logFile: log, directory: directory) { second in
            _ = try await waitFor(timeout: .seconds(30), what: "the spool replayed") {
                (try? DatabaseFaultTests.segments(in: spoolDirectory).isEmpty) == true ? true : nil
            }
            #expect(try await second.stop(timeout: .seconds(30)) == 0)
        }
    }

    /// One run whose writes hang on a lock another session holds; `stop` sends the signals.
    func runAgainstLockedTable(seed: Int, stop: (ManagedProcess) async throws -> Void) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let ledger = directory.appendingPathComponent("ledger-\(seed).csv").path
        let spoolDirectory = directory.appendingPathComponent("spool-\(seed)").path
        let first = try await RunningPipeline.start(
            feed: ["--seed", "\(seed)", "--rate", "1000", "--ledger", ledger], databaseURL: database.url, log: "first-\(seed).log",
            DatabaseFaultTests.fast.merging(["SHUTDOWN_TIMEOUT_MS": "\(Self.shutdownTimeoutMs)"]) { $1 }, spool: spoolDirectory,
            directory: directory)
        try await waitForTrades(in: database.url)
        // Another session takes the table: every write of the ingester now waits on the lock.
        let locker = try database.connect()
        try locker.execute("BEGIN; LOCK TABLE options_trades IN ACCESS EXCLUSIVE MODE")
        try await streamThenStopFeed(first, seconds: 3)

        try await stop(first.ingester)
        try locker.execute("COMMIT")

        let stopped = try #require(first.lines("stopped").last)
        #expect(stopped["trades_dropped"] as? Int == 0)
        try await replaySpool(spoolDirectory, database: database)
        let (valid, _) = try EndToEndTests.readLedger(ledger)
        let expected = Set(valid.filter { $0.notional >= 10_000 }.map(\.key))
        let stored = try EndToEndTests.storedKeys(database.url)
        #expect(stored.count == expected.count, "nothing doubled, nothing lost")
        #expect(Set(stored) == expected, "every trade the first run received is stored once")
    }

    @Test("SIGTERM while another session locks options_trades: exit 0 within SHUTDOWN_TIMEOUT_MS + 2 s; the next run stores every trade")
    func sigtermWithLockedTable() async throws {
        try await runAgainstLockedTable(seed: 41) { ingester in
            let started = ContinuousClock.now
            ingester.signal(SIGTERM)
            let code = try await ingester.waitForExit(timeout: .seconds(30))
            #expect(code == 0)
            let took = started.duration(to: .now)
            #expect(took <= .milliseconds(Self.shutdownTimeoutMs) + .seconds(2), "exited after \(took)")
        }
    }

    @Test("a second SIGINT while writes hang on a lock: exit 0 at once; the next run stores every trade")
    func secondInterruptWithLockedTable() async throws {
        try await runAgainstLockedTable(seed: 42) { ingester in
            ingester.signal(SIGINT)
            // Time passing is the point: the second SIGINT is a separate interrupt that comes after the first
            // began the graceful shutdown (which logs nothing to wait for); two at once would be one pending signal.
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            ingester.signal(SIGINT)
            let code = try await ingester.waitForExit(timeout: .seconds(30))
            #expect(code == 0)
            let took = started.duration(to: .now)
            #expect(took <= .seconds(2), "exited \(took) after the second SIGINT")
        }
    }

    @Test("a trigger refusing some rows while they sat in the spool: they are dead-lettered, the rest is stored, the spool drains")
    func refusedRowsDoNotStallTheSpool() async throws {
        try await PrivatePostgres.with { server in
            let ledger = directory.appendingPathComponent("refused.csv").path
            let spoolDirectory = directory.appendingPathComponent("spool-refused").path
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "43", "--rate", "1000", "--ledger", ledger], databaseURL: server.url, log: "refused.log",
                DatabaseFaultTests.fast, spool: spoolDirectory, directory: directory)
            let log = pipeline.log
            try await pipeline.waitUntilStreaming(timeout: .seconds(20))
            try PGConnection(conninfo: server.url).execute(
                """
                CREATE FUNCTION refuse_97() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.seq % 97 = 0 THEN RAISE EXCEPTION 'seq % refused by a trigger', NEW.seq; END IF; RETURN NEW; END $$;
                CREATE TRIGGER refuse_97 BEFORE INSERT ON options_trades FOR EACH ROW EXECUTE FUNCTION refuse_97();
                """)
            // What was committed before the trigger existed is not refused (CREATE TRIGGER waits for the
            // writes in flight, so every row stored after it returns went through the trigger).
            let storedBefore = Set(try EndToEndTests.storedKeys(server.url))
            // An outage: what arrives meanwhile, refused rows included, goes to the spool.
            try await server.run("stop")
            _ = try await waitFor(timeout: .seconds(30), what: "the breaker open after Postgres stopped") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "open" } ? true : nil
            }
            // Time passing is the point: a few seconds of trades, refused rows among them, go to the spool.
            try await Task.sleep(for: .seconds(3))
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(20), what: "the spool drained after the outage") {
                logLines(log, message: "spool segment replayed").isEmpty ? nil : true
            }
            try await streamThenStopFeed(pipeline, seconds: 1)
            #expect(try await pipeline.ingester.stop(timeout: .seconds(30)) == 0)

            let (valid, _) = try EndToEndTests.readLedger(ledger)
            let accepted = valid.filter { $0.notional >= 10_000 }
            let refused = Set(accepted.filter { $0.q % 97 == 0 }.map(\.key)).subtracting(storedBefore)
            let expected = Set(accepted.map(\.key)).subtracting(refused)
            let stored = try EndToEndTests.storedKeys(server.url)
            #expect(!refused.isEmpty)
            #expect(stored.count == expected.count)
            #expect(Set(stored) == expected)
            let letters = try PGConnection(conninfo: server.url)
                .query("SELECT count(DISTINCT raw) FROM dead_letters WHERE source = 'database' AND sqlstate = 'P0001'")
            #expect(letters == [[String(refused.count)]])
            #expect(try DatabaseFaultTests.segments(in: spoolDirectory).isEmpty)
        }
    }

    @Test("a spool segment that cannot be read is quarantined after its tries and the segments after it are replayed")
    func unreadableSegmentQuarantined() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let spoolDirectory = directory.appendingPathComponent("spool-quarantine").path
        // Two segments of 1 KiB each at least: the first is then replaced by something unreadable.
        try DatabaseFaultTests.writeSpool(spoolDirectory, batch: 20, segmentBytes: 1024)
        let segments = try DatabaseFaultTests.segments(in: spoolDirectory)
        try #require(segments.count == 2)
        let first = spoolDirectory + "/" + segments[0]
        try FileManager.default.removeItem(atPath: first)
        try FileManager.default.createDirectory(atPath: first, withIntermediateDirectories: false)

        let log = directory.appendingPathComponent("quarantine.log").path
        try await DatabaseFaultTests.withSpoolReplay(spoolDirectory, database: database, logFile: log, directory: directory) { ingester in
            try await waitForLog(log, "spool segment replayed", timeout: .seconds(30))
            #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
        }
        #expect(logLines(log, message: "spool segment unreadable; trying again").count >= 1)
        #expect(logLines(log, message: "spool segment quarantined: it could not be read; the trades in it that were not yet written are in the file").count == 1)
        let stored = try database.connect().query("SELECT seq FROM options_trades ORDER BY seq").compactMap { $0[0].flatMap { Int($0) } }
        #expect(stored == Array(20..<40))
        let left = try FileManager.default.contentsOfDirectory(atPath: spoolDirectory)
        #expect(left.contains("quarantine-" + segments[0]))
        #expect(try DatabaseFaultTests.segments(in: spoolDirectory).filter { !$0.hasPrefix("quarantine-") }.isEmpty)
    }
}

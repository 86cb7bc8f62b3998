import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// Hostile but well-formed trades (`feed-sim --hostile-every`) against the
/// real ingester and a Postgres of the test's own, up and stopped: the
/// process stays up, every ordinary trade lands once, each hostile one is a
/// dead letter with source `feed`. Before the decoder refused implausible
/// sizes, a trade with 70 000 condition codes or a 70 000-byte symbol was
/// accepted and trapped the ingester in the spool codec's 16-bit lengths.
@Suite("Hostile trades", .serialized, .temporaryDirectory("hostile"))
struct HostileTradeTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// Trades the decoder rejected so far, from a report the ingester prints on SIGUSR1.
    func invalidCount(_ ingester: ManagedProcess) async throws -> Int {
        let report = try await ingester.requestHealthReport()
        let trades = (report["feed"] as? [String: Any])?["trades"] as? [String: Any]
        return try #require(trades?["invalid"] as? Int, "feed.trades.invalid in \(report)")
    }

    @Test("hostile trades while Postgres is up and while it is stopped: the ingester stays up, every ledger trade lands once, each hostile one is a feed dead letter")
    func hostileTradesUpAndDown() async throws {
        try await PrivatePostgres.with { server in
            let ledger = directory.appendingPathComponent("hostile.csv").path
            // 500 trades/s in frames of 5; every 50th frame (twice a second) carries the six hostile events.
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "31", "--rate", "500", "--hostile-every", "50", "--ledger", ledger], databaseURL: server.url,
                log: "hostile.log", DatabaseFaultTests.fast, spool: directory.appendingPathComponent("spool").path, directory: directory)
            let (sim, ingester, log) = (pipeline.feed, pipeline.ingester, pipeline.log)
            try await pipeline.waitUntilStreaming(timeout: .seconds(30))
            let whileUp = try await waitFor(timeout: .seconds(30), what: "hostile trades while Postgres is up", every: .milliseconds(500)) {
                let count = try await invalidCount(ingester)
                return count >= 6 ? count : nil
            }

            try await server.run("stop")
            // 60 more hostile trades (about 5 s of them) meet the spool while Postgres is stopped.
            _ = try await waitFor(timeout: .seconds(60), what: "60 more hostile trades while Postgres is stopped", every: .milliseconds(500)) {
                guard ingester.isRunning else { return false }
                return try await invalidCount(ingester) >= whileUp + 60 ? true : nil
            }
            #expect(ingester.isRunning, "the ingester survived hostile trades meeting the spool: \(ingester.stderr.suffix(2000))")
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(60), what: "the spool replayed into the restarted Postgres") {
                !ingester.isRunning || !logLines(log, message: "spool segment replayed").isEmpty ? true : nil
            }
            #expect(ingester.isRunning, "the ingester is still running at the end: \(ingester.stderr.suffix(2000))")

            try await pipeline.finish()

            let summary = try #require(
                sim.stdout.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            let hostile = try #require(summary["hostile"] as? Int)
            #expect(hostile > 0 && hostile % 6 == 0)
            let stopped = try #require(logLines(log, message: "stopped").first)
            #expect((stopped["spooled_trades"] as? Int ?? 0) > 1000, "the outage's trades went through the spool")
            #expect(stopped["trades_dropped"] as? Int == 0)
            #expect(stopped["trades_invalid"] as? Int == hostile, "every hostile event, and nothing else, was rejected")

            // Every ordinary trade of the ledger is stored exactly once, and nothing else.
            let (valid, invalid) = try EndToEndTests.readLedger(ledger)
            #expect(invalid == 0 && valid.count == summary["sent"] as? Int, "the ledger lists the ordinary trades only")
            let expected = Set(valid.filter { $0.notional >= 10_000 }.map(\.key))
            let stored = try EndToEndTests.storedKeys(server.url)
            #expect(stored.count == expected.count, "nothing doubled, nothing lost")
            #expect(Set(stored) == expected)

            // Each hostile event is a dead letter from the feed, with the reason its kind calls for. The
            // same event sent again is the same dead letter (their natural key), so each distinct one
            // is stored once: the count of rejections is trades_invalid, checked above.
            let connection = try PGConnection(conninfo: server.url)
            let reasons = try connection.query("SELECT DISTINCT reason FROM dead_letters WHERE source = 'feed' ORDER BY reason")
            #expect(reasons == [["bad_symbol"], ["too_many_conditions"], ["underlying_too_long"]])
            let distinct = try connection.query("SELECT count(*) FROM dead_letters WHERE source = 'feed'")
            let storedLetters = Int(distinct.first?.first.flatMap { $0 } ?? "") ?? 0
            #expect(storedLetters >= 6 && storedLetters <= hostile, "\(storedLetters) distinct hostile events stored")
            // The huge events keep their first 4 KiB and their size, not 70 000+ bytes.
            let huge = try connection.query(
                "SELECT count(*), max(octet_length(raw)) FROM dead_letters WHERE source = 'feed' AND raw LIKE '%… (% bytes)'")
            #expect(Int(huge.first?.first.flatMap { $0 } ?? "") ?? 0 >= 2)
            #expect(Int(huge.first?.last.flatMap { $0 } ?? "") ?? .max <= 4096)
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// Two `ingest-options` with `HA_MODE=leader` on one database and one
/// `feed-sim` (docs/design.md §5.5): kill -9 the leader mid-stream, the standby takes
/// over; SIGTERM the new leader, the restarted first instance takes over.
/// The HA settings are the defaults (retry and check 1 s, lease 5 s): the
/// takeover measured is the one an operator gets.
@Suite("HA failover", .serialized, .temporaryDirectory("ha"))
struct HAFailoverTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    static let leader = ["HA_MODE": "leader", "HA_GROUP": "e2e", "FLUSH_INTERVAL_MS": "200", "WS_BACKOFF_INITIAL_MS": "200"]

    /// The spool of instance `name`: each instance has its own, a restarted one the one it had.
    func spool(_ name: String) -> String {
        directory.appendingPathComponent("spool-\(name)").path
    }

    static func date(_ line: [String: Any]?) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let text = line?["ts"] as? String, let date = formatter.date(from: text) else { throw TestSetupError("log line without ts") }
        return date
    }

    @Test("kill -9 the leader: the standby streams within 10 s, only the failover gap misses trades, nothing twice; SIGTERM hands back")
    func killThenHandBack() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let ledger = directory.appendingPathComponent("ha.csv").path
        // A leads, B waits: connected to the database, healthy, not connected to the feed.
        let a = try await RunningPipeline.start(
            feed: ["--seed", "31", "--rate", "1000", "--ledger", ledger], databaseURL: database.url, log: "a.log", Self.leader,
            spool: spool("a"), directory: directory)
        let first = a.ingester
        try await a.waitForLog("feed streaming", timeout: .seconds(20))
        let b = try await a.withIngester(log: "b.log", ["SPOOL_DIR": spool("b")])
        let second = b.ingester
        try await b.waitForLog("standby: asking for the leader lock", timeout: .seconds(20))
        let standbyReport = try await second.requestHealthReport()
        #expect(standbyReport["role"] as? String == "standby")
        #expect(standbyReport["status"] as? String == "healthy", "a standby is healthy: \(standbyReport["reasons"] ?? "")")
        #expect(try await first.requestHealthReport()["role"] as? String == "leader")
        #expect(b.lines("feed connecting").isEmpty, "a standby does not connect to the feed")

        // kill -9 the leader mid-stream. Time passing is the point: a second more of trades under A,
        // so that the kill lands with trades in flight.
        try await Task.sleep(for: .seconds(1))
        first.signal(SIGKILL)
        let killedAt = Date()
        _ = try await first.waitForExit(timeout: .seconds(10))
        let streaming = try await b.waitForLog("feed streaming", timeout: .seconds(20))
        let takeover = try Self.date(streaming.first).timeIntervalSince(killedAt)
        print("HA takeover after kill -9: \(String(format: "%.2f", takeover)) s (leader killed → standby streaming)")
        #expect(takeover < 10, "takeover took \(takeover) s")
        #expect(try await second.requestHealthReport()["role"] as? String == "leader")
        // Time passing is the point: B leads for a while with trades flowing before A comes back.
        try await Task.sleep(for: .seconds(3))

        // The first instance comes back as a standby; SIGTERM on the leader hands over without a timeout.
        let a2 = try await a.withIngester(log: "a2.log")
        try await a2.waitForLog("standby: asking for the leader lock", timeout: .seconds(20))
        // Time passing is the point: for a second (a lock retry) the standby stays off the feed.
        try await Task.sleep(for: .seconds(1))
        #expect(a2.lines("feed connecting").isEmpty)
        #expect(try await second.stop(timeout: .seconds(30)) == 0)
        let released = try #require(b.lines("leader lock released").first)
        let handedOver = try await a2.waitForLog("feed streaming", timeout: .seconds(20))
        let handover = try Self.date(handedOver.first).timeIntervalSince(try Self.date(released))
        print("HA graceful handover: \(String(format: "%.2f", handover)) s (lock released → standby streaming)")
        #expect(handover < 3, "graceful handover took \(handover) s")
        // Time passing is the point: trades flow under the new leader before the feed stops.
        try await Task.sleep(for: .seconds(2))

        // Stop the feed first, so everything sent reaches the leader; then stop it.
        try await a2.finish(ingesterExitWithin: .seconds(30))

        // Every trade sent is stored once, except a run lost inside a recorded gap.
        let (valid, _) = try EndToEndTests.readLedger(ledger)
        let expected = valid.filter { $0.notional >= 10_000 }.sorted { $0.q < $1.q }
        let connection = try database.connect()
        var receivedAt: [String: Int64] = [:]
        for row in try connection.query(
            """
            SELECT sym || '|' || (extract(epoch FROM ts) * 1000)::bigint || '|' || seq,
                   (extract(epoch FROM received_at) * 1000000)::bigint FROM options_trades
            """)
        {
            receivedAt[row[0]!] = Int64(row[1]!)
        }
        let total = try connection.query("SELECT count(*), count(DISTINCT (sym, ts, seq)) FROM options_trades").first
        #expect(total?[0] == total?[1], "nothing twice")
        #expect(Set(receivedAt.keys).isSubset(of: Set(expected.map(\.key))), "nothing that was not sent")
        #expect(receivedAt.count > 3000, "A, B and A again streamed: \(receivedAt.count) rows")

        let gaps = try connection.query(
            """
            SELECT reason, (extract(epoch FROM started_at) * 1000000)::bigint, (extract(epoch FROM ended_at) * 1000000)::bigint
            FROM feed_gaps ORDER BY id
            """
        ).map { (reason: $0[0]!, start: Int64($0[1]!)!, end: $0[2].flatMap { Int64($0) }) }
        let failovers = gaps.filter { $0.reason == "failover" }
        #expect(failovers.count == 1, "one failover gap: \(gaps)")
        #expect(gaps.contains { $0.reason == "shutdown" && $0.end != nil }, "the handover is a closed shutdown gap: \(gaps)")
        #expect(gaps.filter { $0.end == nil }.count == 1, "only the last gap (feed-sim stopped) is open: \(gaps)")

        // Runs of missing trades, each with the stored trades either side.
        var runs: [(missing: Int, before: Int64?, after: Int64?)] = []
        var open: (missing: Int, before: Int64?)?
        var lastStored: Int64?
        for trade in expected {
            if let time = receivedAt[trade.key] {
                if let run = open { runs.append((run.missing, run.before, time)) }
                open = nil
                lastStored = time
            } else if let run = open {
                open = (run.missing + 1, run.before)
            } else {
                open = (1, lastStored)
            }
        }
        #expect(open == nil, "nothing missing at the end: feed-sim stopped first")
        let lost = runs.map(\.missing).reduce(0, +)
        print("HA: \(receivedAt.count) of \(expected.count) trades stored; \(lost) lost in \(runs.count) run(s) \(runs.map(\.missing)); gaps \(gaps.map(\.reason))")
        #expect(lost < 1500, "a kill -9 loses at most what was read and not yet flushed: \(lost)")
        for run in runs {
            guard let before = run.before, let after = run.after else { continue }
            // The run lies between two stored trades; a recorded gap spans that stretch of time.
            #expect(
                gaps.contains { $0.start <= after && ($0.end ?? .max) >= before },
                "\(run.missing) trades missing between \(before) and \(after) without a gap: \(gaps)")
        }
        if let failover = failovers.first, let end = failover.end {
            // The failover gap starts at the last trade the killed leader stored and ends at the new leader's first,
            // both on the database's clock: a receive time's age on its host taken from the database's now, which
            // here is the same clock, so within a round trip (100 ms allowed) of the receive times.
            let roundTrip: Int64 = 100_000
            let killRun = runs.first { run in
                run.before.map { $0 <= failover.start + roundTrip } ?? false && run.after.map { $0 >= end - roundTrip } ?? false
            }
            #expect(killRun != nil || runs.isEmpty, "the trades the killed leader lost lie inside the failover gap: \(runs) \(failover)")
            #expect(end > failover.start)
        }
    }
}

import Foundation
import IngestTestSupport
import Testing

/// The ingester against `feed-sim`'s fault modes and a real Postgres (docs/design.md §5.1),
/// with short timings set through configuration, never through sleeps in the logic.
@Suite("Feed faults", .serialized, .temporaryDirectory("faults"))
struct FeedFaultTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// Fast reconnects and a short ping period, so each fault plays out in seconds.
    static let fast = [
        "WS_BACKOFF_INITIAL_MS": "200", "WS_BACKOFF_MAX_MS": "1000", "WS_PING_INTERVAL_MS": "500",
        "WS_BREAKER_OPEN_MS": "1000", "FLUSH_INTERVAL_MS": "200",
    ]

    /// feed-sim with `feed` flags and an ingester on it with the fast settings and `extra` on top.
    func start(feed: [String], database: TestDatabase, log: String, _ extra: [String: String] = [:]) async throws -> RunningPipeline {
        try await RunningPipeline.start(feed: feed, databaseURL: database.url, log: log, Self.fast.merging(extra) { $1 }, directory: directory)
    }

    @Test("clean drops every 2 s for 20 s: the table holds exactly the ledger's valid trades above threshold, one closed gap per reconnect")
    func dropsLoseNothing() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let ledger = directory.appendingPathComponent("drops.csv").path
        // Pings every 3 s, not 0.5 s: this test is about clean drops, and a pong late on a loaded
        // machine would reset a connection with trades in flight (a loss the ledger cannot excuse).
        let pipeline = try await start(
            feed: ["--seed", "99", "--rate", "1000", "--invalid-fraction", "0.01", "--drop-every", "2", "--ledger", ledger],
            database: database, log: "drops.log", ["WS_PING_INTERVAL_MS": "3000"])
        // Dropped every 2 s: ten connections, nine drops and reconnects.
        try await pipeline.waitForLog("feed streaming", count: 10, timeout: .seconds(60))
        // Stop the feed first: everything it wrote reaches the ingester before its close frame.
        try await pipeline.stopFeed()
        let streamed = pipeline.lines("feed streaming").count
        #expect(try await pipeline.ingester.stop(timeout: .seconds(30)) == 0)

        // One connection per 2 s at most; reconnect backoff and a loaded machine (suites run in parallel) make it fewer.
        #expect(streamed >= 5, "about one connection per 2 s, got \(streamed)")
        let (valid, _) = try EndToEndTests.readLedger(ledger)
        let expected = Set(valid.filter { $0.notional >= 10_000 }.map(\.key))
        let connection = try database.connect()
        let stored = try connection.query("SELECT sym || '|' || (extract(epoch FROM ts) * 1000)::bigint || '|' || seq FROM options_trades")
        #expect(stored.count == expected.count)
        #expect(Set(stored.compactMap { $0[0] }) == expected)

        let gaps = try connection.query("SELECT count(*) FILTER (WHERE ended_at IS NOT NULL), count(*) FROM feed_gaps")
            .first.map { $0.compactMap { $0.flatMap { Int($0) } } } ?? []
        // One gap per lost connection, closed by the next connection's first trade; the last one (feed-sim
        // stopped) stays open. A connection dropped before its first trade (rare, on a loaded machine)
        // extends the gap before it instead of making a new one.
        #expect(gaps.count == 2 && gaps[0] == gaps[1] - 1, "every gap but the last is closed: \(gaps)")
        #expect((streamed - 2...streamed).contains(gaps.last ?? 0), "about one gap per reconnect: \(gaps) for \(streamed) connections")
        let ordered = try connection.query("SELECT count(*) FROM feed_gaps WHERE ended_at IS NOT NULL AND ended_at < started_at")
        #expect(ordered == [["0"]])
    }

    @Test("a peer that stops answering pings is dropped and reconnected within two ping periods")
    func noPongReconnects() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let pipeline = try await start(feed: ["--rate", "200", "--no-pong", "--fault-after", "1"], database: database, log: "nopong.log")
        let streaming = try await pipeline.waitForLog("feed streaming", count: 2, timeout: .seconds(20))
        let disconnects = pipeline.lines("feed disconnected")
        #expect(disconnects.count >= 1)
        #expect((disconnects.first?["reason"] as? String)?.contains("without a close frame") == true)
        let gap = try timeBetween(streaming[0], streaming[1])
        #expect(gap < 5, "fault after 1 s + pong due within 2 × 0.5 s + backoff ≤ 0.2 s; took \(gap) s")
        #expect(try await pipeline.ingester.stop(timeout: .seconds(30)) == 0)
        pipeline.feed.signal(SIGTERM)
    }

    @Test("a feed that stalls while answering pings raises feed_stale, then is reconnected at the silence limit")
    func stallReconnects() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let pipeline = try await start(
            feed: ["--rate", "200", "--stall-after", "1"], database: database, log: "stall.log",
            ["WS_STALE_AFTER_MS": "700", "WS_STALE_RECONNECT_AFTER_MS": "2000"])
        try await pipeline.waitForLog("feed streaming", count: 2, timeout: .seconds(20))
        let alerts = pipeline.lines("ALERT").filter { $0["alert"] as? String == "feed_stale" }
        #expect(alerts.first?["state"] as? String == "open")
        let aborted = pipeline.lines("feed attempt aborted")
        #expect((aborted.first?["reason"] as? String)?.hasPrefix("no data for") == true)
        #expect(pipeline.lines("feed disconnected").allSatisfy { ($0["reason"] as? String)?.contains("close frame") == false })
        #expect(try await pipeline.ingester.stop(timeout: .seconds(30)) == 0)
        pipeline.feed.signal(SIGTERM)
    }

    @Test("a feed that refuses connections for 5 s is survived: the ingester streams once it listens")
    func refusedAtStart() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let port = try freePort()
        let sim = try await ManagedProcess("feed-sim", ["--port", "\(port)", "--rate", "500", "--refuse-for", "5"], directory: directory)
        let log = directory.appendingPathComponent("refused.log").path
        let ingester = try await ManagedProcess.ingester(port: port, databaseURL: database.url, logFile: log, Self.fast, directory: directory)
        try await waitForLog(log, "feed streaming", timeout: .seconds(30))
        #expect(logLines(log, message: "feed disconnected").count >= 2, "connection refused a few times first")
        try await waitForTrades(in: database.url)
        #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
        sim.signal(SIGTERM)
    }

    @Test("two ingesters on one key: the newer streams, the one taken over backs off at the cap instead of alternating")
    func maxConnections() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let cap = ["WS_BACKOFF_MAX_MS": "30000"]
        let a = try await start(feed: ["--rate", "200", "--max-connections", "1"], database: database, log: "a.log", cap)
        try await a.waitForLog("feed streaming", timeout: .seconds(20))
        // A spool of its own: the spool's lock refuses a second process.
        let b = try await a.withIngester(log: "b.log", ["SPOOL_DIR": directory.appendingPathComponent("spool-b").path])
        try await b.waitForLog("feed streaming", timeout: .seconds(20))
        let takenOver = try await a.waitForLog(
            "another client with this API key took over the feed connection; backing off at the cap", timeout: .seconds(10))
        #expect(takenOver.first?["status"] as? String == "max_connections")
        let backoff = try await a.waitForLog("feed reconnecting after backoff", timeout: .seconds(10))
        let delay = (backoff.last?["delay_ms"] as? Int) ?? 0
        #expect(delay > 29_000 && delay <= 30_000, "backs off at the 30 s cap, got \(delay) ms")
        // For the next few seconds nothing changes hands: B streams, A waits (time passing is the point).
        try await Task.sleep(for: .seconds(4))
        #expect(a.lines("feed connecting").count == 1)
        #expect(b.lines("feed disconnected").isEmpty)
        for process in [a.ingester, b.ingester] { process.signal(SIGTERM) }
        #expect(try await a.ingester.waitForExit(timeout: .seconds(30)) == 0)
        #expect(try await b.ingester.waitForExit(timeout: .seconds(30)) == 0)
        a.feed.signal(SIGTERM)
    }

    @Test("malformed and oversized frames are counted by kind and skipped; the connection stays up")
    func badFramesSkipped() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let pipeline = try await start(
            feed: ["--rate", "2000", "--garbage-every", "7", "--oversized-every", "11"], database: database, log: "bad.log")
        let skipped = try await waitFor(timeout: .seconds(20), what: "both kinds of bad frame") { () -> Set<String>? in
            let kinds = Set(pipeline.lines("bad frame skipped").compactMap { $0["kind"] as? String })
            return kinds.isSuperset(of: ["malformed", "oversized"]) ? kinds : nil
        }
        #expect(skipped.contains("malformed"))
        // Time passing is the point: two more seconds of bad frames cost no connection and log nothing more.
        try await Task.sleep(for: .seconds(2))
        #expect(pipeline.lines("feed disconnected").isEmpty, "bad frames never cost the connection")
        #expect(pipeline.lines("bad frame skipped").count <= 2, "logged once per kind per minute")
        #expect(try await pipeline.ingester.stop(timeout: .seconds(30)) == 0)
        let stopped = pipeline.lines("stopped").first
        #expect((stopped?["bad_frames_malformed"] as? Int ?? 0) > 1)
        #expect((stopped?["bad_frames_oversized"] as? Int ?? 0) > 1)
        pipeline.feed.signal(SIGTERM)
    }
}

/// Seconds between two JSON log lines' `ts`.
func timeBetween(_ first: [String: Any], _ second: [String: Any]) throws -> Double {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    guard let a = (first["ts"] as? String).flatMap(formatter.date(from:)), let b = (second["ts"] as? String).flatMap(formatter.date(from:)) else {
        throw TestSetupError("log lines without ts")
    }
    return b.timeIntervalSince(a)
}

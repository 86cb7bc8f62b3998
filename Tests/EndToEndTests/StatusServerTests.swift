import Foundation
import IngestTestSupport
import Testing

/// The status server of a running ingester (docs/operations.md): `/health`, `/metrics`
/// (checked by `promtool`), `/events` and `/`, with and without a token.
@Suite("Status server", .serialized, .temporaryDirectory("status"))
struct StatusServerTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// Starts feed-sim and an ingester with a status server on a free port; returns both and the port.
    func start(_ extra: [String: String] = [:]) async throws -> (sim: ManagedProcess, ingester: ManagedProcess, port: Int, database: TestDatabase) {
        let database = try TestDatabase.create()
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "31", "--rate", "500"], databaseURL: database.url, log: "status-\(UUID().uuidString).log",
            ["STATUS_ADDR": "127.0.0.1:0", "STATUS_EVENTS_INTERVAL_MS": "300", "FLUSH_INTERVAL_MS": "200", "WS_BACKOFF_INITIAL_MS": "200",
             "WS_BACKOFF_MAX_MS": "500"].merging(extra) { $1 },
            directory: directory)
        let listening = try await pipeline.waitForLog("status server listening", timeout: .seconds(20))
        try await pipeline.waitUntilStreaming(timeout: .seconds(20))
        return (pipeline.feed, pipeline.ingester, try #require(listening.first?["port"] as? Int), database)
    }

    @Test("/health serves the report (200 while healthy), /metrics passes promtool, / is the dashboard, /events streams reports and state changes")
    func endpoints() async throws {
        let (sim, ingester, port, database) = try await start()
        defer { database.drop() }
        try await waitForTrades(in: database.url)  // a flush behind it: the write histogram and row counters have values

        let health = try HTTPProbe.get(port: port, "/health")
        #expect(health.status == 200)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(health.content.utf8)) as? [String: Any])
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        #expect(schema.violations(of: report) == [])

        let metrics = try HTTPProbe.get(port: port, "/metrics")
        #expect(metrics.status == 200)
        let exposition = metrics.content
        for name in ["ingest_trades_received_total", "ingest_rows_written_total", "ingest_buffer_items", "ingest_spool_trades",
                     "ingest_db_write_seconds_bucket",
                     "ingest_db_breaker_state{state=\"closed\"} 1", "ingest_feed_state{state=\"streaming\"} 1", "ingest_reconnects_total"] {
            #expect(exposition.contains(name), "\(name) missing from /metrics")
        }
        let check = try await runToolWithInput("promtool", ["check", "metrics"], input: exposition)
        #expect(check.status == 0, "promtool: \(check.output)")

        let page = try HTTPProbe.get(port: port, "/")
        #expect(page.status == 200)
        #expect(page.content.contains("new EventSource(\"events\""))
        #expect(!page.content.contains("http://") && !page.content.contains("https://"), "self-contained: no CDN")

        // Reports every 300 ms; then the feed goes away and a state event says so.
        async let events = Task.detached { try HTTPProbe.get(port: port, "/events", readFor: .seconds(6)) }.value
        // Time passing is the point: 2.5 s of the stream, several 300 ms report events, before the feed goes.
        try await Task.sleep(for: .seconds(2.5))
        sim.signal(SIGTERM)
        let stream = try await events
        #expect(stream.status == 200)
        #expect(stream.head.lowercased().contains("content-type: text/event-stream"))
        #expect(stream.body.components(separatedBy: "event: report").count - 1 >= 3, "a report every 300 ms, at least a few")
        #expect(stream.body.contains("event: state"), "the feed's state change is pushed")
        #expect(stream.body.contains("\"kind\":\"feed\""))

        #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
    }

    @Test("with STATUS_TOKEN every route but /health needs the bearer token (401 without)")
    func token() async throws {
        let (sim, ingester, port, database) = try await start(["STATUS_TOKEN": "s3cret-status-token"])
        defer { database.drop() }
        #expect(try HTTPProbe.get(port: port, "/health").status == 200)
        #expect(try HTTPProbe.get(port: port, "/metrics").status == 401)
        #expect(try HTTPProbe.get(port: port, "/").status == 401)
        #expect(try HTTPProbe.get(port: port, "/events", readFor: .seconds(1)).status == 401)
        #expect(try HTTPProbe.get(port: port, "/metrics", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try HTTPProbe.get(port: port, "/metrics", headers: ["Authorization": "Bearer s3cret-status-token"]).status == 200)
        #expect(try HTTPProbe.get(port: port, "/?token=s3cret-status-token").status == 200)
        ingester.signal(SIGTERM)
        sim.signal(SIGTERM)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 0)
        #expect(!ingester.stdout.contains("s3cret-status-token"))
    }

    @Test("?token= opens only what a browser opens (the page and /events); /metrics takes the token from the header only")
    func queryTokenOnlyForTheBrowser() async throws {
        let (sim, ingester, port, database) = try await start(["STATUS_TOKEN": "s3cret-status-token"])
        defer { database.drop() }
        #expect(try HTTPProbe.get(port: port, "/metrics?token=s3cret-status-token").status == 401)
        #expect(try HTTPProbe.get(port: port, "/health?token=wrong").status == 200, "/health is open, whatever the URL says")
        #expect(try HTTPProbe.get(port: port, "/?token=s3cret-status-token").status == 200)
        #expect(try HTTPProbe.get(port: port, "/?token=s3cret-status-toke").status == 401)
        #expect(try HTTPProbe.get(port: port, "/events?token=s3cret-status-token", readFor: .seconds(1)).status == 200)
        #expect(try HTTPProbe.get(port: port, "/events", headers: ["Authorization": "Bearer s3cret-status-token"], readFor: .seconds(1)).status == 200)
        #expect(try HTTPProbe.get(port: port, "/metrics", headers: ["Authorization": "Bearer s3cret-status-token!"]).status == 401)
        #expect(try HTTPProbe.get(port: port, "/metrics", headers: ["Authorization": "s3cret-status-token"]).status == 401, "the Bearer scheme is required")
        ingester.signal(SIGTERM)
        sim.signal(SIGTERM)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 0)
    }
}

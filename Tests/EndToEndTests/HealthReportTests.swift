import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// The health report of a running ingester (docs/operations.md): SIGUSR1 under load and
/// during a Postgres outage; every report parses and validates against
/// `docs/health-report.schema.json` and shows the state the test caused.
@Suite("Health report", .serialized, .temporaryDirectory("health"))
struct HealthReportTests {
    let directory: URL
    let schema: SchemaValidator

    init() throws {
        directory = try TemporaryDirectory.required()
        schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
    }

    /// Sends SIGUSR1 and returns the report it printed, validated.
    func report(_ ingester: ManagedProcess) async throws -> [String: Any] {
        let report = try await ingester.requestHealthReport()
        let violations = schema.violations(of: report)
        #expect(violations.isEmpty, "schema violations: \(violations)")
        return report
    }

    @Test("SIGUSR1 under load, during a Postgres outage and with the feed gone: each report validates and shows the state")
    func reportsShowWhatHappens() async throws {
        try await PrivatePostgres.with { server in
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "21", "--rate", "800", "--invalid-fraction", "0.02"], databaseURL: server.url, log: "health.log",
                DatabaseFaultTests.fast.merging(["MARKET_HOURS": "always", "HEALTH_REPORT_INTERVAL_MS": "2000"]) { $1 },
                spool: directory.appendingPathComponent("spool").path, directory: directory)
            let (sim, port, ingester, log) = (pipeline.feed, pipeline.port, pipeline.ingester, pipeline.log)
            try await pipeline.waitUntilStreaming(timeout: .seconds(20))
            // Under load: streaming, rows written, invalid trades counted as data errors.
            let streaming = try await waitFor(timeout: .seconds(30), what: "a report with rows written and data errors", every: .milliseconds(500)) {
                let report = try await report(ingester)
                let written = ((report["database"] as? [String: Any])?["rows_written"] as? Int ?? 0) > 0
                let dataErrors = (((report["errors"] as? [String: Any])?["data"] as? [String: Any])?["count"] as? Int ?? 0) > 0
                return written && dataErrors ? report : nil
            }
            let feed = try #require(streaming["feed"] as? [String: Any])
            #expect(feed["state"] as? String == "streaming")
            #expect(feed["url"] as? String == "ws://127.0.0.1:\(port)/options")
            let database = try #require(streaming["database"] as? [String: Any])
            #expect((database["rows_written"] as? Int ?? 0) > 0)
            #expect(database["breaker"] as? String == "closed")
            #expect(database["write_latency_p99_ms"] is Double || database["write_latency_p99_ms"] is Int)
            // Receive to commit: at least one flush period's wait can be in it, never a negative or absurd figure.
            let lag = try #require((database["commit_lag_p99_ms"] as? NSNumber)?.doubleValue, "commit_lag_p99_ms")
            #expect(lag >= 0 && lag < 30_000, "commit_lag_p99_ms \(lag)")
            let errors = try #require(streaming["errors"] as? [String: Any])
            #expect(((errors["data"] as? [String: Any])?["count"] as? Int ?? 0) > 0, "invalid trades are data errors")
            #expect(((streaming["symbols"] as? [String: Any])?["tracked"] as? Int ?? 0) > 0)
            #expect(streaming["status"] as? String == "healthy", "reasons: \(streaming["reasons"] ?? "")")

            // Postgres down: the breaker opens, trades spool, the status is no longer healthy.
            try await server.run("stop")
            _ = try await waitFor(timeout: .seconds(30), what: "the database breaker open") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "open" } ? true : nil
            }
            let outage = try await waitFor(timeout: .seconds(30), what: "a report with spooled trades and the db_connection_lost alert", every: .milliseconds(500)) {
                let report = try await report(ingester)
                let spooled = ((report["spool"] as? [String: Any])?["bytes"] as? Int ?? 0) > 0
                let alerted = (report["alerts"] as? [[String: Any]] ?? []).contains { $0["alert"] as? String == "db_connection_lost" }
                return spooled && alerted ? report : nil
            }
            let outageDatabase = try #require(outage["database"] as? [String: Any])
            #expect(["open", "half_open"].contains(outageDatabase["breaker"] as? String))
            #expect(outageDatabase["state"] as? String != "connected")
            #expect((outageDatabase["last_error"] as? [String: Any])?["error_class"] as? String == "connection")
            #expect(((outage["spool"] as? [String: Any])?["bytes"] as? Int ?? 0) > 0)
            #expect(["degraded", "unhealthy"].contains(outage["status"] as? String))
            #expect((outage["alerts"] as? [[String: Any]] ?? []).contains { $0["alert"] as? String == "db_connection_lost" })
            let alertLines = logLines(log, message: "ALERT").filter { $0["alert"] as? String == "db_connection_lost" }
            #expect(alertLines.count == 1, "an alert opens once while it is open")

            // Postgres back, feed gone: the database recovers, the feed reconnects in vain.
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(30), what: "the database breaker closed") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "closed" } ? true : nil
            }
            sim.signal(SIGTERM)
            _ = try await sim.waitForExit(timeout: .seconds(20))
            let noFeed = try await waitFor(timeout: .seconds(30), what: "a report without the feed", every: .milliseconds(500)) {
                let report = try await report(ingester)
                return ["backoff", "connecting"].contains((report["feed"] as? [String: Any])?["state"] as? String) ? report : nil
            }
            let noFeedState = (noFeed["feed"] as? [String: Any])?["state"] as? String
            #expect(["backoff", "connecting"].contains(noFeedState))
            #expect(noFeed["status"] as? String == "degraded", "reasons: \(noFeed["reasons"] ?? "")")
            #expect((noFeed["database"] as? [String: Any])?["breaker"] as? String == "closed")

            // The interval report and the SIGUSR1 reports are logged as HEALTH REPORT with the report inside.
            let logged = logLines(log, message: "HEALTH REPORT")
            #expect(logged.count >= 4)
            #expect(logged.allSatisfy { ($0["report"] as? [String: Any]).map { schema.violations(of: $0).isEmpty } ?? false })

            #expect(try await ingester.stop(timeout: .seconds(60)) == 0)
            // Connection events reached websocket_health_logs through the guarded path.
            let events = try PGConnection(conninfo: server.url).query("SELECT count(*) FROM websocket_health_logs")
            #expect((Int(events.first?.first.flatMap { $0 } ?? "") ?? 0) >= 2)
        }
    }

    @Test("a known API key and database password never appear in any output, through an auth failure and database errors")
    func secretsNeverShown() async throws {
        let apiKey = "sekret-api-key-0123456789"
        let password = "Sup3r-S3cret-pw"
        let closedPort = try freePort()
        let pipeline = try await RunningPipeline.start(
            feed: ["--reject-key", apiKey], databaseURL: "postgresql://trader:\(password)@127.0.0.1:\(closedPort)/none?connect_timeout=1",
            log: "secrets.log", ["LOG_LEVEL": "debug", "DB_FLAVOR": "postgres", "POLYGON_API_KEY": apiKey], arguments: ["--no-migrate"],
            directory: directory)
        let (sim, ingester, log) = (pipeline.feed, pipeline.ingester, pipeline.log)
        let status = try await ingester.waitForExit(timeout: .seconds(30))
        #expect(status == 77, "rejected key: exit 77")
        sim.signal(SIGTERM)
        let everything = ingester.stdout + ingester.stderr + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        #expect(!everything.isEmpty)
        #expect(!everything.contains(apiKey))
        #expect(!everything.contains(password))
        #expect(logLines(log, message: "ALERT").contains { $0["alert"] as? String == "authentication_error" })
    }
}

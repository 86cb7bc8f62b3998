import Foundation
import IngestTestSupport
import Testing

/// The feed connection against misbehaving peers (docs/design.md §5.1), with short timings
/// set through configuration.
@Suite("Feed resilience", .serialized, .temporaryDirectory("resilience"))
struct FeedResilienceTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    @Test("a peer that never answers the upgrade is abandoned at the connect timeout; after the attempt limit the service exits 75")
    func hungUpgradeGivesUp() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let listener = try SilentListener()
        let log = directory.appendingPathComponent("hung.log").path
        let started = ContinuousClock.now
        let ingester = try await ManagedProcess.ingester(
            port: listener.port, databaseURL: database.url, logFile: log,
            ["WS_CONNECT_TIMEOUT_MS": "500", "WS_MAX_RECONNECT_ATTEMPTS": "2", "WS_BACKOFF_INITIAL_MS": "100", "WS_BACKOFF_MAX_MS": "200",
             "WS_BREAKER_FAILURES": "100"],
            directory: directory)
        let status = try await ingester.waitForExit(timeout: .seconds(30))
        #expect(status == 75)
        #expect(started.duration(to: .now) < .seconds(30))
        // Measured in the service's own log, not by the test's clock (a loaded machine delays the
        // test noticing the exit): three attempts of 0.5 s plus short backoffs, well under 5 s.
        let first = try #require(logLines(log, message: "feed connecting").first?["ts"] as? String)
        let last = try #require(logLines(log, message: "feed: giving up").first?["ts"] as? String)
        let parse = ISO8601DateFormatter()
        parse.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let elapsed = try #require(parse.date(from: last)).timeIntervalSince(try #require(parse.date(from: first)))
        #expect(elapsed < 5, "from the first attempt to giving up took \(elapsed) s")
        let aborted = logLines(log, message: "feed attempt aborted")
        #expect(aborted.count == 3, "one initial attempt + 2 reconnects, each ended by the connect timeout")
        #expect(aborted.allSatisfy { ($0["reason"] as? String)?.hasPrefix("connect timeout") == true })
        #expect(logLines(log, message: "feed: giving up").count == 1)
    }

    @Test("a rejected key exits 77 after one attempt, with one clear line")
    func rejectedKeyExits77() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let pipeline = try await RunningPipeline.start(
            feed: ["--reject-key", "bad-key-000000"], databaseURL: database.url, log: "reject.log", ["POLYGON_API_KEY": "bad-key-000000"],
            directory: directory)
        let log = pipeline.log
        #expect(try await pipeline.ingester.waitForExit(timeout: .seconds(30)) == 77)
        #expect(logLines(log, message: "feed connecting").count == 1)
        let critical = logLines(log, message: "the feed rejected the API key; not retrying")
        #expect(critical.count == 1)
        #expect(!((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("bad-key-000000"), "the key is never logged")
        pipeline.feed.signal(SIGTERM)
    }
}

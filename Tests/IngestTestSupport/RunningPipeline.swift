import Foundation
import Testing

/// `feed-sim` → `ingest-options` → a database, as the end-to-end tests run
/// them: feed-sim started with the test's flags on a port of its choosing, an
/// ingester on that feed with the test's settings on top of
/// `ingesterEnvironment`, logging to a file in the test's directory. Both are
/// killed when the last reference goes (see `ManagedProcess`); `finish` stops
/// them the graceful way, feed first.
public struct RunningPipeline: Sendable {
    public let feed: ManagedProcess
    /// The port feed-sim listens on.
    public let port: Int
    public let ingester: ManagedProcess
    /// The ingester's LOG_FILE.
    public let log: String
    /// The ingester's whole environment, for another ingester like it (`withIngester`).
    public let environment: [String: String]
    public let directory: URL

    /// Starts feed-sim with `feedArguments` (on `--port 0`), then an ingester on it against `databaseURL`,
    /// logging to `log` in `directory`, with `settings` (and `SPOOL_DIR` = `spool`, when given) on top.
    public static func start(
        feed feedArguments: [String], databaseURL: String, log: String, _ settings: [String: String] = [:], spool: String? = nil,
        arguments: [String] = [], directory: URL, standardOutput: ManagedProcess.StandardOutput = .captured
    ) async throws -> RunningPipeline {
        let (feed, port) = try await ManagedProcess.feedSim(feedArguments, directory: directory)
        let environment = ingesterEnvironment(
            port: port, databaseURL: databaseURL, logFile: directory.appendingPathComponent(log).path, settings, spool: spool)
        let ingester = try await ManagedProcess(
            "ingest-options", arguments, environment: environment, directory: directory, standardOutput: standardOutput)
        return RunningPipeline(
            feed: feed, port: port, ingester: ingester, log: environment["LOG_FILE"]!, environment: environment, directory: directory)
    }

    /// Another ingester on the same feed, with this one's environment, `settings` on top and its own `log`:
    /// a restart after a kill (the same spool), or a second instance (a `SPOOL_DIR` of its own in `settings`:
    /// the spool's lock refuses a second process).
    public func withIngester(log: String, _ settings: [String: String] = [:]) async throws -> RunningPipeline {
        var environment = environment.merging(settings) { $1 }
        environment["LOG_FILE"] = directory.appendingPathComponent(log).path
        let ingester = try await ManagedProcess("ingest-options", [], environment: environment, directory: directory)
        return RunningPipeline(
            feed: feed, port: port, ingester: ingester, log: environment["LOG_FILE"]!, environment: environment, directory: directory)
    }

    /// The ingester's JSON log lines whose `msg` is `message`.
    public func lines(_ message: String) -> [[String: Any]] {
        logLines(log, message: message)
    }

    /// Waits until the ingester logged `message` `count` times; returns those lines.
    @discardableResult
    public func waitForLog(_ message: String, count: Int = 1, timeout: Duration) async throws -> [[String: Any]] {
        try await IngestTestSupport.waitForLog(log, message, count: count, timeout: timeout)
    }

    /// Waits until the ingester streams from the feed.
    public func waitUntilStreaming(timeout: Duration) async throws {
        _ = try await waitFor(timeout: timeout, what: "the ingester streaming") { lines("feed streaming").isEmpty ? nil : true }
    }

    /// Waits until feed-sim has exited (expecting exit 0) and the ingester saw the end of every
    /// connection it streamed on: everything feed-sim wrote reached the ingester before its close frame.
    public func waitForFeedEnd(
        exitWithin: Duration = .seconds(20), endSeenWithin: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(try await feed.waitForExit(timeout: exitWithin) == 0, "feed-sim's exit", sourceLocation: sourceLocation)
        let streamed = lines("feed streaming").count
        _ = try await waitFor(timeout: endSeenWithin, what: "the ingester to see the end of the stream") {
            lines("feed disconnected").count >= max(streamed, 1) ? true : nil
        }
    }

    /// Stops feed-sim (SIGTERM) and waits as `waitForFeedEnd` does.
    public func stopFeed(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        feed.signal(SIGTERM)
        try await waitForFeedEnd(sourceLocation: sourceLocation)
    }

    /// Stops feed-sim first, waits until the ingester saw the end of the stream, then stops the ingester
    /// (SIGTERM), expecting both to exit 0.
    public func finish(ingesterExitWithin: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await stopFeed(sourceLocation: sourceLocation)
        #expect(try await ingester.stop(timeout: ingesterExitWithin) == 0, "the ingester's exit", sourceLocation: sourceLocation)
    }
}

extension ManagedProcess {
    /// Starts feed-sim with `arguments` on a port of its choosing (`--port 0`) and returns it with that port.
    public static func feedSim(_ arguments: [String], directory: URL) async throws -> (feed: ManagedProcess, port: Int) {
        let feed = try await ManagedProcess("feed-sim", ["--port", "0"] + arguments, directory: directory)
        return (feed, try await listeningPort(feed))
    }

    /// Starts an ingester alone, on a feed at `port` (feed-sim, a `SilentListener`, or nothing), against
    /// `databaseURL`, logging to `logFile`, with `settings` (and `SPOOL_DIR` = `spool`) on top, in `directory`.
    public static func ingester(
        port: Int, databaseURL: String, logFile: String, _ settings: [String: String] = [:], spool: String? = nil,
        arguments: [String] = [], directory: URL
    ) async throws -> ManagedProcess {
        let environment = ingesterEnvironment(port: port, databaseURL: databaseURL, logFile: logFile, settings, spool: spool)
        return try await ManagedProcess("ingest-options", arguments, environment: environment, directory: directory)
    }

    /// Sends SIGTERM and waits for the exit; returns its code.
    @discardableResult
    public func stop(timeout: Duration) async throws -> Int32 {
        signal(SIGTERM)
        return try await waitForExit(timeout: timeout)
    }
}

/// The environment of an `ingest-options` under test: the feed on `port`, the database at `databaseURL`,
/// a log file, a spool (`spool`, else a fresh one) and the test's `settings` on top.
func ingesterEnvironment(
    port: Int, databaseURL: String, logFile: String, _ settings: [String: String] = [:], spool: String? = nil
) -> [String: String] {
    var environment = [
        "POLYGON_API_KEY": "e2e-test-key-123456", "POLYGON_WS_URL": "ws://127.0.0.1:\(port)/options",
        // feed-sim serves the REST API on the WebSocket's port (used when BACKFILL is on).
        "POLYGON_REST_URL": "http://127.0.0.1:\(port)",
        "DATABASE_URL": databaseURL, "LOG_FILE": logFile, "LOG_LEVEL": "info",
        "MIGRATIONS_DIR": repositoryRoot.appendingPathComponent("migrations").path,
        // A spool of its own: one process per spool directory (the spool's lock refuses a second one).
        // Inside the test's temporary directory when it has one, so that it goes when the test ends.
        "SPOOL_DIR": spool
            ?? (TemporaryDirectory.current ?? FileManager.default.temporaryDirectory).appendingPathComponent("spool-\(UUID().uuidString)").path,
    ]
    environment.merge(settings) { $1 }
    return environment
}

/// The JSON log lines of a file whose `msg` is `message`.
public func logLines(_ path: String, message: String) -> [[String: Any]] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            object["msg"] as? String == message
        else { return nil }
        return object
    }
}

/// Reads feed-sim's `{"event":"listening","port":N}` line.
public func listeningPort(_ sim: ManagedProcess) async throws -> Int {
    let output = try await sim.waitForOutput(timeout: .seconds(30)) { $0.contains("\"listening\"") }
    for line in output.split(separator: "\n") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let port = object["port"] as? Int {
            return port
        }
    }
    throw TestSetupError("no port in feed-sim output: \(output)")
}

/// Waits until the JSON log file at `log` holds `count` lines whose `msg` is `message`; returns them.
@discardableResult
public func waitForLog(_ log: String, _ message: String, count: Int = 1, timeout: Duration) async throws -> [[String: Any]] {
    try await waitFor(timeout: timeout, what: "\(count)× \"\(message)\" in \(log)") {
        let lines = logLines(log, message: message)
        return lines.count >= count ? lines : nil
    }
}

/// A port nothing listens on right now.
public func freePort() throws -> Int {
    try SilentListener().port
}

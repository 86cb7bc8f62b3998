import Foundation
import IngestDatabase
import Logging
import Subprocess

/// Where the checkout is, from this file's path.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh database on the test PostgreSQL server, dropped by `drop()`.
///
/// The server comes from `TEST_DATABASE_URL`, which `scripts/test` sets after
/// starting the local one with `scripts/pg start`.
public final class TestDatabase: @unchecked Sendable {
    public let name: String
    public let url: String
    private let adminURL: String

    public static func create() throws -> TestDatabase {
        let admin = try serverURL()
        let name = "test_\(UInt32.random(in: 0...UInt32.max))_\(ProcessInfo.processInfo.processIdentifier)"
        let connection = try PGConnection(conninfo: admin)
        try connection.execute("CREATE DATABASE \(name)")
        return TestDatabase(name: name, url: replacingDatabase(in: admin, with: name), adminURL: admin)
    }

    private init(name: String, url: String, adminURL: String) {
        self.name = name
        self.url = url
        self.adminURL = adminURL
    }

    /// Applies the project's migrations.
    public func migrate() throws {
        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("migrations").path)
            .apply(conninfo: url, logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    public func connect() throws -> PGConnection {
        try PGConnection(conninfo: url)
    }

    public func drop() {
        guard let connection = try? PGConnection(conninfo: adminURL) else { return }
        _ = try? connection.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// The URL of the test server's `postgres` database.
    static func serverURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty { return url }
        // Child processes are started with swift-subprocess, which is async only; `create` is not.
        throw TestSetupError("TEST_DATABASE_URL is not set: run the tests with scripts/test, or `scripts/pg start` and set it")
    }

    static func replacingDatabase(in url: String, with database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}

/// A copy of the project's `migrations/` in `directory` holding only the
/// PostgreSQL files named up to `last` (e.g. `0006_backfill.sql`): the layout
/// of an earlier release, for upgrade tests.
public func migrations(upTo last: String, in directory: URL) throws -> String {
    let source = repositoryRoot.appendingPathComponent("migrations")
    let target = directory.appendingPathComponent("migrations-\(last)")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file.hasSuffix(".sql") && file <= last {
        try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: target.appendingPathComponent(file))
    }
    return target.path
}

/// Runs a tool to completion and returns its standard output; throws when it exits non-zero.
/// `environment`, when given, is the tool's whole environment.
@discardableResult
public func runTool(_ path: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> String {
    let result = try await run(
        .path(.init(path)), arguments: Arguments(arguments),
        environment: environment.map { childEnvironment($0, inherit: false) } ?? .inherit,
        output: .string(limit: toolOutputLimit), error: .discarded)
    guard result.terminationStatus == .exited(0) else {
        throw TestSetupError("\(path) \(arguments.joined(separator: " ")) ended \(result.terminationStatus)")
    }
    return result.standardOutput
}

/// Runs a tool found on PATH with `input` on stdin; returns its exit code and its stdout and stderr together.
public func runToolWithInput(_ name: String, _ arguments: [String], input: String) async throws -> (status: Int32, output: String) {
    let result = try await run(
        .name(name), arguments: Arguments(arguments), input: .string(input), output: .string(limit: toolOutputLimit),
        error: .combinedWithOutput)
    return (exitCode(result.terminationStatus), result.standardOutput)
}

/// Runs one of the built executables to completion in `directory` with `input` on stdin and
/// `environment` as its whole environment; returns its exit code and stdout (stderr is dropped).
public func runBuilt(
    _ executable: String, _ arguments: [String], environment: [String: String], directory: URL, input: String
) async throws -> (status: Int32, output: String) {
    let result = try await run(
        .path(.init(ManagedProcess.binDirectory.appendingPathComponent(executable).path)), arguments: Arguments(arguments),
        environment: childEnvironment(environment, inherit: false), workingDirectory: .init(directory.path),
        input: .string(input), output: .string(limit: toolOutputLimit), error: .discarded)
    return (exitCode(result.terminationStatus), result.standardOutput)
}

/// The most output a tool run to completion may print (swift-subprocess throws past it).
let toolOutputLimit = 16 << 20

/// A termination status as a shell shows it: the exit code, or the signal number.
func exitCode(_ termination: TerminationStatus) -> Int32 {
    switch termination {
    case .exited(let code): code
    case .signaled(let signal): signal
    }
}

/// Waits until `options_trades` of the database at `conninfo` holds at least `count` rows; returns how many it holds.
@discardableResult
public func waitForTrades(in conninfo: String, atLeast count: Int = 1, timeout: Duration = .seconds(20)) async throws -> Int {
    try await waitFor(timeout: timeout, what: "\(count) rows in options_trades", every: .milliseconds(200)) {
        let rows = (try? PGConnection(conninfo: conninfo).query("SELECT count(*) FROM options_trades")) ?? []
        let stored = rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
        return stored >= count ? stored : nil
    }
}

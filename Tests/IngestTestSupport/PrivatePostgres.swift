import Foundation

/// A PostgreSQL server of one test's own, run by `scripts/pg` on a free port,
/// which the test may stop and start (an outage), or start late (a database
/// that is down when the ingester starts). The shared test server
/// (`TestDatabase`) must never go down under the other tests.
public struct PrivatePostgres: Sendable {
    public let port: Int
    /// The URL of the server's one database (`scripts/pg` prints the same once it started).
    public let url: String
    /// `scripts/pg`'s environment: this process's own with the port, data directory and database on top.
    private let environment: [String: String]

    /// A server not started yet: `run("start")` starts it (initialising it the first time).
    public init(database: String) throws {
        port = try freePort()
        url = "postgresql://postgres@127.0.0.1:\(port)/\(database)"
        environment = ProcessInfo.processInfo.environment.merging([
            "PG_PORT": "\(port)", "PG_DATA": repositoryRoot.appendingPathComponent(".data/test-pg-\(port)").path,
            "PG_DATABASE": database,
        ]) { $1 }
    }

    /// The server's data directory (its socket and log sit beside it).
    public var dataDirectory: String { environment["PG_DATA"]! }

    /// Runs `scripts/pg COMMAND` (`start`, `stop`) for this server.
    public func run(_ command: String) async throws {
        try await runTool(repositoryRoot.appendingPathComponent("scripts/pg").path, [command], environment: environment)
    }

    /// Stops the server and removes its files.
    public func destroy() async {
        try? await run("stop")
        for path in [dataDirectory, dataDirectory + "-socket", dataDirectory + ".log"] {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Runs `body` with a server of its own (started unless `started` is false), stopped and removed
    /// afterwards, also when `body` throws.
    public static func with<T>(database: String = "outage", started: Bool = true, _ body: (PrivatePostgres) async throws -> T) async throws -> T {
        let server = try PrivatePostgres(database: database)
        return try await withCleanup({ await server.destroy() }) {
            if started { try await server.run("start") }
            return try await body(server)
        }
    }
}

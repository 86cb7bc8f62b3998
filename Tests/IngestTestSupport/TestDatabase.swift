import Foundation
import IngestDatabase
import Logging

/// Where the checkout is, from this file's path.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh database on the test PostgreSQL server, dropped by `drop()`.
///
/// The server comes from `TEST_DATABASE_URL` (set by `scripts/test`); without
/// it, `scripts/pg start` is run to start the local one.
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
        let output = try runTool(repositoryRoot.appendingPathComponent("scripts/pg").path, ["start"])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("DATABASE_URL=") }) else {
            throw TestSetupError("scripts/pg start printed no DATABASE_URL: \(output)")
        }
        return replacingDatabase(in: String(line.dropFirst("DATABASE_URL=".count)), with: "postgres")
    }

    static func replacingDatabase(in url: String, with database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}

/// Runs a tool to completion and returns its standard output.
@discardableResult
public func runTool(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let status = waitForChild(process)
    guard status == 0 else {
        throw TestSetupError("\(path) \(arguments.joined(separator: " ")) exited \(status)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// Runs a tool found on PATH with `input` on stdin; returns its status and combined output.
public func runToolWithInput(_ name: String, _ arguments: [String], input: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let stdin = Pipe()
    let output = Pipe()
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = output
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let status = waitForChild(process)
    return (status, String(decoding: data, as: UTF8.self))
}

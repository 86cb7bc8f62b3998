import Foundation

/// A child process for integration tests: output to files, waits with
/// deadlines, and killed when the test ends, pass or fail.
public final class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String
    private let process = Process()

    /// The directory holding the built executables (`INGEST_BIN_DIR`, else `.build/debug`).
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["INGEST_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }

    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: URL,
        inheritEnvironment: Bool = true
    ) throws {
        let path = Self.binDirectory.appendingPathComponent(executable).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError("\(path) is not built: run `swift build` first (scripts/test does)")
        }
        name = executable
        stdoutPath = directory.appendingPathComponent("\(executable)-\(UInt16.random(in: 0...UInt16.max)).out").path
        stderrPath = stdoutPath.replacingOccurrences(of: ".out", with: ".err")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit and returns its status; throws after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw TestSetupError("\(name) still running after \(timeout); stderr: \(stderr.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// Waits until `condition` holds for the process's stdout; throws after `timeout`.
    public func waitForOutput(timeout: Duration, _ condition: (String) -> Bool) async throws -> String {
        try await waitFor(timeout: timeout, what: "\(name) output") {
            let output = stdout
            return condition(output) ? output : nil
        }
    }
}

/// Polls `probe` until it returns a value; throws after `timeout`.
public func waitFor<T>(timeout: Duration, what: String, _ probe: () throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while true {
        if let value = try probe() { return value }
        guard ContinuousClock.now < deadline else { throw TestSetupError("timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

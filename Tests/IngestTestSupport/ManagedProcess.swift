import Foundation
import Synchronization

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
        if isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = waitForChild(process)
        }
    }

    /// Set once the child is reaped (by Foundation or by `reapedStatus`).
    private let exitStatus = Mutex<Int32?>(nil)

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { exitStatus(blocking: false) == nil }

    private func exitStatus(blocking: Bool) -> Int32? {
        exitStatus.withLock { status in
            if status == nil { status = reapedStatus(process, blocking: blocking) }
            return status
        }
    }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit and returns its status; throws after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let status = exitStatus(blocking: false) { return status }
            guard ContinuousClock.now < deadline else {
                throw TestSetupError("\(name) still running after \(timeout); stderr: \(stderr.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
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

/// The environment of an `ingest-options` under test: the feed on `port`,
/// the test database, a log file, and fast settings layered on top.
public func ingesterEnvironment(port: Int, database: TestDatabase, logFile: String, _ extra: [String: String] = [:]) -> [String: String] {
    ingesterEnvironment(port: port, databaseURL: database.url, logFile: logFile, extra)
}

public func ingesterEnvironment(port: Int, databaseURL: String, logFile: String, _ extra: [String: String] = [:]) -> [String: String] {
    var environment = [
        "POLYGON_API_KEY": "e2e-test-key-123456", "POLYGON_WS_URL": "ws://127.0.0.1:\(port)/options",
        "DATABASE_URL": databaseURL, "LOG_FILE": logFile, "LOG_LEVEL": "info",
        "MIGRATIONS_DIR": repositoryRoot.appendingPathComponent("migrations").path,
        // A spool of its own: one process per spool directory (the spool's lock refuses a second one).
        "SPOOL_DIR": FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path,
    ]
    environment.merge(extra) { $1 }
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

/// A TCP listener that accepts connections into its backlog and never answers:
/// a peer that hangs the WebSocket upgrade.
public final class SilentListener: @unchecked Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        guard descriptor >= 0 else { throw TestSetupError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw TestSetupError("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}

/// The exit status of a child (its signal number when a signal ended it), or
/// `nil` while it runs. Foundation's `Process` on Linux sometimes misses a
/// child's SIGCHLD when several processes start at once (seen here: a zombie
/// child, and `waitUntilExit` spinning forever), so the tests reap their
/// children themselves with `waitpid` on the child's own pid.
func reapedStatus(_ process: Process, blocking: Bool) -> Int32? {
    var status: Int32 = 0
    while true {
        let result = waitpid(process.processIdentifier, &status, blocking ? 0 : WNOHANG)
        if result == process.processIdentifier {
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : signal
        }
        if result == 0 { return nil }
        if errno == EINTR { continue }
        // ECHILD: Foundation reaped it first; its status is there once it has noticed.
        if !process.isRunning { return process.terminationStatus }
        guard blocking else { return nil }
        usleep(10_000)
    }
}

/// Blocks until the child exits and returns its status.
func waitForChild(_ process: Process) -> Int32 {
    reapedStatus(process, blocking: true) ?? 0
}

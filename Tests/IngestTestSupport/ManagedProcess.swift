import Foundation
import Subprocess
import Synchronization

/// A child process for integration tests, run by swift-subprocess: its output
/// captured in memory while it runs, signals sent through its process
/// descriptor, waits with deadlines, and killed when the test ends, pass or fail.
///
/// swift-subprocess hands out the running child (`Execution`) only inside the
/// closure of `run`, for as long as that closure runs. A test needs the child
/// across many awaits of its own, so one task per child runs `run`, keeps the
/// `Execution` here while the closure drains stdout and stderr, and records the
/// termination status when `run` returns. Signals go through that `Execution`
/// (a pidfd on Linux), never to a bare pid that might have been reused, and
/// swift-subprocess alone reaps the child.
public final class ManagedProcess: Sendable {
    /// Where the child's standard output goes.
    public enum StandardOutput: Sendable {
        /// Captured in memory: read it with `stdout`.
        case captured
        /// Into a descriptor the test owns (left open here), e.g. a pipe's write end.
        case descriptor(Int32)
    }

    public let name: String
    private let child: Child
    private let runner: Task<Void, Never>

    /// The directory holding the built executables (`INGEST_BIN_DIR`, else `.build/debug`).
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["INGEST_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }

    /// Starts one of the built executables (`ingest-options`, `feed-sim`) in `directory`.
    public convenience init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: URL,
        inheritEnvironment: Bool = true, standardOutput: StandardOutput = .captured
    ) async throws {
        let path = Self.binDirectory.appendingPathComponent(executable).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError("\(path) is not built: run `swift build` first (scripts/test does)")
        }
        try await self.init(
            path: path, arguments, environment: environment, directory: directory, inheritEnvironment: inheritEnvironment,
            standardOutput: standardOutput)
    }

    /// Starts the executable at `path` (a script, a tool) in `directory`; returns once it runs.
    public init(
        path: String, _ arguments: [String], environment: [String: String] = [:], directory: URL,
        inheritEnvironment: Bool = true, standardOutput: StandardOutput = .captured
    ) async throws {
        name = URL(fileURLWithPath: path).lastPathComponent
        let child = Child()
        self.child = child
        let configuration = Configuration(
            executable: .path(.init(path)), arguments: Arguments(arguments),
            environment: childEnvironment(environment, inherit: inheritEnvironment),
            workingDirectory: .init(directory.path))
        let (started, starting) = AsyncStream<(any Error)?>.makeStream()
        runner = Task {
            do {
                let status: TerminationStatus
                switch standardOutput {
                case .captured:
                    status = try await run(configuration, input: .none, output: .sequence, error: .sequence) { execution in
                        child.started(execution, starting)
                        async let out: Void = child.drain(execution.standardOutput, isError: false)
                        await child.drain(execution.standardError, isError: true)
                        await out
                        child.ended()
                    }.terminationStatus
                case .descriptor(let descriptor):
                    status = try await run(
                        configuration, input: .none, output: .fileDescriptor(.init(rawValue: descriptor), closeAfterSpawningProcess: false),
                        error: .sequence
                    ) { execution in
                        child.started(execution, starting)
                        await child.drain(execution.standardError, isError: true)
                        child.ended()
                    }.terminationStatus
                }
                child.exited(status)
            } catch {
                child.failed(error, starting)
            }
        }
        for await failure in started {
            if let failure { throw TestSetupError("\(name) did not start: \(failure)") }
            break
        }
    }

    deinit {
        // Killed now through its descriptor; cancelling the task also tears it down (SIGKILL) and reaps it.
        signal(SIGKILL)
        runner.cancel()
    }

    /// The child's process id (for reading `/proc`; signals go through `signal(_:)`).
    public var pid: Int32 { child.state.withLock { $0.pid } }
    public var isRunning: Bool { child.state.withLock { $0.status == nil && $0.failure == nil } }
    public var stdout: String { child.state.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    public var stderr: String { child.state.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    /// Sends `signal` (SIGINT, SIGTERM, SIGKILL, SIGUSR1 …) while the child runs; nothing once it has exited.
    public func signal(_ signal: Int32) {
        child.state.withLock { state in
            guard state.status == nil else { return }
            state.send?(signal)
        }
    }

    /// Waits for the exit and returns its code (the signal number when a signal ended it); throws after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        do {
            return try await waitFor(timeout: timeout, what: "\(name) to exit") { () throws -> Int32? in
                try child.state.withLock { state in
                    if let failure = state.failure { throw TestSetupError("\(name) failed: \(failure)") }
                    return state.status
                }
            }
        } catch let error as TestSetupError {
            throw TestSetupError("\(error.description); stderr: \(stderr.suffix(2000))")
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

/// What one child has done so far, shared by its runner task and the test.
private final class Child: Sendable {
    struct State {
        /// Signals the running child; set only while `run`'s closure holds its `Execution`.
        var send: (@Sendable (Int32) -> Void)?
        var pid: Int32 = 0
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var status: Int32?
        var failure: String?
    }
    let state = Mutex(State())

    func started(_ execution: Execution<some InputProtocol, some OutputProtocol, some OutputProtocol>, _ starting: AsyncStream<(any Error)?>.Continuation) {
        state.withLock {
            $0.pid = execution.processIdentifier.value
            $0.send = { try? execution.send(signal: Signal(rawValue: $0)) }
        }
        starting.yield(nil)
        starting.finish()
    }

    /// Appends everything the child writes to one of its streams until it closes (or the child exits).
    func drain(_ output: SubprocessOutputSequence, isError: Bool) async {
        do {
            for try await buffer in output {
                let bytes = buffer.withUnsafeBytes { Array($0) }
                state.withLock { state in
                    if isError { state.stderr += bytes } else { state.stdout += bytes }
                }
            }
        } catch {
            // The stream ends with an error when swift-subprocess cancels its I/O at the child's exit: what was read is kept.
        }
    }

    func ended() {
        state.withLock { $0.send = nil }
    }

    func exited(_ termination: TerminationStatus) {
        state.withLock { $0.status = exitCode(termination) }
    }

    func failed(_ error: any Error, _ starting: AsyncStream<(any Error)?>.Continuation) {
        state.withLock { $0.failure = "\(error)" }
        starting.yield(error)
        starting.finish()
    }
}

/// The environment of a child: this process's own (unless `inherit` is false) with `overrides` on top.
func childEnvironment(_ overrides: [String: String], inherit: Bool) -> Environment {
    var environment = inherit ? ProcessInfo.processInfo.environment : [:]
    environment.merge(overrides) { $1 }
    return .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
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

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import OptionsFeed

/// One input of `ingest-options replay`: a recording file, `-` for standard
/// input, or a gzip-compressed recording (recognised by its magic bytes,
/// whatever its name), read in large chunks.
///
/// Gzip is read through a `gzip -dc FILE` child process (`posix_spawnp`)
/// rather than a zlib binding: it keeps the package's dependencies as they
/// are, and `gzip` is on every Debian system. Reads block, so they run on a
/// dispatch queue of their own, never on the Swift concurrency pool.
public final class RecordingSource: @unchecked Sendable {
    public enum SourceError: Error, Sendable, CustomStringConvertible {
        case cannotOpen(String, String)
        case read(String, Int32)
        case decompression(String, String)

        public var description: String {
            switch self {
            case .cannotOpen(let name, let reason): "cannot open \(name): \(reason)"
            case .read(let name, let code): "cannot read \(name): \(String(cString: strerror(code)))"
            case .decompression(let name, let reason): "gzip could not decompress \(name): \(reason)"
            }
        }
    }

    /// A running `gzip -dc`: its process and the read ends of its output and error pipes.
    private struct Gzip {
        let pid: pid_t
        let output: Int32
        let errors: Int32
    }

    /// The name given on the command line (`-` for standard input).
    public let name: String
    /// Whether the input is decompressed through `gzip -dc`.
    public var isCompressed: Bool { gzip != nil }
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let gzip: Gzip?
    /// Set once gzip has been waited for (by `finish()` or `deinit`).
    private var gzipReaped = false
    private static let readQueue = DispatchQueue(label: "recording-source")

    /// Opens the input; `-` is standard input.
    public init(_ name: String) throws {
        self.name = name
        if name == "-" {
            descriptor = STDIN_FILENO
            ownsDescriptor = false
            gzip = nil
            return
        }
        let file = open(name, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw SourceError.cannotOpen(name, String(cString: strerror(errno))) }
        var magic: (UInt8, UInt8) = (0, 0)
        let peeked = withUnsafeMutableBytes(of: &magic) { pread(file, $0.baseAddress, 2, 0) }
        guard peeked == 2, magic == (0x1F, 0x8B) else {
            descriptor = file
            ownsDescriptor = true
            gzip = nil
            return
        }
        close(file)
        let child = try Self.startGzip(name)
        descriptor = child.output
        ownsDescriptor = true
        gzip = child
    }

    /// `gzip -dc -- name` with standard input from /dev/null and its output
    /// and errors into pipes; found on `PATH`, run with this process's environment.
    private static func startGzip(_ name: String) throws -> Gzip {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw SourceError.cannotOpen(name, "cannot make a pipe: errno \(errno)") }
        guard pipe(&errors) == 0 else {
            output.forEach { close($0) }
            throw SourceError.cannotOpen(name, "cannot make a pipe: errno \(errno)")
        }
        // Only the child's copies (dup2 clears the flag) survive its exec.
        for descriptor in output + errors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, errors[1], STDERR_FILENO)
        let arguments = ["gzip", "-dc", "--", name]
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // gzip starts with every signal at its default and none blocked, whatever this process set
        // (it ignores SIGPIPE, so that a closed console does not kill it).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        var noSignal = sigset_t()
        sigemptyset(&noSignal)
        posix_spawnattr_setsigmask(&attributes, &noSignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid = pid_t()
        let started = posix_spawnp(&pid, "gzip", &actions, &attributes, argv, envp)
        close(output[1])
        close(errors[1])
        guard started == 0 else {
            close(output[0])
            close(errors[0])
            throw SourceError.cannotOpen(name, "cannot start gzip: \(String(cString: strerror(started)))")
        }
        return Gzip(pid: pid, output: output[0], errors: errors[0])
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
        if let gzip {
            close(gzip.errors)
            if !gzipReaped {
                kill(gzip.pid, SIGTERM)
                var status: Int32 = 0
                while waitpid(gzip.pid, &status, 0) < 0, errno == EINTR {}
            }
        }
    }

    /// The next bytes, up to `maximum`; `nil` at the end of the input.
    public func read(maximum: Int = 1 << 20) async throws -> [UInt8]? {
        let descriptor = self.descriptor
        let name = self.name
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
            Self.readQueue.async {
                var chunk = [UInt8](repeating: 0, count: maximum)
                while true {
                    let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, maximum) }
                    if count < 0 {
                        if errno == EINTR { continue }
                        continuation.resume(throwing: SourceError.read(name, errno))
                        return
                    }
                    if count == 0 {
                        continuation.resume(returning: nil)
                        return
                    }
                    chunk.removeSubrange(count...)
                    continuation.resume(returning: chunk)
                    return
                }
            }
        }
    }

    /// After the end of the input: whether gzip decompressed all of it (a
    /// truncated or corrupt `.gz` makes it fail; the lines before still counted).
    public func finish() throws {
        guard let gzip, !gzipReaped else { return }
        var status: Int32 = 0
        while waitpid(gzip.pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SourceError.decompression(name, "cannot wait for gzip: errno \(errno)") }
        }
        gzipReaped = true
        // The wait status: the low 7 bits are the signal that ended it (0: it exited), bits 8-15 its exit status.
        let signal = status & 0x7F
        let exitStatus = (status >> 8) & 0xFF
        guard signal != 0 || exitStatus != 0 else { return }
        // gzip has exited and the write end is closed: this read ends. Its message is short; 4 KiB is plenty.
        var message = [UInt8](repeating: 0, count: 4096)
        var count = 0
        while count < message.count {
            let got = message.withUnsafeMutableBytes { Glibc.read(gzip.errors, $0.baseAddress! + count, $0.count - count) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            count += got
        }
        let text = String(decoding: message[..<count], as: UTF8.self).trimmingWhitespace()
        throw SourceError.decompression(
            name, !text.isEmpty ? text : signal != 0 ? "ended by signal \(signal)" : "exit status \(exitStatus)")
    }
}

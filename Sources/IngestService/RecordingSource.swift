import Foundation

/// One input of `ingest-options replay`: a recording file, `-` for standard
/// input, or a gzip-compressed recording (recognised by its magic bytes,
/// whatever its name), read in large chunks.
///
/// Gzip is read through a `gzip -dc FILE` child process rather than a zlib
/// binding: it keeps the package's dependencies as they are, and `gzip` is on
/// every Debian system. Reads block, so they run on a dispatch queue of their
/// own, never on the Swift concurrency pool.
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

    /// The name given on the command line (`-` for standard input).
    public let name: String
    /// Whether the input is decompressed through `gzip -dc`.
    public let isCompressed: Bool
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let gzip: Process?
    private let gzipErrors: Pipe?
    /// Holds gzip's output pipe (and so its read end) open as long as this source.
    private let outputPipe: Pipe?
    private static let readQueue = DispatchQueue(label: "recording-source")

    /// Opens the input; `-` is standard input.
    public init(_ name: String) throws {
        self.name = name
        if name == "-" {
            descriptor = STDIN_FILENO
            ownsDescriptor = false
            isCompressed = false
            gzip = nil
            gzipErrors = nil
            outputPipe = nil
            return
        }
        let file = open(name, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw SourceError.cannotOpen(name, String(cString: strerror(errno))) }
        var magic: (UInt8, UInt8) = (0, 0)
        let peeked = withUnsafeMutableBytes(of: &magic) { pread(file, $0.baseAddress, 2, 0) }
        guard peeked == 2, magic == (0x1F, 0x8B) else {
            descriptor = file
            ownsDescriptor = true
            isCompressed = false
            gzip = nil
            gzipErrors = nil
            outputPipe = nil
            return
        }
        close(file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", "--", name]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw SourceError.cannotOpen(name, "cannot start gzip: \(error)")
        }
        descriptor = output.fileHandleForReading.fileDescriptor
        ownsDescriptor = false
        isCompressed = true
        gzip = process
        gzipErrors = errors
        outputPipe = output
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
        if let gzip, gzip.isRunning { gzip.terminate() }
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
        guard let gzip else { return }
        gzip.waitUntilExit()
        guard gzip.terminationStatus == 0 else {
            let message = gzipErrors.map { String(decoding: $0.fileHandleForReading.availableData, as: UTF8.self) } ?? ""
            throw SourceError.decompression(
                name, message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                    ? "exit status \(gzip.terminationStatus)" : message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

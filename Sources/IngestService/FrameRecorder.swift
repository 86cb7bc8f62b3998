#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import IngestPipeline
import IngestSpool
import OptionsFeed
import Logging
import NIOCore
import Synchronization

/// Appends every text frame the feed sends to a recording file (docs/design.md §2.1
/// `--record FILE`, §5.6), one JSON line `{"rx":…,"frame":"…"}` per frame,
/// for `ingest-options replay`.
///
/// Recording must never slow or stop ingestion. The feed reader only queues
/// the frame's `ByteBuffer` (no copy, no formatting) under a lock; one
/// background thread escapes the frames, gathers lines and writes them with
/// few `write(2)` calls. The queue is bounded in bytes: when the disk cannot
/// keep up, frames are left out of the recording, counted and logged, never
/// waited for. Any write error (a full disk above all) logs
/// `{"msg":"ALERT","alert":"recording_failed","state":"open",…}` once and
/// turns recording off; ingestion goes on. The file rotates at
/// `RECORD_MAX_BYTES` (see `RecordingRotation`) and is fsynced at each
/// rotation and at `close()`.
public final class FrameRecorder: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The file appended to (`RECORD_FILE`); its directory is created.
        public var path: String
        public var rotation: RecordingRotation.Configuration
        /// Most frame bytes waiting for the writer thread (64 MiB): room for
        /// seconds of a busy feed while the disk stalls, bounded all the same.
        public var maxQueuedBytes: Int
        /// Lines are gathered up to this size before one `write(2)` (1 MiB).
        public var writeChunkBytes: Int

        public init(
            path: String, rotation: RecordingRotation.Configuration = .init(), maxQueuedBytes: Int = 64 << 20,
            writeChunkBytes: Int = 1 << 20
        ) {
            self.path = path
            self.rotation = rotation
            self.maxQueuedBytes = max(1, maxQueuedBytes)
            self.writeChunkBytes = max(1, writeChunkBytes)
        }
    }

    public enum RecorderError: Error, Sendable, CustomStringConvertible {
        case io(operation: String, path: String, errno: Int32)

        public var description: String {
            switch self {
            case .io(let operation, let path, let code):
                "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
            }
        }
    }

    private struct Pending {
        var receivedAtMicros: Int64
        var frame: ByteBuffer
    }

    private struct Queue {
        var frames: [Pending] = []
        var bytes = 0
        var closing = false
    }

    public let configuration: Configuration
    private let queue = Mutex(Queue())
    /// Signalled when the queue goes from empty to not empty, and at close.
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let writerFinished = DispatchSemaphore(value: 0)
    private let closed = Atomic<Bool>(false)
    private let active = Atomic<Bool>(true)
    private let failureReason = Mutex<String?>(nil)
    private let framesRecorded = Atomic<Int>(0)
    private let framesLeftOut = Atomic<Int>(0)
    private let rotationCount = Atomic<Int>(0)
    private let leftOutLog = LogThrottle<Int>()
    private let logger: Logger

    /// Opens (appends to) the file and starts the writer thread. Throws when
    /// the file cannot be opened: a recording asked for and impossible from
    /// the start is a configuration error, not something to find out later.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let file = try RecordingFile(configuration: configuration)
        guard DetachedThread.start(name: "frame-recorder", { [self] in self.writeLoop(file) }) else {
            throw RecorderError.io(operation: "start the writer thread for", path: configuration.path, errno: errno)
        }
    }

    /// Whether frames are still being recorded (false after a write error or `close()`).
    public var isRecording: Bool { active.load(ordering: .relaxed) && !closed.load(ordering: .relaxed) }
    /// Why recording stopped, if a write failed.
    public var failure: String? { failureReason.withLock { $0 } }
    /// Frames written to the file so far.
    public var recordedFrames: Int { framesRecorded.load(ordering: .relaxed) }
    /// Frames not recorded because the queue was full.
    public var leftOutFrames: Int { framesLeftOut.load(ordering: .relaxed) }
    /// Rotations so far.
    public var rotations: Int { rotationCount.load(ordering: .relaxed) }

    /// Queues a received text frame; returns at once (the hot path).
    public func record(_ frame: ByteBuffer, receivedAtMicros: Int64) {
        guard active.load(ordering: .relaxed) else { return }
        let size = frame.readableBytes
        enum Outcome { case queued(first: Bool), full, closing }
        let outcome: Outcome = queue.withLock { queue in
            guard !queue.closing else { return .closing }
            guard queue.frames.isEmpty || queue.bytes + size <= configuration.maxQueuedBytes else { return .full }
            queue.frames.append(Pending(receivedAtMicros: receivedAtMicros, frame: frame))
            queue.bytes += size
            return .queued(first: queue.frames.count == 1)
        }
        switch outcome {
        case .queued(let first):
            if first { wakeWriter.signal() }
        case .full:
            framesLeftOut.add(1)
            if let suppressed = leftOutLog.admit(0) {
                logger.warning(
                    "recording falls behind the feed; frame left out of the recording",
                    metadata: ["file": "\(configuration.path)", "left_out": "\(leftOutFrames)", "suppressed": "\(suppressed)",
                               "queued_limit_bytes": "\(configuration.maxQueuedBytes)"])
            }
        case .closing:
            break
        }
    }

    /// Writes what is queued, fsyncs and closes the file, and stops the writer
    /// thread (at shutdown). Blocks until done; later calls return at once.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.withLock { $0.closing = true }
        wakeWriter.signal()
        writerFinished.wait()
    }

    /// The writer thread: takes everything queued, writes it, waits for more.
    private func writeLoop(_ file: RecordingFile) {
        defer { writerFinished.signal() }
        var output: [UInt8] = []
        output.reserveCapacity(configuration.writeChunkBytes + 64 << 10)
        while true {
            wakeWriter.wait()
            while true {
                let (frames, closing) = queue.withLock { queue in
                    defer {
                        queue.frames.removeAll(keepingCapacity: true)
                        queue.bytes = 0
                    }
                    return (queue.frames, queue.closing)
                }
                if frames.isEmpty {
                    guard closing else { break }
                    if active.load(ordering: .relaxed) {
                        do {
                            try file.close()
                        } catch {
                            fail(error, file)
                        }
                    }
                    return
                }
                guard active.load(ordering: .relaxed) else { continue }
                do {
                    try write(frames, to: file, through: &output)
                } catch {
                    fail(error, file)
                }
            }
        }
    }

    private func write(_ frames: [Pending], to file: RecordingFile, through output: inout [UInt8]) throws {
        output.removeAll(keepingCapacity: true)
        for pending in frames {
            let lineStart = output.count
            pending.frame.withUnsafeReadableBytes { bytes in
                RecordedFrameLine.encode(receivedAtMicros: pending.receivedAtMicros, frame: bytes, into: &output)
            }
            if file.admit(lineBytes: output.count - lineStart) == .rotateFirst {
                // The lines before this one belong to the file being sealed.
                try file.write(output[..<lineStart])
                output.removeSubrange(..<lineStart)
                try file.rotate()
                rotationCount.add(1)
                logger.info("recording rotated", metadata: ["file": "\(configuration.path)", "keep": "\(configuration.rotation.keep)"])
            }
            if output.count >= configuration.writeChunkBytes {
                try file.write(output[...])
                output.removeAll(keepingCapacity: true)
            }
        }
        // Hand the lines to the OS now: a crash of the process loses only what was still queued.
        try file.write(output[...])
        output.removeAll(keepingCapacity: true)
        framesRecorded.add(frames.count)
    }

    /// A write failed: one ALERT, recording off, the file closed; ingestion is not told to stop.
    private func fail(_ error: any Error, _ file: RecordingFile) {
        active.store(false, ordering: .relaxed)
        failureReason.withLock { $0 = "\(error)" }
        queue.withLock { queue in
            queue.frames.removeAll()
            queue.bytes = 0
        }
        file.abandon()
        logger.alert(
            .recordingFailed, .open, level: .error,
            metadata: ["file": "\(configuration.path)", "error": "\(error)",
                       "frames_recorded": "\(recordedFrames)", "action": "recording turned off; ingestion continues"])
    }
}

/// The recording file as the writer thread sees it: descriptor, size and
/// rotation. Only the writer thread touches it after `init`.
private final class RecordingFile: @unchecked Sendable {
    let path: String
    let keep: Int
    private var descriptor: Int32
    private var rotation: RecordingRotation
    /// Only regular files rotate: a FIFO or a device (`/dev/null`) is written as it is.
    private let rotates: Bool

    init(configuration: FrameRecorder.Configuration) throws {
        path = configuration.path
        keep = configuration.rotation.keep
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        descriptor = try Self.open(path)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw FrameRecorder.RecorderError.io(operation: "stat", path: path, errno: code)
        }
        rotates = (status.st_mode & 0o170000) == 0o100000  // S_ISREG
        let size = Int64(status.st_size)
        // An earlier run stopped mid-line (crash, full disk): end that line, so
        // it alone is reported as truncated and the next one stays whole.
        var last: UInt8 = 0
        let tornLine = rotates && size > 0 && pread(descriptor, &last, 1, off_t(size - 1)) == 1 && last != UInt8(ascii: "\n")
        rotation = RecordingRotation(configuration: configuration.rotation, currentBytes: rotates ? size + (tornLine ? 1 : 0) : 0)
        if tornLine { try write([UInt8(ascii: "\n")][...]) }
    }

    private static func open(_ path: String) throws -> Int32 {
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FrameRecorder.RecorderError.io(operation: "open", path: path, errno: errno) }
        // A recording holds the whole feed: private (0600) whatever the umask, also a file an
        // earlier run left 0644. Only regular files: a FIFO or a device is the operator's own.
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG { _ = fchmod(descriptor, 0o600) }
        return descriptor
    }

    func admit(lineBytes: Int) -> RecordingRotation.Decision {
        guard rotates else { return .append }
        return rotation.admit(lineBytes: lineBytes)
    }

    func write(_ bytes: ArraySlice<UInt8>) throws {
        guard descriptor >= 0 else { return }
        var failure: DescriptorWrite.Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(DescriptorWrite.Failure) { try DescriptorWrite.all(buffer, to: descriptor) } catch { failure = error }
        }
        if let failure { throw FrameRecorder.RecorderError.io(operation: "write", path: path, errno: failure.code) }
    }

    /// Seals the file (fsync), shifts the sealed files by one and starts a fresh one.
    func rotate() throws {
        guard fsync(descriptor) == 0 else { throw FrameRecorder.RecorderError.io(operation: "fsync", path: path, errno: errno) }
        Glibc.close(descriptor)
        descriptor = -1
        let plan = RecordingRotation.plan(path: path, keep: keep)
        if unlink(plan.delete) != 0, errno != ENOENT {
            throw FrameRecorder.RecorderError.io(operation: "unlink", path: plan.delete, errno: errno)
        }
        for rename in plan.renames {
            // A sealed file that does not exist yet (the first rotations) has nothing to move.
            if Glibc.rename(rename.from, rename.to) != 0, errno != ENOENT {
                throw FrameRecorder.RecorderError.io(operation: "rename", path: rename.from, errno: errno)
            }
        }
        syncDirectory()
        descriptor = try Self.open(path)
    }

    /// Makes the renames durable, as far as the file system allows.
    private func syncDirectory() {
        let directory = Glibc.open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return }
        _ = fsync(directory)
        Glibc.close(directory)
    }

    /// At shutdown: fsync and close.
    func close() throws {
        guard descriptor >= 0 else { return }
        defer {
            Glibc.close(descriptor)
            descriptor = -1
        }
        // Devices and pipes cannot be synced (EINVAL); only a file's failure counts.
        if fsync(descriptor) != 0, rotates {
            throw FrameRecorder.RecorderError.io(operation: "fsync", path: path, errno: errno)
        }
    }

    /// After a failure: close without caring.
    func abandon() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }
}

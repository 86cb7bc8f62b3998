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
import Synchronization

/// The on-disk overflow of the buffer (docs/design.md §5.2.2): when the buffer is full or
/// the database breaker is open, batches are appended to segment files under
/// `directory`; once the database is healthy they are replayed oldest-first,
/// and a spool left by an earlier run is replayed at start.
///
/// A segment is a sequence of records `[length: u32][crc32c: u32][payload]`
/// (little-endian), each payload one batch of one record kind
/// (`SpoolRecordCodec`); kinds may follow each other in any order. Records are made durable by group commit
/// (`SpoolSyncSchedule`): `fdatasync` within `syncInterval` of being written,
/// by `append` when a sync is due and otherwise by a thread of the spool's
/// own, so it never waits for the flusher (which may be blocked in a
/// database write); a zero interval syncs every record before `append`
/// returns. A segment is fsynced when it is sealed (it reached
/// `segmentBytes`, or is about to be replayed, or at close), and the
/// directory is fsynced when a segment is created or deleted. On replay a torn
/// or corrupt record is skipped and counted; it never blocks the rest. Only
/// when the spool holds `maxBytes` are batches refused (the caller counts them
/// as dropped and alerts).
public final class Spool: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var directory: String
        /// Most bytes on disk (`SPOOL_MAX_BYTES`, default 1 GiB).
        public var maxBytes: Int64
        /// A segment is sealed at this size (`SPOOL_SEGMENT_BYTES`, default 8 MiB).
        public var segmentBytes: Int
        /// A written record is fdatasynced within this long (`SPOOL_SYNC_MS`,
        /// default 500 ms, as Vector's disk buffer): what a power loss can
        /// cost. Zero: every record is synced before `append` returns.
        public var syncInterval: Duration

        public init(
            directory: String = ".data/spool", maxBytes: Int64 = 1 << 30, segmentBytes: Int = 8 << 20,
            syncInterval: Duration = .milliseconds(500)
        ) {
            self.directory = directory
            self.maxBytes = maxBytes
            self.segmentBytes = max(1024, segmentBytes)
            self.syncInterval = max(.zero, syncInterval)
        }
    }

    /// A sealed segment waiting for replay: read it with `reader(for:)`; it
    /// stays on disk until `commit`.
    public struct Segment: Sendable, Equatable {
        public let path: String
        public let bytes: Int64
    }

    public struct Snapshot: Sendable, Equatable {
        public var bytes: Int64
        public var segments: Int
        /// Records spooled and not yet replayed (segments found at start count once they are read).
        public var records: Int
        /// Trades this process spooled that are not yet replayed: what waits
        /// behind the buffer (segments found at start are not counted).
        public var trades: Int
        /// When the oldest waiting segment was started (Unix seconds), if any.
        public var oldestSegmentTime: Double?
        public var corruptRecords: Int
        /// Appends that failed to write their record whole (a full disk, an
        /// I/O error); each one's segment was cut back to its last whole record.
        public var writeFailures: Int
        /// `fdatasync`/`fsync` calls that failed (of a segment or the directory).
        public var syncFailures: Int
        /// Segments that failed to read `readAttemptsBeforeQuarantine` times
        /// and were renamed `quarantine-…` and taken out of the queue.
        public var quarantinedSegments: Int
        /// Segments that vanished (`ENOENT`: deleted behind the spool's back)
        /// and were dropped from the queue.
        public var vanishedSegments: Int
    }

    /// Reads of one segment that may fail before it is quarantined: 3, so a
    /// passing fault (an `EIO` retried, a file briefly locked by a backup
    /// tool) does not cost its trades, and a segment that cannot be read
    /// blocks the segments behind it for three replay attempts, not forever.
    public static let readAttemptsBeforeQuarantine = 3

    /// What `readFailed` did with a segment that could not be read.
    public enum ReadFailure: Sendable, Equatable {
        /// It stays first in the queue, to be tried again (`attempt` of `readAttemptsBeforeQuarantine` failed).
        case willRetry(attempt: Int)
        /// Renamed to `path` (in the spool directory, `quarantine-` before its
        /// name) and out of the queue: its trades are not replayed; an
        /// operator may look at it. The caller logs an error and alerts.
        case quarantined(path: String)
        /// The file is gone (`ENOENT`): out of the queue; its trades are lost.
        /// The caller logs an error and alerts.
        case vanished

        /// The spool gave the segment up: the caller logs an error (its trades are not replayed).
        public var gaveUp: Bool {
            if case .willRetry = self { return false }
            return true
        }
    }

    public enum SpoolError: Error, Sendable, CustomStringConvertible {
        case io(String)
        /// Another process holds this spool directory: two writers would replay and delete each other's segments.
        case inUse(String)
        /// `append` could not write its record whole (`ENOSPC`, `EIO`, …): the
        /// segment was cut back to its last whole record, so nothing of the
        /// batch is in the spool. The caller still holds the batch: keep it
        /// (in memory) and try again later, rather than count it as spooled.
        case writeFailed(path: String, errno: Int32)
        /// A segment could not be opened or read (it vanished: `ENOENT`; an I/O error).
        case readFailed(path: String, errno: Int32)

        public var description: String {
            switch self {
            case .io(let message): "spool: \(message)"
            case .inUse(let directory): "spool: \(directory) is in use by another process (give each process its own SPOOL_DIR)"
            case .writeFailed(let path, let code):
                "spool: writing \(path) failed: \(String(cString: strerror(code))) (errno \(code)); the batch was not spooled"
            case .readFailed(let path, let code): "spool: reading \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
            }
        }
    }

    private struct SegmentFile {
        var path: String
        var bytes: Int64
        var records: Int
        var createdAt: Double
        /// Trades this process appended to the segment.
        var trades = 0
    }

    private struct OpenSegment {
        var file: SegmentFile
        var descriptor: Int32
    }

    private struct State {
        var sealed: [SegmentFile] = []
        var current: OpenSegment?
        var nextNumber: UInt64 = 1
        var corruptRecords = 0
        var writeFailures = 0
        var syncFailures = 0
        var quarantinedSegments = 0
        var vanishedSegments = 0
        /// Failed reads per segment path, until it is read whole or given up.
        var readFailures: [String: Int] = [:]
        var syncSchedule: SpoolSyncSchedule<ContinuousClock.Instant>
        var closed = false
        var totalBytes: Int64 { sealed.reduce(0) { $0 + $1.bytes } + (current?.file.bytes ?? 0) }
    }

    public let configuration: Configuration
    private let files: SpoolFileLayer
    private let state: Mutex<State>
    /// The time of the sync schedule (tests move it by hand).
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Wakes the sync thread: a first unsynced record, or the spool closing.
    private let syncWake = DispatchSemaphore(value: 0)
    /// An exclusive `flock` on `DIR/.lock`, held while this spool lives (released by the kernel on exit, even `kill -9`).
    private let lockDescriptor: Int32

    /// Segments and the lock are private to the service's user: owner read and write, nothing else.
    static let fileMode: mode_t = 0o600

    /// Opens the spool directory (creating it) and finds segments left by an earlier run.
    public convenience init(configuration: Configuration) throws {
        try self.init(configuration: configuration, files: .system)
    }

    /// `files`: the file operations on segments (tests inject failing ones);
    /// `now`: the clock of the sync schedule; `syncThread`: whether a thread
    /// syncs when a deadline passes with no append to do it (tests that move
    /// `now` by hand call `syncIfDue()` themselves).
    package init(
        configuration: Configuration, files: SpoolFileLayer, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        syncThread: Bool = true
    ) throws {
        self.configuration = configuration
        self.files = files
        self.now = now
        let manager = FileManager.default
        // A directory it creates is private too (one that exists keeps its mode: the operator's choice).
        try manager.createDirectory(
            atPath: configuration.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let lock = open(configuration.directory + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, Self.fileMode)
        guard lock >= 0 else { throw SpoolError.io("cannot open \(configuration.directory)/.lock: errno \(errno)") }
        // A lock file left by an earlier release may be 0644: private from now on.
        _ = fchmod(lock, Self.fileMode)
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(lock)
            throw SpoolError.inUse(configuration.directory)
        }
        self.lockDescriptor = lock
        var state = State(syncSchedule: SpoolSyncSchedule(interval: configuration.syncInterval))
        let names = try manager.contentsOfDirectory(atPath: configuration.directory)
            .filter { $0.hasPrefix("segment-") && $0.hasSuffix(".spool") }
            .sorted()
        for name in names {
            let path = configuration.directory + "/" + name
            var status = stat()
            guard stat(path, &status) == 0 else { throw SpoolError.io("cannot stat \(path): errno \(errno)") }
            let size = Int64(status.st_size)
            let created = Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9
            state.sealed.append(SegmentFile(path: path, bytes: size, records: 0, createdAt: created))
            // A number from a file name: one near UInt64.max (a file made by hand) must not
            // overflow the counter; such a segment is still replayed, after the spool's own.
            if let number = UInt64(name.dropFirst("segment-".count).dropLast(".spool".count)), number < UInt64.max >> 1 {
                state.nextNumber = max(state.nextNumber, number + 1)
            }
        }
        self.state = Mutex(state)
        if syncThread, configuration.syncInterval > .zero { try startSyncThread() }
    }

    /// The group-commit thread: sleeps until the schedule's deadline (or
    /// until woken by a first unsynced record) and syncs what is due. It holds
    /// the spool only weakly, so dropping the spool ends it.
    private func startSyncThread() throws {
        let wake = syncWake
        let started = DetachedThread.start(name: "spool-sync") { [weak self] in
            while true {
                guard let wait = self?.syncIfDue() else { return }
                switch wait {
                case .idle: wake.wait()
                case .wait(let duration):
                    let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
                    _ = wake.wait(timeout: .now() + .nanoseconds(Int(clamping: max(1, nanoseconds))))
                case .stop: return
                }
            }
        }
        guard started else { throw SpoolError.io("cannot start the spool's sync thread: errno \(errno)") }
    }

    /// What the sync thread does next.
    enum SyncWait: Equatable {
        /// Nothing is unsynced: sleep until woken.
        case idle
        /// The next sync is due in this long.
        case wait(Duration)
        /// The spool is closed.
        case stop
    }

    /// Syncs the open segment if a sync is due now; says how long until the next one.
    @discardableResult
    func syncIfDue() -> SyncWait {
        state.withLock { state in
            guard !state.closed else { return .stop }
            let time = now()
            if state.syncSchedule.isDue(at: time) { _ = syncCurrent(&state, at: time) }
            guard let deadline = state.syncSchedule.deadline else { return .idle }
            return .wait(time.duration(to: deadline))
        }
    }

    /// `fdatasync`s the open segment; `false` (counted) when it failed.
    private func syncCurrent(_ state: inout State, at time: ContinuousClock.Instant) -> Bool {
        guard let current = state.current else {
            state.syncSchedule.synced()
            return true
        }
        let code = files.syncData(current.descriptor)
        guard code == 0 else {
            state.syncFailures += 1
            state.syncSchedule.syncFailed(at: time)
            return false
        }
        state.syncSchedule.synced()
        return true
    }

    public var snapshot: Snapshot {
        state.withLock { state in
            var all = state.sealed
            if let current = state.current { all.append(current.file) }
            return Snapshot(
                bytes: state.totalBytes, segments: all.count, records: all.reduce(0) { $0 + $1.records },
                trades: all.reduce(0) { $0 + $1.trades },
                oldestSegmentTime: all.first?.createdAt, corruptRecords: state.corruptRecords, writeFailures: state.writeFailures,
                syncFailures: state.syncFailures, quarantinedSegments: state.quarantinedSegments,
                vanishedSegments: state.vanishedSegments)
        }
    }

    public var isEmpty: Bool { state.withLock { $0.totalBytes == 0 } }

    /// Appends a batch, of any record kind, as one record. Returns `false`,
    /// writing nothing, when the record would take the spool past `maxBytes`. Throws
    /// `SpoolError.writeFailed` when the record could not be written whole:
    /// the segment is then cut back to where the record began (or, when even
    /// that fails, closed and a fresh one started), so the next append lands
    /// on a record boundary and every earlier record still reads back. With
    /// a zero `syncInterval`, or when the oldest unsynced record's sync is
    /// due, the segment is fdatasynced before returning; a failed sync there
    /// also cuts this record back and throws `writeFailed`.
    public func append(_ batch: RecordBatch) throws -> Bool {
        try append(batch, onlyBehindBacklog: false) ?? false
    }

    /// `append`, only while the spool holds a backlog: `nil`, writing
    /// nothing, when it is empty. Deciding under the lock that `commit` takes
    /// means a record appended here is never left behind by a flusher that
    /// has just seen the spool empty (docs/design.md §5.2.2).
    public func appendBehindBacklog(_ batch: RecordBatch) throws -> Bool? {
        try append(batch, onlyBehindBacklog: true)
    }

    private func append(_ batch: RecordBatch, onlyBehindBacklog: Bool) throws -> Bool? {
        guard !batch.isEmpty else { return true }
        var payload: [UInt8] = []
        SpoolRecordCodec.encode(batch, into: &payload)
        // The record's length field is 32 bits: a batch that large is refused, not trapped on.
        guard let length = UInt32(exactly: payload.count) else { throw SpoolError.io("a batch of \(payload.count) bytes is too large for one record") }
        var record: [UInt8] = []
        record.reserveCapacity(payload.count + 8)
        SpoolRecordCodec.append(length, to: &record)
        SpoolRecordCodec.append(CRC32C.checksum(payload), to: &record)
        record += payload
        return try state.withLock { state in
            if onlyBehindBacklog, state.totalBytes == 0 { return nil }
            guard state.totalBytes + Int64(record.count) <= configuration.maxBytes else { return false }
            if state.current == nil { state.current = try openSegment(&state) }
            try write(record, &state)
            let time = now()
            let firstUnsynced = state.syncSchedule.deadline == nil
            if state.syncSchedule.written(at: time), !syncCurrent(&state, at: time) {
                let code = state.current.map { files.truncate($0.descriptor, $0.file.bytes) } ?? 0
                if code != 0 { try? seal(&state) }
                state.writeFailures += 1
                throw SpoolError.writeFailed(path: state.current?.file.path ?? configuration.directory, errno: EIO)
            }
            if firstUnsynced, state.syncSchedule.deadline != nil { syncWake.signal() }
            state.current!.file.bytes += Int64(record.count)
            state.current!.file.records += 1
            if batch.kind == .trade { state.current!.file.trades += batch.count }
            if state.current!.file.bytes >= Int64(configuration.segmentBytes) { try seal(&state) }
            return true
        }
    }

    /// Appends a batch of trades as one record: `append(.trades(…))`.
    public func append(_ trades: some Collection<OptionTrade>) throws -> Bool {
        try append(.trades(Array(trades)))
    }

    /// The oldest segment, to replay (sealing the open one if it is the only
    /// one); nothing of it is read yet.
    public func oldestSegment() throws -> Segment? {
        try state.withLock { state in
            if state.sealed.isEmpty, state.current != nil { try seal(&state) }
            return state.sealed.first.map { Segment(path: $0.path, bytes: $0.bytes) }
        }
    }

    /// Opens a segment to read its records back; corrupt ones it meets count in `snapshot`.
    public func reader(for segment: Segment) throws -> SpoolSegmentReader {
        try SpoolSegmentReader(path: segment.path, files: files) { [self] in state.withLock { $0.corruptRecords += 1 } }
    }

    /// Opening or reading `segment` failed with `error` (from `reader(for:)`
    /// or the reader): counts the try and says what became of the segment.
    /// A segment that vanished (`ENOENT`) leaves the queue at once; one that
    /// failed `readAttemptsBeforeQuarantine` times is renamed
    /// `quarantine-<name>` (the directory fsynced) and leaves the queue, so
    /// the next segment is served: an unreadable segment never blocks the
    /// queue forever. A quarantined file is not picked up again at start.
    public func readFailed(_ segment: Segment, error: any Error) -> ReadFailure {
        state.withLock { state in
            let name = String(segment.path.split(separator: "/").last ?? "")
            let quarantine = configuration.directory + "/quarantine-" + name
            func vanished() -> ReadFailure {
                drop(segment, &state)
                state.vanishedSegments += 1
                return .vanished
            }
            if case SpoolError.readFailed(_, ENOENT) = error { return vanished() }
            var status = stat()
            if lstat(segment.path, &status) != 0, errno == ENOENT { return vanished() }
            let attempt = state.readFailures[segment.path, default: 0] + 1
            state.readFailures[segment.path] = attempt
            guard attempt >= Self.readAttemptsBeforeQuarantine else { return .willRetry(attempt: attempt) }
            let code = files.rename(segment.path, quarantine)
            if code == ENOENT { return vanished() }
            // Renamed or not, it leaves the queue (a file that cannot even be renamed is tried again at the next start).
            drop(segment, &state)
            if code == 0 { syncDirectory(&state) }
            state.quarantinedSegments += 1
            return .quarantined(path: code == 0 ? quarantine : segment.path)
        }
    }

    private func drop(_ segment: Segment, _ state: inout State) {
        state.sealed.removeAll { $0.path == segment.path }
        state.readFailures[segment.path] = nil
    }

    /// The segment's batches are in the database: delete it.
    public func commit(_ segment: Segment) {
        state.withLock { state in
            drop(segment, &state)
            _ = files.unlink(segment.path)
            syncDirectory(&state)
        }
    }

    /// Without `close()`: the open segment is synced as `close()` would, the
    /// sync thread stops, the directory lock goes.
    deinit {
        state.withLock { state in
            state.closed = true
            try? seal(&state)
        }
        syncWake.signal()
        Glibc.close(lockDescriptor)
    }

    /// Seals the open segment (fsync), stops the sync thread and gives the
    /// directory up to the next process.
    public func close() throws {
        defer {
            syncWake.signal()
            flock(lockDescriptor, LOCK_UN)
        }
        try state.withLock { state in
            state.closed = true
            if state.current != nil { try seal(&state) }
        }
    }

    /// fsyncs the spool directory: a segment created or deleted stays so after a power loss.
    private func syncDirectory(_ state: inout State) {
        if files.syncDirectory(configuration.directory) != 0 { state.syncFailures += 1 }
    }

    /// Splits a segment's bytes into records; counts torn or corrupt ones.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (batches: [RecordBatch], corrupt: Int) {
        do {
            return try SpoolSegmentReader(bytes: bytes).readAll()
        } catch {
            preconditionFailure("reading bytes in memory does no I/O: \(error)")
        }
    }

    private func openSegment(_ state: inout State) throws -> OpenSegment {
        let number = String(state.nextNumber)
        let name = "segment-" + String(repeating: "0", count: max(0, 16 - number.count)) + number + ".spool"
        state.nextNumber &+= 1
        let path = configuration.directory + "/" + name
        // O_EXCL: a segment is only ever appended to by the spool that created it.
        let descriptor = files.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, Self.fileMode)
        guard descriptor >= 0 else {
            state.writeFailures += 1
            throw SpoolError.writeFailed(path: path, errno: -descriptor)
        }
        // Exactly 0600 whatever the umask: the trades are the operator's business only.
        _ = fchmod(descriptor, Self.fileMode)
        syncDirectory(&state)
        return OpenSegment(
            file: SegmentFile(path: path, bytes: 0, records: 0, createdAt: Date().timeIntervalSince1970), descriptor: descriptor)
    }

    /// Writes one record at the end of the open segment, or leaves the
    /// segment as it was: a torn record would cost every record after it
    /// (the reader stops at a torn length), so a failed write is cut back.
    private func write(_ record: [UInt8], _ state: inout State) throws {
        guard let current = state.current else { return }
        var failure: DescriptorWrite.Failure?
        record.withUnsafeBytes { bytes in
            do throws(DescriptorWrite.Failure) { try files.write(current.descriptor, bytes) } catch { failure = error }
        }
        guard let failure else { return }
        state.writeFailures += 1
        if files.truncate(current.descriptor, current.file.bytes) != 0, failure.written > 0 {
            // The torn bytes stay at the end of this segment (a reader counts them once and stops
            // there): close it as it is, so that later records start a fresh segment.
            state.current = nil
            files.close(current.descriptor)
            state.sealed.append(current.file)
        }
        throw SpoolError.writeFailed(path: current.file.path, errno: failure.code)
    }

    private func seal(_ state: inout State) throws {
        guard let current = state.current else { return }
        state.current = nil
        let code = files.sync(current.descriptor)
        files.close(current.descriptor)
        state.sealed.append(current.file)
        guard code == 0 else {
            state.syncFailures += 1
            throw SpoolError.io("fsync of \(current.file.path) failed: errno \(code)")
        }
        state.syncSchedule.synced()
    }
}

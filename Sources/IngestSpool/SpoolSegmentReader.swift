#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import OptionsFeed

/// Reads a spool segment back record by record, decoding as it goes: only a
/// window of the file (`chunkBytes`, or one record if larger) and the records
/// being handed out exist in memory, never the whole segment (docs/performance.md: reading
/// an 8 MiB segment whole, then decoding every trade with its own symbol
/// strings, took ~30 MB of heap at a time during a spool's drain). Decoded
/// records share their symbols (trades their condition lists too) like the
/// feed decoder's.
///
/// Records are `[length: u32][crc32c: u32][payload]`, each payload a batch of
/// one kind (`SpoolRecordCodec`). A record that fails its
/// checksum or does not decode is skipped and counted; a torn tail (the file
/// ends inside a record, or a length runs past the end) is counted and ends
/// the segment.
public final class SpoolSegmentReader {
    /// Bytes read from the file at a time.
    public static let chunkBytes = 256 << 10

    /// Records skipped so far because they were torn or failed their checksum.
    public private(set) var corruptRecords = 0
    /// Records handed out so far, by kind (a trade, a bar, a quote, a value each).
    public private(set) var counts: [RecordKind: Int] = [:]
    /// Trades handed out so far.
    public var trades: Int { counts[.trade, default: 0] }
    /// Records of every kind handed out so far.
    public var records: Int { counts.values.reduce(0, +) }

    private let descriptor: Int32
    private let path: String
    private let files: SpoolFileLayer
    /// Bytes of the file not yet read into `window`.
    private var fileRemaining: Int
    /// `window[start..<filled]` is read and not yet consumed.
    private var window: [UInt8]
    private var start = 0
    private var filled: Int
    private var finished = false
    private var decoder = SpoolRecordCodec.Decoder()
    /// The record `nextBatch` is part-way through, or one of another kind that ended the last batch.
    private var pending = RecordBatch.empty(.trade)
    private var pendingOffset = 0
    /// Told of each corrupt record (the spool's own count).
    private let onCorrupt: (() -> Void)?

    /// Opens the segment file at `path`.
    init(path: String, files: SpoolFileLayer = .system, onCorrupt: (() -> Void)? = nil) throws {
        let descriptor = files.open(path, O_RDONLY, 0)
        guard descriptor >= 0 else { throw Spool.SpoolError.readFailed(path: path, errno: -descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            files.close(descriptor)
            throw Spool.SpoolError.readFailed(path: path, errno: code)
        }
        self.descriptor = descriptor
        self.path = path
        self.files = files
        fileRemaining = Int(status.st_size)
        window = []
        filled = 0
        self.onCorrupt = onCorrupt
    }

    /// Reads segment bytes already in memory (the fuzz probe, tests).
    init(bytes: UnsafeRawBufferPointer) {
        descriptor = -1
        path = "(memory)"
        files = .system
        fileRemaining = 0
        window = Array(bytes)
        filled = window.count
        onCorrupt = nil
    }

    deinit {
        if descriptor >= 0 { files.close(descriptor) }
    }

    /// The next record's batch, in the order they were spooled; `nil` at the end.
    public func nextRecord() throws -> RecordBatch? {
        while !finished {
            guard try ensure(1) else { break }
            guard try ensure(8) else { return torn() }
            let (length, checksum) = window.withUnsafeBytes { bytes in
                (Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self))),
                 UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self)))
            }
            // A length past the end of the file is a torn record, not a reason to allocate it.
            guard length <= filled - start - 8 + fileRemaining, try ensure(8 + length) else { return torn() }
            let payloadStart = start + 8
            start += 8 + length
            let decoded = window.withUnsafeBytes { bytes -> RecordBatch? in
                let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart + length])
                guard CRC32C.checksum(payload) == checksum else { return nil }
                return decoder.decode(payload)
            }
            guard let decoded else {
                countCorrupt()
                continue
            }
            if !decoded.isEmpty { counts[decoded.kind, default: 0] += decoded.count }
            return decoded
        }
        finished = true
        return nil
    }

    /// The next `maximum` records of one kind (fewer at the end, or where a
    /// record of another kind follows), regrouped across records: a full
    /// buffer spools each frame's overflow as its own record of ~100 trades,
    /// and written back one record per transaction a 10-minute outage drained
    /// slower than a 20 000/s feed (docs/performance.md). A batch never mixes
    /// kinds: a record of another kind ends it and starts the next one, so
    /// records keep the order they were spooled in. `nil` at the end.
    public func nextBatch(upTo maximum: Int) throws -> RecordBatch? {
        let maximum = max(1, maximum)
        while pendingOffset == pending.count {
            guard let record = try nextRecord() else { return nil }
            pending = record
            pendingOffset = 0
        }
        let batch: RecordBatch =
            switch pending.kind {
            case .trade: .trades(try gather(maximum))
            case .aggregate: .aggregates(try gather(maximum))
            case .quote: .quotes(try gather(maximum))
            case .fmv: .fairValues(try gather(maximum))
            }
        if pendingOffset == pending.count {
            pending = .empty(.trade)
            pendingOffset = 0
        }
        return batch
    }

    /// Up to `maximum` records of `pending`'s kind, from `pending` on; stops
    /// before a record of another kind, which stays pending.
    private func gather<Record: SpoolRecord>(_ maximum: Int) throws -> [Record] {
        var batch: [Record] = []
        while batch.count < maximum {
            if pendingOffset == pending.count {
                guard let record = try nextRecord() else { break }
                pending = record
                pendingOffset = 0
                continue
            }
            guard let rows = Record.rows(of: pending) else { break }
            // A record that is a full batch by itself (the buffer spooled whole) goes as it is.
            if batch.isEmpty, pendingOffset == 0, rows.count == maximum {
                pendingOffset = rows.count
                return rows
            }
            if batch.isEmpty { batch.reserveCapacity(maximum) }
            let taken = rows[pendingOffset...].prefix(maximum - batch.count)
            batch += taken
            pendingOffset += taken.count
        }
        return batch
    }

    /// Every remaining record, and how many were skipped: for tests and the fuzz probe.
    func readAll() throws -> (batches: [RecordBatch], corrupt: Int) {
        var batches: [RecordBatch] = []
        while let record = try nextRecord() { batches.append(record) }
        return (batches, corruptRecords)
    }

    private func torn() -> RecordBatch? {
        countCorrupt()
        finished = true
        return nil
    }

    private func countCorrupt() {
        corruptRecords += 1
        onCorrupt?()
    }

    /// Makes `count` unconsumed bytes available in the window; `false` when the file has fewer.
    private func ensure(_ count: Int) throws -> Bool {
        if filled - start >= count { return true }
        guard filled - start + fileRemaining >= count else { return false }
        let unread = filled - start
        if start > 0 {
            window.withUnsafeMutableBytes { bytes in
                _ = memmove(bytes.baseAddress!, bytes.baseAddress! + start, unread)
            }
            filled = unread
            start = 0
        }
        let target = min(max(count, Self.chunkBytes), filled + fileRemaining)
        if window.count < target { window += repeatElement(0, count: target - window.count) }
        while filled < count {
            let got = window.withUnsafeMutableBytes { bytes in
                files.read(descriptor, UnsafeMutableRawBufferPointer(rebasing: bytes[filled..<target]))
            }
            if got < 0 { throw Spool.SpoolError.readFailed(path: path, errno: Int32(clamping: -got)) }
            if got == 0 {  // the file is shorter than it was: what is missing is torn
                fileRemaining = 0
                return false
            }
            filled += got
            fileRemaining -= got
        }
        return true
    }
}

import Foundation
import OptionsFeed
import Synchronization
import Testing

@testable import IngestSpool

/// A disk that fills up: after `budget` more bytes, a write stops part-way
/// with `ENOSPC`, having written (for real) what fitted.
final class FillingDisk: Sendable {
    /// Bytes that may still be written; `nil`: as many as asked.
    let budget = Mutex<Int?>(nil)
    let truncateFails = Atomic<Bool>(false)
    let syncs = Atomic<Int>(0)

    var layer: SpoolFileLayer {
        var layer = SpoolFileLayer.system
        layer.write = { [self] descriptor, bytes throws(DescriptorWrite.Failure) in
            let allowed = budget.withLock { budget -> Int in
                guard let left = budget else { return bytes.count }
                let allowed = min(left, bytes.count)
                budget = left - allowed
                return allowed
            }
            try SpoolFileLayer.system.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<allowed]))
            if allowed < bytes.count { throw DescriptorWrite.Failure(code: ENOSPC, written: allowed) }
        }
        layer.truncate = { [self] descriptor, length in
            truncateFails.load(ordering: .relaxed) ? EIO : SpoolFileLayer.system.truncate(descriptor, length)
        }
        layer.syncData = { [self] descriptor in
            syncs.add(1, ordering: .relaxed)
            return SpoolFileLayer.system.syncData(descriptor)
        }
        return layer
    }
}

@Suite("Disk spool: failed writes")
struct SpoolWriteFailureTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-fail-\(UUID().uuidString)").path

    /// The bytes of the record `append` writes for `trades`.
    static func recordBytes(_ trades: [OptionTrade]) -> Int {
        var payload: [UInt8] = []
        SpoolRecordCodec.encode(trades, into: &payload)
        return 8 + payload.count
    }

    /// Every segment's records, oldest first, and the corrupt records met.
    static func readEverything(_ spool: Spool) throws -> (batches: [[OptionTrade]], corrupt: Int) {
        var batches: [[OptionTrade]] = []
        var corrupt = 0
        while let segment = try spool.oldestSegment() {
            let read = try spool.reader(for: segment).readAll()
            batches += read.batches.map(\.trades)
            corrupt += read.corrupt
            spool.commit(segment)
        }
        return (batches, corrupt)
    }

    static let first = SpoolTests.trades(0..<20)
    static let torn = SpoolTests.trades(20..<40)
    static let later = SpoolTests.trades(40..<60)

    /// Where in the torn record the disk fills: at its start, inside the
    /// length, at the end of the 8-byte header, inside the payload, one byte short.
    static let failurePoints: [Int] = [0, 3, 8, 9, 100, recordBytes(torn) - 1]

    @Test("a write that fails after K bytes is cut back: the batch is refused, later records read back, nothing corrupt", arguments: failurePoints)
    func failedWriteIsCutBack(_ failAfter: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let spool = try Spool(configuration: .init(directory: directory), files: disk.layer)
        #expect(try spool.append(Self.first))
        let before = spool.snapshot
        disk.budget.withLock { $0 = failAfter }
        #expect {
            try spool.append(Self.torn)
        } throws: { error in
            guard case Spool.SpoolError.writeFailed(_, let code) = error else { return false }
            return code == ENOSPC
        }
        #expect(spool.snapshot.writeFailures == 1)
        #expect(spool.snapshot.bytes == before.bytes)
        #expect(spool.snapshot.records == before.records)
        // The disk has room again: the next batch lands on a record boundary.
        disk.budget.withLock { $0 = nil }
        #expect(try spool.append(Self.later))
        let read = try Self.readEverything(spool)
        #expect(read.batches == [Self.first, Self.later])
        #expect(read.corrupt == 0)
        #expect(spool.snapshot.corruptRecords == 0)
        #expect(spool.snapshot.writeFailures == 1)
    }

    @Test("a failed first write of a fresh segment leaves nothing behind to read")
    func failedFirstWrite() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let spool = try Spool(configuration: .init(directory: directory), files: disk.layer)
        disk.budget.withLock { $0 = 5 }
        #expect(throws: Spool.SpoolError.self) { try spool.append(Self.first) }
        disk.budget.withLock { $0 = nil }
        #expect(try spool.append(Self.later))
        let read = try Self.readEverything(spool)
        #expect(read.batches == [Self.later])
        #expect(read.corrupt == 0)
    }

    @Test("when the cut back fails too, later records go to a fresh segment and still read back")
    func truncateFails() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let spool = try Spool(configuration: .init(directory: directory), files: disk.layer)
        #expect(try spool.append(Self.first))
        disk.truncateFails.store(true, ordering: .relaxed)
        disk.budget.withLock { $0 = 50 }
        #expect(throws: Spool.SpoolError.self) { try spool.append(Self.torn) }
        disk.budget.withLock { $0 = nil }
        #expect(try spool.append(Self.later))
        #expect(try spool.append(Self.first))
        #expect(spool.snapshot.segments == 2)
        let read = try Self.readEverything(spool)
        #expect(read.batches == [Self.first, Self.later, Self.first])
        // The torn bytes at the end of the first segment: counted once, nothing after them lost.
        #expect(read.corrupt == 1)
        #expect(spool.snapshot.writeFailures == 1)
    }

    @Test("several failures in a row are each counted and none tears the segment")
    func repeatedFailures() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let spool = try Spool(configuration: .init(directory: directory), files: disk.layer)
        #expect(try spool.append(Self.first))
        for budget in [1, 17, 0] {
            disk.budget.withLock { $0 = budget }
            #expect(throws: Spool.SpoolError.self) { try spool.append(Self.torn) }
        }
        disk.budget.withLock { $0 = nil }
        #expect(try spool.append(Self.torn))
        #expect(spool.snapshot.writeFailures == 3)
        let read = try Self.readEverything(spool)
        #expect(read.batches == [Self.first, Self.torn])
        #expect(read.corrupt == 0)
    }
}

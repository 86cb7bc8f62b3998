import Foundation
import OptionsFeed
import Testing

@testable import IngestSpool

@Suite("Disk spool")
struct SpoolTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path

    static func trades(_ range: Range<Int>) -> [OptionTrade] {
        range.map { index in
            OptionTrade(
                symbol: OptionSymbol(index % 2 == 0 ? "O:SPY251219C00650000" : "O:BRK.B260320P00000500")!,
                exchange: Int16(index % 300), price: Double(index) / 100 + 0.01, size: Int64(index + 1),
                conditions: index % 3 == 0 ? [] : [209, Int16(index % 100)], timestampMs: 1_764_772_200_000 + Int64(index),
                sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000 + Int64(index))
        }
    }

    func spool(maxBytes: Int64 = 1 << 30, segmentBytes: Int = 8 << 20) throws -> Spool {
        try Spool(configuration: .init(directory: directory, maxBytes: maxBytes, segmentBytes: segmentBytes))
    }

    func segmentFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".spool") }.sorted()
    }

    @Test("a segment's small records come back as full batches of trades, in order")
    func coalescedBatches() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool()
        // Frames' overflows: records of 100, 7, 100, 250, 1, then a whole buffer batch of 200, and 2.
        var next = 0
        for size in [100, 7, 100, 250, 1, 200, 2] {
            #expect(try spool.append(Self.trades(next..<next + size)))
            next += size
        }
        let segment = try #require(try spool.oldestSegment())
        let batches = try Self.batches(spool, segment, upTo: 200)
        #expect(batches.map(\.count) == [200, 200, 200, 60])
        #expect(batches.flatMap { $0 } == Self.trades(0..<660))
        #expect(try Self.batches(spool, segment, upTo: 10_000).map(\.count) == [660])
        #expect(try Self.batches(spool, segment, upTo: 0).count == 660)
        // A record that is a full batch by itself is handed over as it is.
        let hundreds = try Self.batches(spool, segment, upTo: 100)
        #expect(hundreds.map(\.count) == [100, 100, 100, 100, 100, 100, 60])
        #expect(hundreds.flatMap { $0 } == Self.trades(0..<660))
    }

    static func batches(_ spool: Spool, _ segment: Spool.Segment, upTo maximum: Int) throws -> [[OptionTrade]] {
        let reader = try spool.reader(for: segment)
        var batches: [[OptionTrade]] = []
        while let batch = try reader.nextBatch(upTo: maximum) { batches.append(batch.trades) }
        #expect(reader.trades == batches.reduce(0) { $0 + $1.count })
        #expect(reader.records == reader.trades)
        return batches
    }

    @Test("records read back share their symbols and condition lists instead of allocating their own")
    func sharedStorage() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool()
        let written = [[219, 227], [], [219, 227], [1, 2, 3, 4]].enumerated().map { index, conditions in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 4, price: 1.5, size: 1, conditions: conditions,
                timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: 1_764_772_300_000_000)
        }
        #expect(try spool.append(written[0..<2]))
        #expect(try spool.append(written[2..<4]))
        let read = try spool.reader(for: try #require(try spool.oldestSegment())).readAll().batches
        #expect(read == [.trades(Array(written[0..<2])), .trades(Array(written[2..<4]))])
        let trades = read.flatMap(\.trades)
        func symbolStorage(_ trade: OptionTrade) -> UnsafePointer<UInt8>? {
            trade.symbol.raw.utf8.withContiguousStorageIfAvailable { $0.baseAddress }!
        }
        func conditionStorage(_ trade: OptionTrade) -> UnsafePointer<Int16>? {
            trade.conditions.withUnsafeBufferPointer { $0.baseAddress }
        }
        // Across records too: one reader shares them for the whole segment.
        #expect(symbolStorage(trades[0]) == symbolStorage(trades[3]))
        #expect(conditionStorage(trades[0]) == conditionStorage(trades[2]))
        #expect(trades[3].conditions == [1, 2, 3, 4])
    }

    @Test("CRC-32C matches the standard check value")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("batches come back exactly, oldest first, and a committed segment is deleted")
    func roundTrip() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool()
        #expect(try spool.append(Self.trades(0..<100)))
        #expect(try spool.append(Self.trades(100..<150)))
        #expect(spool.snapshot.records == 2)
        let segment = try #require(try spool.oldestSegment())
        let read = try spool.reader(for: segment).readAll()
        #expect(read.batches == [.trades(Self.trades(0..<100)), .trades(Self.trades(100..<150))])
        #expect(read.corrupt == 0)
        spool.commit(segment)
        #expect(try spool.oldestSegment() == nil)
        #expect(spool.isEmpty)
        #expect(try segmentFiles().isEmpty)
    }

    @Test("segments roll at their size limit and a restarted spool finds them in order")
    func rollAndRestart() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let spool = try spool(segmentBytes: 4096)
            for start in stride(from: 0, to: 1000, by: 50) {
                #expect(try spool.append(Self.trades(start..<start + 50)))
            }
            try spool.close()
        }
        #expect(try segmentFiles().count > 3)
        let reopened = try spool(segmentBytes: 4096)
        var replayed: [OptionTrade] = []
        while let segment = try reopened.oldestSegment() {
            replayed += try reopened.reader(for: segment).readAll().batches.flatMap(\.trades)
            reopened.commit(segment)
        }
        #expect(replayed == Self.trades(0..<1000))
        // New segments after a restart never reuse an old name.
        #expect(try reopened.append(Self.trades(0..<1)))
        try reopened.close()
        #expect(try segmentFiles().count == 1)
    }

    @Test("a torn tail record is skipped and counted; the records before it are replayed")
    func tornTail() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool()
        #expect(try spool.append(Self.trades(0..<10)))
        #expect(try spool.append(Self.trades(10..<20)))
        try spool.close()
        let path = directory + "/" + (try segmentFiles()[0])
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: path))
        let reopened = try Spool(configuration: .init(directory: directory))
        let read = try reopened.reader(for: try #require(try reopened.oldestSegment())).readAll()
        #expect(read.batches == [.trades(Self.trades(0..<10))])
        #expect(read.corrupt == 1)
        #expect(reopened.snapshot.corruptRecords == 1)
    }

    @Test("a corrupted record in the middle is skipped and counted; the rest is replayed")
    func corruptMiddle() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool()
        for start in stride(from: 0, to: 30, by: 10) { #expect(try spool.append(Self.trades(start..<start + 10))) }
        try spool.close()
        let path = directory + "/" + (try segmentFiles()[0])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let firstRecord = 8 + Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        bytes[firstRecord + 20] ^= 0xFF  // inside the second record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try Spool(configuration: .init(directory: directory))
        let read = try reopened.reader(for: try #require(try reopened.oldestSegment())).readAll()
        #expect(read.batches == [.trades(Self.trades(0..<10)), .trades(Self.trades(20..<30))])
        #expect(read.corrupt == 1)
        #expect(reopened.snapshot.corruptRecords == 1)
    }

    @Test("a segment name with a number near UInt64.max (made by hand) is replayed, and new segments do not overflow their counter")
    func hugeSegmentNumber() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let spool = try spool()
            #expect(try spool.append(Self.trades(0..<10)))
            try spool.close()
        }
        let original = directory + "/" + (try segmentFiles()[0])
        let huge = directory + "/segment-18446744073709551615.spool"
        #expect(rename(original, huge) == 0)
        let spool = try spool()
        #expect(try spool.append(Self.trades(10..<20)))
        var replayed: [OptionTrade] = []
        while let segment = try spool.oldestSegment() {
            replayed += try spool.reader(for: segment).readAll().batches.flatMap(\.trades)
            spool.commit(segment)
        }
        #expect(replayed.count == 20)
        #expect(Set(replayed.map(\.sequence)) == Set(0..<20))
    }

    @Test("at its byte limit the spool refuses a batch and writes nothing of it")
    func byteLimit() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try spool(maxBytes: 6000)
        #expect(try spool.append(Self.trades(0..<50)))
        let used = spool.snapshot.bytes
        #expect(used < 6000)
        #expect(try spool.append(Self.trades(50..<100)) == false)
        #expect(spool.snapshot.bytes == used)
    }

    @Test("a second spool on the same directory is refused while the first lives; free again once it is gone")
    func directoryLocked() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-lock-\(UUID().uuidString)").path
        var first: Spool? = try Spool(configuration: .init(directory: directory))
        #expect(throws: Spool.SpoolError.self) { try Spool(configuration: .init(directory: directory)) }
        _ = first
        first = nil
        #expect(try Spool(configuration: .init(directory: directory)).isEmpty)
    }
}

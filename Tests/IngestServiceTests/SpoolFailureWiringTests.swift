import Foundation
import IngestPipeline
import IngestSpool
import OptionsFeed
import Synchronization
import Testing

@testable import IngestPipeline
@testable import IngestService

/// What the flusher and the intake do when the spool's disk refuses a write.
@Suite("Spool failures on the way in")
struct SpoolFailureWiringTests {
    final class DiskFull: Sendable {
        let on = Atomic<Bool>(true)
    }

    /// A spool whose every write fails with ENOSPC while `full` is on.
    static func spool(full: DiskFull, directory: String) throws -> Spool {
        var layer = SpoolFileLayer.system
        let write = layer.write
        layer.write = { descriptor, bytes throws(DescriptorWrite.Failure) in
            if full.on.load(ordering: .relaxed) { throw DescriptorWrite.Failure(code: ENOSPC, written: 0) }
            try write(descriptor, bytes)
        }
        return try Spool(configuration: .init(directory: directory), files: layer)
    }

    @Test("a disk that refuses a write keeps the batch with the caller, uncounted as dropped; once it takes writes again the batch is spooled")
    func keptInMemory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spoolfail-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let full = DiskFull()
        let spool = try Self.spool(full: full, directory: directory)
        let stats = IngestStats()
        let logs = CapturedLogs()
        let batch = TradeIntakeTests.trades(50)
        #expect(!spoolOrDrop(.trades(batch), spool: spool, stats: stats, logger: logs.logger("buffer"), keepOnWriteFailure: true))
        #expect(stats.tradesDropped.load(ordering: .relaxed) == 0)
        #expect(spool.snapshot.writeFailures == 1)
        #expect(spool.isEmpty)
        full.on.store(false, ordering: .relaxed)
        #expect(spoolOrDrop(.trades(batch), spool: spool, stats: stats, logger: logs.logger("buffer"), keepOnWriteFailure: true))
        #expect(stats.spooledTrades.load(ordering: .relaxed) == 50)
        try spool.close()
    }

    @Test("where nothing can keep the batch (a full buffer, the last moment of a shutdown), a refused write is dropped and counted")
    func droppedWhenNothingCanKeepIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spoolfail-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let full = DiskFull()
        let spool = try Self.spool(full: full, directory: directory)
        let stats = IngestStats()
        #expect(spoolOrDrop(.trades(TradeIntakeTests.trades(7)), spool: spool, stats: stats, logger: CapturedLogs().logger("buffer")))
        #expect(stats.tradesDropped.load(ordering: .relaxed) == 7)
        try spool.close()
    }
}

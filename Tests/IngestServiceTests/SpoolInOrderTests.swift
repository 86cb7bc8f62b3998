import Foundation
import IngestPipeline
import IngestSpool
import OptionsFeed
import Testing

@testable import IngestService

/// With a spool, a live feed's records reach the database in the order they
/// came (docs/design.md §5.2.2): while the spool holds a backlog new frames go
/// behind it instead of into the buffer, so that in overload the buffer
/// empties instead of staying full; the flusher writes what the buffer holds
/// (which came first) before the spool (`FlushMachineTests`).
@Suite("Spool in arrival order")
struct SpoolInOrderTests {
    /// An intake into a 10-trade buffer with a spool in a directory of its own.
    struct Rig {
        let directory: String
        let buffer = RecordBuffer(capacity: 10, flushThreshold: 100)
        let stats = IngestStats()
        let spool: Spool
        let intake: FeedIntake

        init(spoolsBehindBacklog: Bool = true, full: SpoolFailureWiringTests.DiskFull? = nil) throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spoolorder-\(UUID().uuidString)").path
            self.directory = directory
            spool = try full.map { try SpoolFailureWiringTests.spool(full: $0, directory: directory) } ?? Spool(configuration: .init(directory: directory))
            intake = FeedIntake(
                buffer: buffer, stats: stats, gaps: GapLedger(startsOpen: false), deadLetters: DeadLetterQueue(), spool: spool,
                notionalThreshold: 0, spoolsBehindBacklog: spoolsBehindBacklog, logger: CapturedLogs().logger("websocket"))
        }

        /// A frame of the trades numbered `sequences`, taken without waiting (as the connection's event loop does).
        func frame(_ sequences: Range<Int>) {
            var frame = DecodedFrame()
            frame.trades = TradeIntakeTests.trades(sequences.upperBound).suffix(sequences.count).map { $0 }
            #expect(intake.takeAvailable(frame, receivedAtMicros: 1).isEmpty)
        }

        /// What the buffer holds, taken out.
        func takeBuffer() -> [Int64] {
            buffer.takeAll().flatMap { $0.trades.map(\.sequence) }
        }

        /// The spool's trades in the order the flusher reads them back, its segments committed (the spool is then empty).
        func drainSpool() throws -> [Int64] {
            var sequences: [Int64] = []
            while let segment = try spool.oldestSegment() {
                let reader = try spool.reader(for: segment)
                while let batch = try reader.nextBatch(upTo: 1_000) { sequences += batch.trades.map(\.sequence) }
                spool.commit(segment)
            }
            return sequences
        }

        func close() {
            try? spool.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("while the spool holds a backlog, frames go behind it and the buffer empties; buffer then spool is arrival order; once drained, the buffer again")
    func framesGoBehindTheBacklog() throws {
        let rig = try Rig()
        defer { rig.close() }
        rig.frame(0..<8)
        #expect(rig.spool.isEmpty)
        rig.frame(8..<15)  // 2 fit, 5 overflow to the spool
        #expect(rig.buffer.count == 10)
        // The flusher takes the buffer first (it came first); the next frames follow the backlog, not into the room it left.
        #expect(rig.takeBuffer() == Array(0..<10))
        rig.frame(15..<18)
        rig.frame(18..<19)
        #expect(rig.buffer.count == 0)
        #expect(rig.stats.spooledTrades.load(ordering: .relaxed) == 9)
        #expect(try rig.drainSpool() == Array(10..<19))
        #expect(rig.spool.isEmpty)
        rig.frame(19..<24)
        #expect(rig.spool.isEmpty)
        #expect(rig.takeBuffer() == Array(19..<24))
        #expect(rig.stats.tradesDropped.load(ordering: .relaxed) == 0)
    }

    @Test("a backlog whose disk refuses the next frame leaves it to the buffer: kept, not dropped")
    func refusedFrameTakesTheBuffer() throws {
        let full = SpoolFailureWiringTests.DiskFull()
        full.on.store(false, ordering: .relaxed)
        let rig = try Rig(full: full)
        defer { rig.close() }
        rig.frame(0..<12)
        #expect(rig.takeBuffer() == Array(0..<10))
        full.on.store(true, ordering: .relaxed)
        rig.frame(12..<15)
        #expect(rig.takeBuffer() == Array(12..<15))
        #expect(rig.stats.tradesDropped.load(ordering: .relaxed) == 0)
        full.on.store(false, ordering: .relaxed)
        #expect(try rig.drainSpool() == Array(10..<12))
    }

    @Test("the spool decides under its own lock: behind an empty spool nothing is written, behind a backlog the record is")
    func appendBehindBacklogOnlyBehindOne() throws {
        let rig = try Rig()
        defer { rig.close() }
        #expect(try rig.spool.appendBehindBacklog(.trades(Array(TradeIntakeTests.trades(3)))) == nil)
        #expect(rig.spool.isEmpty)
        #expect(try rig.spool.append(.trades(Array(TradeIntakeTests.trades(2)))))
        #expect(try rig.spool.appendBehindBacklog(.trades(Array(TradeIntakeTests.trades(3)))) == true)
        #expect(rig.spool.snapshot.records == 2)
    }

    @Test("a replay (spoolsBehindBacklog off) fills the buffer beside a backlog instead of reading into the spool")
    func replayUsesTheBufferBesideABacklog() throws {
        let rig = try Rig(spoolsBehindBacklog: false)
        defer { rig.close() }
        rig.frame(0..<12)
        #expect(rig.takeBuffer() == Array(0..<10))
        rig.frame(12..<16)
        #expect(rig.buffer.count == 4)
        #expect(try rig.drainSpool() == Array(10..<12))
    }
}

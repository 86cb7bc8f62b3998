import Foundation
import IngestPipeline
import IngestSpool
import OptionsFeed
import Testing

@testable import IngestService

/// With a spool, a live feed's records reach the database in the order they
/// came (docs/design.md §5.2.2): a full buffer sends what waits in it to the
/// spool ahead of what overflowed, and while the spool holds a backlog new
/// frames go behind it, so that in overload the buffer is empty, not full.
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

    @Test("a full buffer sends what waits in it to the spool ahead of the overflow: read back, every trade in arrival order, the buffer empty")
    func overflowSpillsTheBufferFirst() throws {
        let rig = try Rig()
        defer { rig.close() }
        rig.frame(0..<8)
        #expect(rig.buffer.count == 8)
        #expect(rig.spool.isEmpty)
        rig.frame(8..<20)  // 2 fit, 10 do not
        #expect(rig.buffer.count == 0)
        #expect(rig.stats.spooledTrades.load(ordering: .relaxed) == 20)
        #expect(try rig.drainSpool() == Array(0..<20))
        #expect(rig.stats.tradesDropped.load(ordering: .relaxed) == 0)
    }

    @Test("while the spool holds a backlog, frames go behind it, not into the buffer; once it has drained, into the buffer again")
    func framesGoBehindTheBacklog() throws {
        let rig = try Rig()
        defer { rig.close() }
        rig.frame(0..<15)
        rig.frame(15..<18)
        rig.frame(18..<19)
        #expect(rig.buffer.count == 0)
        #expect(try rig.drainSpool() == Array(0..<19))
        #expect(rig.spool.isEmpty)
        rig.frame(19..<24)
        #expect(rig.buffer.count == 5)
        #expect(rig.spool.isEmpty)
        #expect(rig.buffer.take(upTo: 100).trades.map(\.sequence) == Array(19..<24))
    }

    @Test("a spool whose disk refuses: the buffer keeps what it holds, in order, and only what fits nowhere is dropped and counted")
    func refusedSpillKeepsTheBuffer() throws {
        let full = SpoolFailureWiringTests.DiskFull()
        let rig = try Rig(full: full)
        defer { rig.close() }
        rig.frame(0..<15)
        #expect(rig.buffer.count == 10)
        #expect(rig.stats.tradesDropped.load(ordering: .relaxed) == 5)
        #expect(rig.stats.spooledTrades.load(ordering: .relaxed) == 0)
        #expect(rig.buffer.take(upTo: 100).trades.map(\.sequence) == Array(0..<10))
        // The disk takes writes again: the next overflow spills, in order.
        full.on.store(false, ordering: .relaxed)
        rig.frame(15..<22)
        rig.frame(22..<26)
        #expect(rig.buffer.count == 0)
        #expect(try rig.drainSpool() == Array(15..<26))
    }

    @Test("a replay (spoolsBehindBacklog off) fills the buffer beside a backlog instead of reading into the spool; its overflow still spills in order")
    func replayUsesTheBufferBesideABacklog() throws {
        let rig = try Rig(spoolsBehindBacklog: false)
        defer { rig.close() }
        rig.frame(0..<12)
        #expect(rig.buffer.count == 0)
        rig.frame(12..<16)
        #expect(rig.buffer.count == 4)
        #expect(try rig.drainSpool() == Array(0..<12))
    }
}

import Foundation
import IngestPipeline
import IngestSpool
import OptionsFeed
import ServiceLifecycle
import Testing

@testable import IngestService

/// The backfill's ordering rule rests on the commit watermark
/// (docs/design.md §5.8.1): it may say "every trade received before R is
/// committed" only when that is so.
@Suite("Commit watermark")
struct CommitWatermarkTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watermark-\(UUID().uuidString)").path

    static func trades(_ count: Int, receivedAt: Int64) -> [OptionTrade] {
        TradeIntakeTests.trades(count).map { trade in
            var trade = trade
            trade.receivedAtMicros = receivedAt
            return trade
        }
    }

    @Test("only while the flusher waits; then the buffer's front, or a second before now when it is empty; nothing while the spool holds trades")
    func rules() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let buffer = RecordBuffer(capacity: 1000, flushThreshold: 100)
        let spool = try Spool(configuration: .init(directory: directory))
        let watermark = CommitWatermark(buffer: buffer, spool: spool)
        let now: Int64 = 10_000_000
        #expect(watermark.settledBefore(nowMicros: now) == nil, "the flusher is busy")
        watermark.flusherWaiting(true)
        #expect(watermark.settledBefore(nowMicros: now) == now - CommitWatermark.appendSlackMicros)
        _ = buffer.append(contentsOf: Self.trades(3, receivedAt: 500) + Self.trades(2, receivedAt: 600))
        #expect(watermark.settledBefore(nowMicros: now) == 500)
        let taken = buffer.take(upTo: 3)
        #expect(watermark.settledBefore(nowMicros: now) == 600)
        buffer.putBack(taken)
        #expect(watermark.settledBefore(nowMicros: now) == 500, "a batch handed back is at the front again")
        #expect(try spool.append(Self.trades(1, receivedAt: 400)))
        #expect(watermark.settledBefore(nowMicros: now) == nil, "a spooled trade is not committed")
        let segment = try #require(try spool.oldestSegment())
        spool.commit(segment)
        #expect(spool.isEmpty)
        #expect(watermark.settledBefore(nowMicros: now) == 500)
        watermark.flusherWaiting(false)
        #expect(watermark.settledBefore(nowMicros: now) == nil)
        try spool.close()
    }

    @Test("in the real flush loop: nothing while a batch is in flight or waits for its retry; past it once committed")
    func flushLoop() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let buffer = RecordBuffer(capacity: 10_000, flushThreshold: 100)
        let spool = try Spool(configuration: .init(directory: directory))
        let writer = ScriptedWriter(blockingWrites: 1)
        let clock = ManualClock()
        let stats = IngestStats()
        let logger = CapturedLogs().logger("buffer")
        let flusher = FlushService(
            buffer: buffer, gaps: GapLedger(startsOpen: false), deadLetters: DeadLetterQueue(), spool: spool, writer: writer,
            policy: .init(interval: .seconds(5), minimumBatch: 100, maximumBatch: 10_000),
            retry: RetrySchedule(maxRetries: 3, initialDelay: .seconds(1)), shutdownTimeout: .seconds(5), stats: stats, clock: clock,
            logger: logger)
        let watermark = flusher.watermark
        let now: Int64 = 50_000_000
        let group = ServiceGroup(services: [flusher], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { watermark.settledBefore(nowMicros: now) == now - CommitWatermark.appendSlackMicros }
            _ = buffer.append(contentsOf: Self.trades(150, receivedAt: 1000))
            try await eventually { writer.calls == ["write 150"] }
            #expect(watermark.settledBefore(nowMicros: now) == nil, "a batch is in flight")
            writer.cancelInFlight(grace: .zero)
            // The refused batch waits on the clock (its retry, in steps of 100 ms) before it is written again.
            try await eventually { clock.deadlines.contains(.milliseconds(100)) }
            #expect(watermark.settledBefore(nowMicros: now) == nil, "the batch waits for its retry")
            clock.advance(to: .seconds(1))
            try await eventually { stats.tradesWritten.load(ordering: .relaxed) == 150 }
            try await eventually { watermark.settledBefore(nowMicros: now) == now - CommitWatermark.appendSlackMicros }
            _ = buffer.append(contentsOf: Self.trades(10, receivedAt: 2000))
            try await eventually { watermark.settledBefore(nowMicros: now) == 2000 }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try spool.close()
    }
}

import Foundation
import IngestDatabase
import IngestPipeline
import IngestStatus
import IngestTestSupport
import Testing

@testable import IngestService

/// Side-table rows lost in memory are counted where an operator sees them.
@Suite("Pending side-table losses")
struct PendingLossTests {
    @Test("rows dropped by the gap, dead-letter and health-event queues are in the health report, its schema and /metrics")
    func queueDropsAreReported() throws {
        let stats = IngestStats()
        let gaps = GapLedger(capacity: 2)
        let deadLetters = DeadLetterQueue(capacity: 3)
        let events = HealthEventQueue(capacity: 1)
        for index in 0..<4 {
            gaps.dataArrived(atMicros: Int64(index * 2))
            gaps.open(atMicros: Int64(index * 2 + 1), reason: "reconnect")
        }
        for index in 0..<5 { deadLetters.append(DeadLetter(source: "feed", reason: "bad_symbol", raw: "{\"n\":\(index)}")) }
        for index in 0..<3 {
            events.append(.connection(atMicros: Int64(index), component: "websocket", message: "m", statusCode: nil, metadataJSON: nil))
        }
        stats.gapChangesLostAtShutdown.add(1)
        let monitor = HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], marketHours: .always),
            stats: stats, buffer: RecordBuffer(capacity: 100, flushThreshold: 10), spool: nil, feed: FeedMonitor(configuration: .init()),
            database: DatabaseMonitor(flavor: "postgres"), errors: ErrorLog(), healthEvents: events, gaps: gaps, deadLetters: deadLetters)
        let report = monitor.report()
        #expect(report.pending == .init(gapChangesDropped: gaps.dropped + 1, deadLettersDropped: 2, healthEventsDropped: 2))
        #expect(gaps.dropped == 6, "8 changes into a queue of 2")

        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder.health.encode(report)) as? [String: Any])
        #expect(schema.violations(of: object) == [])
        #expect((object["pending"] as? [String: Any])?["dead_letters_dropped"] as? Int == 2)

        let text = IngestMetrics().exposition(for: report, sseClients: 0, sseDropped: 0)
        #expect(text.contains(#"ingest_pending_rows_dropped_total{queue="feed_gaps"} 7"#))
        #expect(text.contains(#"ingest_pending_rows_dropped_total{queue="dead_letters"} 2"#))
        #expect(text.contains(#"ingest_pending_rows_dropped_total{queue="health_events"} 2"#))
    }
}

@Suite("Pending side-table queues")
struct PendingRowsTests {
    @Test("dead letters handed back after a failed write keep the newest past capacity, as new ones do")
    func putBackKeepsNewest() {
        let queue = PendingRows<Int>(capacity: 3)
        queue.append(1)
        queue.append(2)
        let failed = queue.drain()
        queue.append(3)
        queue.append(4)
        queue.putBack(failed)
        #expect(queue.dropped == 1)
        #expect(queue.drain() == [2, 3, 4])
    }
}

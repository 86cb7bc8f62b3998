import Foundation
import IngestDatabase
import IngestPipeline
import IngestStatus
import IngestTestSupport
import OptionsFeed
import Testing

@testable import IngestService

/// Every event type on its way into the buffer (docs/design.md §4.4): a frame
/// mixing types is split by type into the buffer, invalid events of any type
/// are dead-lettered with their type, the notional threshold applies to trades
/// only, and each type is counted in the health report and `/metrics`.
@Suite("Event intake: every type")
struct EventIntakeTests {
    static let contract = "O:SPY251219C00650000"

    /// Two trades (one below the threshold), a minute bar, a second bar, two
    /// quotes, an FMV value, an invalid bar and an invalid quote, and an unknown event.
    static let mixedFrame = """
        [{"ev":"T","sym":"\(contract)","x":4,"p":6.5,"s":20,"t":1764772200120,"q":1},
        {"ev":"T","sym":"\(contract)","x":4,"p":0.05,"s":1,"t":1764772200121,"q":2},
        {"ev":"AM","sym":"\(contract)","v":20,"av":900,"op":6.1,"vw":6.5,"o":6.5,"c":6.5,"h":6.5,"l":6.5,"a":6.3,"z":20,"s":1764772140000,"e":1764772200000},
        {"ev":"A","sym":"\(contract)","v":20,"vw":6.5,"o":6.5,"c":6.5,"h":6.5,"l":6.5,"s":1764772200000,"e":1764772201000},
        {"ev":"Q","sym":"\(contract)","bx":4,"ax":7,"bp":6.4,"ap":6.6,"bs":10,"as":12,"t":1764772200130,"q":11},
        {"ev":"Q","sym":"\(contract)","bx":4,"ax":7,"bp":6.45,"ap":6.6,"bs":10,"as":12,"t":1764772200140,"q":12},
        {"ev":"FMV","sym":"\(contract)","fmv":6.52,"t":1764772200150123456},
        {"ev":"AM","sym":"\(contract)","v":20,"vw":6.5,"o":6.5,"c":6.5,"h":6.0,"l":6.5,"s":1764772140000,"e":1764772200000},
        {"ev":"Q","sym":"\(contract)","bx":4,"bp":6.4},
        {"ev":"LULD","sym":"\(contract)"}]
        """.replacingOccurrences(of: "\n", with: "")

    @Test("a mixed frame: each type into its own ring, invalid events dead-lettered with their type, the threshold on trades only, every type counted")
    func mixedFrame() async throws {
        let buffer = RecordBuffer(capacity: 100, flushThreshold: 100)
        let stats = IngestStats()
        let deadLetters = DeadLetterQueue()
        let monitor = HealthMonitor(
            configuration: .init(
                version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*", "AM.*", "A.*", "Q.\(Self.contract)", "FMV.\(Self.contract)"],
                marketHours: .always),
            stats: stats, buffer: buffer, spool: nil, feed: FeedMonitor(configuration: .init()), database: DatabaseMonitor(flavor: "postgres"),
            errors: ErrorLog(), healthEvents: HealthEventQueue(), deadLetters: deadLetters)
        let intake = FeedIntake(
            buffer: buffer, stats: stats, gaps: GapLedger(startsOpen: false), deadLetters: deadLetters, spool: nil,
            notionalThreshold: 1_000, health: monitor, logger: CapturedLogs().logger("websocket"))
        let frame = try FrameDecoder().decode(Self.mixedFrame, receivedAtMicros: 1_764_772_200_500_000)
        #expect(frame.unknownEvents == 1)
        await intake.take(frame, receivedAtMicros: 1_764_772_200_500_000)

        #expect(buffer.counts == [.trade: 1, .aggregate: 2, .quote: 2, .fmv: 1])
        let batches = buffer.takeAll()
        #expect(batches.map(\.kind) == [.trade, .aggregate, .quote, .fmv])
        #expect(batches[0].trades.map(\.sequence) == [1], "the 5 USD trade is below the threshold; bars and quotes are not filtered")

        let letters = deadLetters.drain()
        #expect(letters.map(\.eventType) == ["AM", "Q"])
        #expect(letters.map(\.reason) == ["bad_bar", "missing_field"])
        #expect(letters.allSatisfy { $0.source == "feed" })

        #expect(stats.counts(.trade) == RecordCounts(seen: 2, accepted: 1, invalid: 0))
        #expect(stats.counts(.aggregate) == RecordCounts(seen: 3, accepted: 2, invalid: 1))
        #expect(stats.counts(.quote) == RecordCounts(seen: 3, accepted: 2, invalid: 1))
        #expect(stats.counts(.fmv) == RecordCounts(seen: 1, accepted: 1))
        stats.written(.quote, 2)
        stats.written(.trade, 1)

        let report = monitor.report()
        #expect(report.feed.events.quote == HealthReport.EventCounts(seen: 3, accepted: 2, invalid: 1, written: 2))
        #expect(report.feed.events.trade == HealthReport.EventCounts(seen: 2, accepted: 1, written: 1))
        #expect(report.feed.events.aggregate == HealthReport.EventCounts(seen: 3, accepted: 2, invalid: 1))
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder.health.encode(report)) as? [String: Any])
        #expect(schema.violations(of: object) == [])

        let text = IngestMetrics().exposition(for: report, sseClients: 0, sseDropped: 0)
        #expect(text.contains(#"ingest_events_total{type="quote",outcome="written"} 2"#))
        #expect(text.contains(#"ingest_events_total{type="aggregate",outcome="invalid"} 1"#))
        #expect(text.contains(#"ingest_events_total{type="fmv",outcome="accepted"} 1"#))
        #expect(text.contains(#"ingest_events_total{type="trade",outcome="seen"} 2"#))
    }

    @Test("a quote and an FMV value are signs of life for their contract's staleness; a bar is not")
    func quotesKeepAContractFresh() throws {
        let start = ContinuousClock.now
        func monitor() -> HealthMonitor {
            HealthMonitor(
                configuration: .init(
                    version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["Q.\(Self.contract)"], marketHours: .always,
                    symbols: .init(watched: [Self.contract])),
                stats: IngestStats(), buffer: RecordBuffer(capacity: 10, flushThreshold: 10), spool: nil, feed: FeedMonitor(configuration: .init()),
                database: DatabaseMonitor(flavor: "postgres"), errors: ErrorLog(), healthEvents: HealthEventQueue())
        }
        let frame = try FrameDecoder().decode(Self.mixedFrame, receivedAtMicros: 1)
        let quoted = monitor(), barred = monitor(), valued = monitor()
        quoted.recordsAccepted(.quotes(frame.quotes), now: start)
        valued.recordsAccepted(.fairValues(frame.fairValues), now: start)
        barred.recordsAccepted(.aggregates(frame.aggregates), now: start)
        #expect(quoted.report().symbols.worst.first?.updates == 2)
        #expect(valued.report().symbols.worst.first?.updates == 1)
        #expect(barred.report().symbols.worst.first?.updates ?? 0 == 0)
    }
}

import Foundation
import IngestPipeline
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestService

/// The gap backfill in the health picture (docs/design.md §5.8.1, docs/operations.md §1):
/// the report's `backfill` section and the `backfill_lagging` alert, with time moved by
/// `HealthMonitor.Moment.advanced(by:)`, never slept.
@Suite("Health monitor: backfill")
struct HealthMonitorBackfillTests {
    /// The monitor's wall clock, frozen: the moments given to `tick` and `report` carry the time.
    static let start: Int64 = 1_764_772_200_000_000
    static let lagAlert: Duration = .seconds(900)

    let errors = ErrorLog(secrets: ["the-api-key-123"])

    func monitor(backfill: BackfillProgress?, role: InstanceRole = InstanceRole()) -> HealthMonitor {
        HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], marketHours: .always),
            stats: IngestStats(), buffer: RecordBuffer(capacity: 100, flushThreshold: 10), spool: nil, feed: FeedMonitor(configuration: .init()),
            database: DatabaseMonitor(flavor: "postgres"), errors: errors, healthEvents: HealthEventQueue(), role: role, backfill: backfill,
            wallClock: WallClock { Self.start })
    }

    /// A backfill with one gap waiting since the monitor's start.
    static func waitingSinceStart(enabled: Bool = true) -> BackfillProgress {
        let progress = BackfillProgress(enabled: enabled, lagAlert: lagAlert)
        progress.update {
            $0.state = .waiting
            $0.gapsWaiting = 1
            $0.oldestWaitingSinceMicros = start
        }
        return progress
    }

    /// The `backfill_lagging` lines logged so far.
    static func lagging(_ sink: LogCapture) -> [LogCapture.Line] {
        sink.lines.filter { $0.message == "ALERT" && $0.metadata["alert"] == "backfill_lagging" }
    }

    func encoded(_ report: HealthReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder.health.encode(report)) as? [String: Any])
    }

    @Test("backfill_lagging opens once a gap has waited longer than ALERT_BACKFILL_LAG_MS, not at it, and resolves when it is backfilled")
    func opensAndResolves() throws {
        let progress = Self.waitingSinceStart()
        let monitor = monitor(backfill: progress)
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        let start = monitor.now()

        monitor.tick(at: start.advanced(by: .seconds(899)), logger: logger)
        monitor.tick(at: start.advanced(by: Self.lagAlert), logger: logger)
        #expect(Self.lagging(sink).isEmpty, "exactly the threshold is not past it")

        let late = start.advanced(by: Self.lagAlert + .seconds(1))
        monitor.tick(at: late, logger: logger)
        monitor.tick(at: late.advanced(by: .seconds(60)), logger: logger)
        let opened = Self.lagging(sink)
        #expect(opened.map { $0.metadata["state"] } == ["open"], "opened once while the gap keeps waiting")
        #expect(opened.first?.metadata["lag_s"] == "901")
        #expect(opened.first?.metadata["threshold_s"] == "900")
        #expect(opened.first?.metadata["gaps_waiting"] == "1")
        let alerts = try #require(try encoded(monitor.report(at: late))["alerts"] as? [[String: Any]])
        #expect(alerts.contains { $0["alert"] as? String == "backfill_lagging" })

        progress.update {
            $0.state = .idle
            $0.gapsWaiting = 0
            $0.gapsDone = 1
            $0.oldestWaitingSinceMicros = nil
        }
        monitor.tick(at: late.advanced(by: .seconds(61)), logger: logger)
        monitor.tick(at: late.advanced(by: .seconds(62)), logger: logger)
        #expect(Self.lagging(sink).map { $0.metadata["state"] } == ["open", "resolved"])
        let after = try #require(try encoded(monitor.report(at: late.advanced(by: .seconds(62))))["alerts"] as? [[String: Any]])
        #expect(!after.contains { $0["alert"] as? String == "backfill_lagging" })
    }

    @Test("a failed gap that waits for its retry keeps the alert open: the lag counts until it is backfilled")
    func failedGapStaysLagging() {
        let progress = Self.waitingSinceStart()
        let monitor = monitor(backfill: progress)
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        let late = monitor.now().advanced(by: .seconds(1000))
        monitor.tick(at: late, logger: logger)
        // The gap failed: no longer among the gaps due now, still not backfilled.
        progress.update {
            $0.gapsWaiting = 0
            $0.gapsFailed = 1
            $0.lastError = "HTTP 503"
        }
        monitor.tick(at: late.advanced(by: .seconds(1)), logger: logger)
        #expect(Self.lagging(sink).map { $0.metadata["state"] } == ["open"])
        let open = monitor.report(at: late.advanced(by: .seconds(1))).alerts.first { $0.alert == .backfillLagging }
        #expect(open?.values["gaps_failed"] == "1", "the open alert's figures follow the progress")
        #expect(open?.values["lag_s"] == "1001")
    }

    @Test(
        "backfill_lagging never opens with the backfill off, without a backfill, or on a standby",
        arguments: ["BACKFILL=off", "no progress", "standby"])
    func neverOpens(setting: String) {
        let health: HealthMonitor = switch setting {
        case "BACKFILL=off": monitor(backfill: Self.waitingSinceStart(enabled: false))
        case "no progress": monitor(backfill: nil)
        default: monitor(backfill: Self.waitingSinceStart(), role: InstanceRole(.standby, wallClock: WallClock { Self.start }))
        }
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        let start = health.now()
        for hours in 1...3 { health.tick(at: start.advanced(by: .seconds(3600 * hours)), logger: logger) }
        #expect(Self.lagging(sink).isEmpty)
    }

    @Test("the report's backfill section follows BackfillProgress at the report's moment and validates against the schema")
    func reportSection() throws {
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        let progress = Self.waitingSinceStart()
        progress.update {
            $0.gapsDone = 4
            $0.gapsPartial = 1
            $0.gapsFailed = 2
            $0.contractsMerged = 17
            $0.rowsInserted = 321
            $0.requests = 40
            $0.rateLimited = 2
            $0.lastError = "HTTP 401 with key the-api-key-123"
        }
        let monitor = monitor(backfill: progress)
        let report = try encoded(monitor.report(at: monitor.now().advanced(by: .milliseconds(90_250))))
        #expect(schema.violations(of: report) == [])
        let section = try #require(report["backfill"] as? [String: Any])
        #expect(section["state"] as? String == "waiting")
        #expect(section["gaps_waiting"] as? Int == 1)
        #expect(section["gaps_done"] as? Int == 4)
        #expect(section["gaps_partial"] as? Int == 1)
        #expect(section["gaps_failed"] as? Int == 2)
        #expect(section["contracts_merged"] as? Int == 17)
        #expect(section["rows_inserted"] as? Int == 321)
        #expect(section["requests"] as? Int == 40)
        #expect(section["rate_limited"] as? Int == 2)
        #expect(section["lag_ms"] as? Double == 90_250)
        #expect(section["last_error"] as? String == "HTTP 401 with key ***", "the last error is masked")
    }

    @Test("without a backfill the section says off, with every count 0, and the report validates")
    func reportSectionOff() throws {
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        for progress in [nil, BackfillProgress(enabled: false)] {
            let report = try encoded(monitor(backfill: progress).report())
            #expect(schema.violations(of: report) == [])
            let section = try #require(report["backfill"] as? [String: Any])
            #expect(section["state"] as? String == "off")
            #expect(section["gaps_waiting"] as? Int == 0)
            #expect(section["lag_ms"] as? Double == 0)
            #expect(section["last_error"] == nil)
        }
    }
}

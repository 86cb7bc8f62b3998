import Foundation
import IngestDatabase
import IngestPipeline
import IngestSpool
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestService

/// The report and the alerts of `HealthMonitor`, on real (in-memory) parts.
@Suite("Health monitor")
struct HealthMonitorTests {
    let stats = IngestStats()
    let buffer = RecordBuffer(capacity: 5000, flushThreshold: 100)
    let feed = FeedMonitor(configuration: .init())
    let database = DatabaseMonitor(flavor: "postgres")
    let errors = ErrorLog(secrets: ["the-api-key-123", "db-password-456"])
    let events = HealthEventQueue()

    /// The monitor's wall clock, frozen: a test moves time with `HealthMonitor.Moment.advanced(by:)`.
    static let start: Int64 = 1_764_772_200_000_000

    func monitor(alerts: HealthMonitor.AlertThresholds = .init(), role: InstanceRole = InstanceRole(), spool: Spool? = nil) -> HealthMonitor {
        HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], alerts: alerts, marketHours: .always),
            stats: stats, buffer: buffer, spool: spool, feed: feed, database: database, errors: errors, healthEvents: events, role: role,
            wallClock: WallClock { Self.start })
    }

    @Test("the report names the role: single without HA; a standby is healthy without a feed and raises no feed alerts")
    func roleInReport() throws {
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        #expect(try encoded(monitor().report())["role"] as? String == "single")
        let role = InstanceRole(.standby, wallClock: WallClock { Self.start })
        // Ten minutes without a feed or a message: past every default threshold.
        let standby = monitor(role: role)
        let later = standby.now().advanced(by: .seconds(600))
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        standby.tick(at: later, logger: logger)
        let report = try encoded(standby.report(at: later))
        #expect(report["role"] as? String == "standby")
        #expect(report["status"] as? String == "healthy", "not streaming is what a standby is for: \(report["reasons"] ?? "")")
        #expect(schema.violations(of: report) == [])
        #expect(sink.lines.filter { $0.message == "ALERT" }.isEmpty)
        role.set(.leader, atMicros: Self.start)
        standby.tick(at: later, logger: logger)
        #expect(
            Set(sink.lines.filter { $0.message == "ALERT" }.compactMap { $0.metadata["alert"] }) == ["feed_disconnected", "no_messages"],
            "a leader ten minutes without a feed raises the feed alerts")
        let leading = try encoded(standby.report(at: later))
        #expect(leading["role"] as? String == "leader")
        #expect(leading["status"] as? String != "healthy", "a leader without a feed is not healthy")
    }

    @Test("feed_disconnected opens with state open and the feed's own state as feed_state, and resolves with state resolved")
    func feedDisconnectedState() throws {
        let monitor = monitor()
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        let down = monitor.now().advanced(by: .seconds(600))
        monitor.tick(at: down, logger: logger)
        feed.withMachine { machine in
            _ = machine.start(now: .now)
            machine.connected()
            machine.authenticated()
            machine.streaming(now: .now)
        }
        monitor.tick(at: down.advanced(by: .seconds(1)), logger: logger)
        let lines = sink.lines.filter { $0.message == "ALERT" && $0.metadata["alert"] == "feed_disconnected" }
        #expect(lines.map { $0.metadata["state"] } == ["open", "resolved"])
        #expect(lines.first?.metadata["feed_state"] == "disconnected")
    }

    func encoded(_ report: HealthReport) throws -> [String: Any] {
        let data = try JSONEncoder.health.encode(report)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a report validates against docs/health-report.schema.json, before and after data and errors")
    func reportValidates() throws {
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        let monitor = monitor()
        #expect(schema.violations(of: try encoded(monitor.report())) == [])
        let trade = OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 12.5, size: 20, conditions: [], timestampMs: 1, sequence: 1)
        monitor.tradesAccepted([trade])
        errors.record(.database, message: "password authentication failed: db-password-456")
        database.failed(DatabaseError(kind: .connection, sqlState: "08006", message: "lost"), masked: errors.mask, atMicros: 1_764_772_200_000_000)
        database.batchWritten(trades: 10, duration: .milliseconds(12), atMicros: 1_764_772_200_000_000)
        let report = try encoded(monitor.report())
        #expect(schema.violations(of: report) == [])
        #expect(((report["symbols"] as? [String: Any])?["tracked"] as? Int) == 1)
        let text = String(decoding: try JSONEncoder.health.encode(monitor.report()), as: UTF8.self)
        #expect(!text.contains("db-password-456"), "messages are masked")
        #expect(text.contains("password authentication failed: ***"))
    }

    @Test("the report is as of the moment it is given: its time, the silence since the last message, the uptime")
    func reportAtTheMomentGiven() throws {
        let monitor = monitor()
        stats.lastMessageAtMicros.store(Self.start + 5_000_000, ordering: .relaxed)
        let moment = monitor.now().advanced(by: .seconds(65))
        let report = try encoded(monitor.report(at: moment))
        #expect(report["ts"] as? String == "2025-12-03T14:31:05.000000Z")
        let feed = try #require(report["feed"] as? [String: Any])
        #expect(feed["seconds_since_message"] as? Double == 60)
        #expect((report["uptime_s"] as? Double).map { $0 >= 65 } == true)
    }

    @Test("an alert opens once while its condition holds and resolves once when it ends")
    func alertOpensOnce() throws {
        var thresholds = HealthMonitor.AlertThresholds()
        thresholds.bufferItems = 10
        let monitor = monitor(alerts: thresholds)
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        let trade = OptionTrade(
            symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 12.5, size: 20, conditions: [], timestampMs: 1, sequence: 1)
        _ = buffer.append(contentsOf: Array(repeating: trade, count: 11))
        for _ in 0..<5 { monitor.tick(logger: logger) }
        _ = buffer.take(upTo: 100)
        for _ in 0..<5 { monitor.tick(logger: logger) }
        let bufferAlerts = sink.lines.filter { $0.message == "ALERT" && $0.metadata["alert"] == "buffer_high" }
        #expect(bufferAlerts.map { $0.metadata["state"] } == ["open", "resolved"])
        #expect(try encoded(monitor.report())["status"] as? String != "unhealthy")
    }

    @Test("buffer_high counts the trades waiting in the spool behind the buffer: in overload the buffer itself is empty")
    func spoolBacklogRaisesBufferHigh() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("healthspool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool(configuration: .init(directory: directory))
        defer { try? spool.close() }
        var thresholds = HealthMonitor.AlertThresholds()
        thresholds.bufferItems = 10
        let monitor = monitor(alerts: thresholds, spool: spool)
        let sink = LogCapture()
        let logger = Logger(label: "health") { _ in sink }
        #expect(try spool.append(.trades(TradeIntakeTests.trades(8))))
        #expect(try spool.append(.trades(TradeIntakeTests.trades(4))))
        _ = buffer.append(contentsOf: TradeIntakeTests.trades(1))
        for _ in 0..<3 { monitor.tick(logger: logger) }
        // The report (and `ingest_spool_trades` at /metrics, which the Prometheus rule adds to the buffer's items) says the 12.
        #expect(monitor.report().spool.trades == 12)
        while let segment = try spool.oldestSegment() { spool.commit(segment) }
        for _ in 0..<3 { monitor.tick(logger: logger) }
        #expect(monitor.report().spool.trades == 0)
        let alerts = sink.lines.filter { $0.message == "ALERT" && $0.metadata["alert"] == "buffer_high" }
        #expect(alerts.map { $0.metadata["state"] } == ["open", "resolved"])
        #expect(alerts.first.map { [$0.metadata["items"], $0.metadata["buffered"], $0.metadata["spooled"]] } == ["13", "1", "12"])
    }
}

/// Collects log lines in memory.
final class LogCapture: LogHandler, @unchecked Sendable {
    struct Line {
        var message: String
        var metadata: [String: String]
    }

    private let lock = NSLock()
    private var captured: [Line] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var lines: [Line] { lock.withLock { captured } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let flat = (event.metadata ?? [:]).mapValues { "\($0)" }
        lock.withLock { captured.append(Line(message: "\(event.message)", metadata: flat)) }
    }
}

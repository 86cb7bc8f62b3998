import Foundation
import IngestDatabase
import IngestPipeline
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestService

/// `error_rate_high` counts faults, `invalid_trades_high` the feed's invalid
/// trades (docs/operations.md §1), through `HealthMonitor.tick` at given moments.
@Suite("Health monitor: error and invalid-trade alerts")
struct HealthMonitorErrorAlertTests {
    let stats = IngestStats()
    let errors = ErrorLog()
    let sink = LogCapture()

    func monitor(alerts: HealthMonitor.AlertThresholds = .init()) -> HealthMonitor {
        HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], alerts: alerts, marketHours: .always),
            stats: stats, buffer: RecordBuffer(capacity: 5000, flushThreshold: 100), spool: nil, feed: FeedMonitor(configuration: .init()),
            database: DatabaseMonitor(flavor: "postgres"), errors: errors, healthEvents: HealthEventQueue(),
            wallClock: WallClock { HealthMonitorTests.start })
    }

    var logger: Logger { Logger(label: "health") { _ in sink } }

    /// `(alert, state)` of every ALERT line so far.
    var alertLines: [(alert: String, state: String)] {
        sink.lines.filter { $0.message == "ALERT" }.map { ($0.metadata["alert"] ?? "", $0.metadata["state"] ?? "") }
    }

    /// One second of feed: `trades` seen, `invalid` of them invalid, as `FeedIntake` counts them.
    func feedSecond(trades: Int, invalid: Int) {
        stats.tradesSeen.add(trades)
        stats.tradesInvalid.add(invalid)
        errors.record(.data, count: invalid, message: "invalid trade: non_positive_price")
    }

    @Test("feed-sim's 1 % invalid trades for a minute open no alert at all")
    func healthyDemo() {
        let monitor = monitor()
        var moment = monitor.now()
        for _ in 0..<60 {
            feedSecond(trades: 800, invalid: 8)
            monitor.tick(at: moment, logger: logger)
            moment = moment.advanced(by: .seconds(1))
        }
        #expect(alertLines.isEmpty, "\(alertLines)")
        let report = monitor.report(at: moment)
        #expect(report.alerts.isEmpty)
        #expect(report.errors[.data]?.count == 480, "the invalid trades are still counted as data errors")
    }

    @Test("a tenth of the trades invalid opens invalid_trades_high with its figures, not error_rate_high; a clean minute resolves it")
    func invalidTradesHigh() throws {
        let monitor = monitor()
        let start = monitor.now()
        feedSecond(trades: 1000, invalid: 100)
        monitor.tick(at: start, logger: logger)
        let opened = try #require(sink.lines.first { $0.message == "ALERT" })
        #expect(opened.metadata["alert"] == "invalid_trades_high")
        #expect(opened.metadata["state"] == "open")
        #expect(opened.metadata["invalid"] == "100")
        #expect(opened.metadata["seen"] == "1000")
        #expect(opened.metadata["percent"] == "10.0")
        #expect(opened.metadata["threshold_percent"] == "5")
        #expect(monitor.report(at: start).alerts.map(\.alert) == [.invalidTradesHigh])

        // Clean trades from here on: once the bad second is a minute old, the share is 0.
        for second in 1...61 {
            feedSecond(trades: 1000, invalid: 0)
            monitor.tick(at: start.advanced(by: .seconds(second)), logger: logger)
        }
        #expect(alertLines.map(\.alert) == ["invalid_trades_high", "invalid_trades_high"])
        #expect(alertLines.map(\.state) == ["open", "resolved"])
    }

    @Test("ALERT_INVALID_TRADES_PERCENT sets the share: 10 % invalid stays quiet at 20")
    func thresholdFromConfiguration() {
        var thresholds = HealthMonitor.AlertThresholds()
        thresholds.invalidTradesPercent = 20
        let monitor = monitor(alerts: thresholds)
        feedSecond(trades: 1000, invalid: 100)
        monitor.tick(at: monitor.now(), logger: logger)
        #expect(alertLines.isEmpty)
    }

    @Test(
        "more than 10 faults a minute open error_rate_high, whatever their class",
        arguments: [ErrorClass.network, .database, .rateLimit])
    func faultsOpenErrorRateHigh(_ errorClass: ErrorClass) throws {
        let monitor = monitor()
        errors.record(errorClass, count: 11, message: "failed")
        monitor.tick(at: monitor.now(), logger: logger)
        let line = try #require(sink.lines.first { $0.message == "ALERT" && $0.metadata["alert"] == "error_rate_high" })
        #expect(line.metadata["per_minute"] == "11")
        #expect(line.metadata["threshold"] == "10")
    }

    @Test("data errors beside faults do not push error_rate_high over its threshold")
    func dataDoesNotCount() {
        let monitor = monitor()
        errors.record(.network, count: 6, message: "reset")
        errors.record(.database, count: 4, message: "connection refused")
        errors.record(.data, count: 500, message: "bad frame: malformed")
        monitor.tick(at: monitor.now(), logger: logger)
        #expect(!alertLines.map(\.alert).contains("error_rate_high"), "10 faults is not more than 10: \(alertLines)")
    }
}

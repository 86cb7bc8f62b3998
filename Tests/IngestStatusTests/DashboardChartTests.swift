import Foundation
import IngestPipeline
import IngestService
import Testing

@testable import IngestStatus

/// The dashboard's throughput and level charts (docs/operations.md §2): from the
/// first report they draw a line, seeded from the report's counters, and the
/// page publishes what it drew for `scripts/screenshot`.
@Suite("Dashboard charts")
struct DashboardChartTests {
    @Test("the page runs the series script, feeds it every report and publishes the drawn points and rates")
    func pageWiring() {
        let page = DashboardPage.html
        #expect(page.contains(DashboardPage.seriesScript), "the page embeds the script the node test runs")
        #expect(page.contains("addReport(history, r, Date.now());\n  draw();"))
        #expect(page.contains("chartSeries(history)"))
        for attribute in ["data-points", "data-tps", "data-rps"] {
            #expect(page.contains(#"id="chart""#) && page.contains(attribute), "the chart carries \(attribute)")
        }
        #expect(page.contains(#"<canvas id="levels""#), "buffer and spool levels have a chart")
        #expect(DashboardPage.seriesScript.contains("r.uptime_s"), "the first report is seeded from the uptime")
    }

    /// `node` on the PATH, if any.
    static let node: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent("node") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// A real report as JSON, `seconds` after its monitor started, with these counters.
    static func report(seen: Int, rows: Int, seconds: Int) throws -> String {
        let stats = IngestStats()
        stats.tradesSeen.add(seen)
        stats.rowsInserted.add(rows)
        let buffer = RecordBuffer(capacity: 5000, flushThreshold: 100)
        let monitor = HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], marketHours: .always),
            stats: stats, buffer: buffer, spool: nil, feed: FeedMonitor(configuration: .init()), database: DatabaseMonitor(flavor: "postgres"),
            errors: ErrorLog(), healthEvents: HealthEventQueue())
        let data = try JSONEncoder.health.encode(monitor.report(at: monitor.now().advanced(by: .seconds(seconds))))
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs the page's series script under node with `harness` after it; returns what the harness prints as JSON.
    static func run(_ harness: String) throws -> [String: Any] {
        let node = try #require(node)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-chart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("series.js")
        try (DashboardPage.seriesScript + "\n" + harness).write(to: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = node
        process.arguments = [script.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "node: \(failure)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test(
        "one report draws a line of two points at the average rate since the start; the next adds the rate since it",
        .enabled(if: node != nil, "node is not installed: the series script is checked only for its wiring"))
    func seededSeries() throws {
        // The ingester 10 s up with 5000 trades seen and 4000 rows written, then 2 s later 1600 and 1500 more.
        let first = try Self.report(seen: 5000, rows: 4000, seconds: 10)
        let second = try Self.report(seen: 6600, rows: 5500, seconds: 12)
        let result = try Self.run(
            """
            const history = [];
            const out = {};
            const first = \(first), second = \(second);
            out.fields = [first.feed.trades.seen, first.database.rows_written, first.buffer.items, first.spool.bytes, first.uptime_s]
              .every((v) => typeof v === "number");
            // The uptime to the millisecond (the monitor's own clock ran on a little while making the reports).
            first.uptime_s = 10; second.uptime_s = 12;
            first.buffer.items = 50; second.buffer.items = 70;
            out.keptFirst = addReport(history, first, 1000000);
            out.first = chartSeries(history);
            out.keptTooClose = addReport(history, Object.assign({}, first, { buffer: { items: 60 } }), 1000100);
            out.afterTooClose = chartSeries(history);
            out.keptSecond = addReport(history, second, 1002000);
            out.second = chartSeries(history);
            process.stdout.write(JSON.stringify(out));
            """)
        #expect(result["fields"] as? Bool == true, "the report has every field the script reads")
        #expect(result["keptFirst"] as? Bool == true)
        #expect(result["keptTooClose"] as? Bool == false, "a report within 250 ms of the last is not a point")
        let afterTooClose = try #require(result["afterTooClose"] as? [String: Any])
        #expect((afterTooClose["rates"] as? [[String: Any]])?.count == 2)
        #expect((afterTooClose["levels"] as? [[String: Any]])?.map { $0["buffer"] as? Int } == [60], "…but its levels are the newest")
        #expect(result["keptSecond"] as? Bool == true)
        let first1 = try #require(result["first"] as? [String: Any])
        let rates1 = try #require(first1["rates"] as? [[String: Any]])
        #expect(rates1.count == 2, "two points: a line, not nothing")
        #expect((first1["tps"] as? Double).map { abs($0 - 500) < 0.01 } == true, "5000 trades in 10 s: \(first1["tps"] ?? "-")")
        #expect((first1["rps"] as? Double).map { abs($0 - 400) < 0.01 } == true, "4000 rows in 10 s: \(first1["rps"] ?? "-")")
        #expect((first1["start"] as? Double).map { abs($0 - 990_000) < 1 } == true, "the span reaches back to the start")
        #expect((first1["levels"] as? [[String: Any]])?.first?["buffer"] as? Int == 50)

        let second2 = try #require(result["second"] as? [String: Any])
        #expect((second2["rates"] as? [[String: Any]])?.count == 4)
        #expect((second2["tps"] as? Double).map { abs($0 - 800) < 0.01 } == true, "1600 trades in 2 s: \(second2["tps"] ?? "-")")
        #expect((second2["rps"] as? Double).map { abs($0 - 750) < 0.01 } == true, "1500 rows in 2 s: \(second2["rps"] ?? "-")")
        #expect((second2["levels"] as? [[String: Any]])?.map { $0["buffer"] as? Int } == [60, 70])
    }

    @Test(
        "a long uptime seeds the window's start only; a restarted ingester starts the history again",
        .enabled(if: node != nil, "node is not installed: the series script is checked only for its wiring"))
    func seedLimitsAndRestart() throws {
        // 10 minutes up at 1000 trades/s: the seed sits 5 minutes back, at half the counters.
        let long = try Self.report(seen: 600_000, rows: 600_000, seconds: 600)
        let restarted = try Self.report(seen: 300, rows: 100, seconds: 1)
        let result = try Self.run(
            """
            const history = [];
            const out = {};
            const long = \(long), restarted = \(restarted);
            long.uptime_s = 600; restarted.uptime_s = 1;
            addReport(history, long, 1000000);
            out.long = chartSeries(history);
            addReport(history, restarted, 1001000);
            out.restarted = chartSeries(history);
            out.points = history.length;
            process.stdout.write(JSON.stringify(out));
            """)
        let long1 = try #require(result["long"] as? [String: Any])
        #expect((long1["tps"] as? Double).map { abs($0 - 1000) < 0.01 } == true, "\(long1["tps"] ?? "-")")
        #expect((long1["start"] as? Double).map { abs($0 - 700_000) < 1 } == true, "five minutes back, not ten")
        let restarted1 = try #require(result["restarted"] as? [String: Any])
        #expect((restarted1["tps"] as? Double).map { abs($0 - 300) < 0.01 } == true, "the new process's own rate: \(restarted1["tps"] ?? "-")")
        #expect(result["points"] as? Int == 2, "the seed and the new report; the old process's points are gone")
    }
}

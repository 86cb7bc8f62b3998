import Foundation
import IngestPipeline
import IngestService
import Testing

@testable import IngestStatus

/// The gap backfill at `/metrics` and on the dashboard (docs/operations.md §2): the
/// `ingest_backfill_*` families read from the report's `backfill` section.
@Suite("Backfill metrics and dashboard")
struct BackfillMetricsTests {
    /// A report from a real (in-memory) monitor, its backfill section as `snapshot` reads at `nowMicros`.
    static func report(_ snapshot: BackfillProgress.Snapshot?, nowMicros: Int64 = 0) -> HealthReport {
        let monitor = HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], marketHours: .always),
            stats: IngestStats(), buffer: RecordBuffer(capacity: 100, flushThreshold: 10), spool: nil,
            feed: FeedMonitor(configuration: .init()), database: DatabaseMonitor(flavor: "postgres"), errors: ErrorLog(secrets: []),
            healthEvents: HealthEventQueue())
        var report = monitor.report()
        if let snapshot { report.backfill = HealthReport.Backfill(snapshot, nowMicros: nowMicros) }
        return report
    }

    static let busy = BackfillProgress.Snapshot(
        state: .running, gapsWaiting: 2, gapsDone: 5, gapsPartial: 1, gapsFailed: 3, contractsMerged: 40, rowsInserted: 1234, requests: 57,
        rateLimited: 4, oldestWaitingSinceMicros: 1_000_000, lastError: "HTTP 503")

    /// The exposition's samples, by name with labels as printed (`name{label="value"}`).
    static func samples(_ exposition: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// The `# TYPE` of each family.
    static func types(_ exposition: String) -> [String: String] {
        var types: [String: String] = [:]
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
        }
        return types
    }

    static let families: [String: String] = [
        "ingest_backfill_state": "gauge", "ingest_backfill_gaps_waiting": "gauge", "ingest_backfill_lag_seconds": "gauge",
        "ingest_backfill_gaps_total": "counter", "ingest_backfill_contracts_merged_total": "counter",
        "ingest_backfill_rows_inserted_total": "counter", "ingest_backfill_requests_total": "counter",
        "ingest_backfill_rate_limited_total": "counter",
    ]

    @Test("the backfill's figures are exposed: gaps by outcome, merges, rows, requests, 429s, gaps waiting, the lag in seconds, the state")
    func exposed() {
        let text = IngestMetrics().exposition(for: Self.report(Self.busy, nowMicros: 91_500_000), sseClients: 0, sseDropped: 0)
        let samples = Self.samples(text)
        let expected: [String: Double] = [
            #"ingest_backfill_gaps_total{outcome="done"}"#: 5, #"ingest_backfill_gaps_total{outcome="partial"}"#: 1,
            #"ingest_backfill_gaps_total{outcome="failed"}"#: 3, "ingest_backfill_contracts_merged_total": 40,
            "ingest_backfill_rows_inserted_total": 1234, "ingest_backfill_requests_total": 57, "ingest_backfill_rate_limited_total": 4,
            "ingest_backfill_gaps_waiting": 2, "ingest_backfill_lag_seconds": 90.5,
            #"ingest_backfill_state{state="off"}"#: 0, #"ingest_backfill_state{state="idle"}"#: 0,
            #"ingest_backfill_state{state="waiting"}"#: 0, #"ingest_backfill_state{state="running"}"#: 1,
        ]
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(samples[name] == value, "\(name) in:\n\(text)")
        }
    }

    @Test("each backfill family is declared with help and the type its name promises")
    func declared() {
        let text = IngestMetrics().exposition(for: Self.report(Self.busy), sseClients: 0, sseDropped: 0)
        let types = Self.types(text)
        for (family, type) in Self.families.sorted(by: { $0.key < $1.key }) {
            #expect(types[family] == type, "\(family)")
            #expect(text.contains("# HELP \(family) "), "\(family) has help")
        }
    }

    @Test("the backfill counters advance by what changed between scrapes")
    func countersAdvance() {
        let metrics = IngestMetrics()
        _ = metrics.exposition(for: Self.report(Self.busy), sseClients: 0, sseDropped: 0)
        var later = Self.busy
        later.gapsDone += 2
        later.rowsInserted += 100
        later.oldestWaitingSinceMicros = nil
        later.state = .idle
        let samples = Self.samples(metrics.exposition(for: Self.report(later), sseClients: 0, sseDropped: 0))
        #expect(samples[#"ingest_backfill_gaps_total{outcome="done"}"#] == 7)
        #expect(samples["ingest_backfill_rows_inserted_total"] == 1334)
        #expect(samples["ingest_backfill_lag_seconds"] == 0, "no gap waits: no lag")
        #expect(samples[#"ingest_backfill_state{state="idle"}"#] == 1)
        #expect(samples[#"ingest_backfill_state{state="running"}"#] == 0)
    }

    @Test("with BACKFILL=off the state gauge says off and every count is 0")
    func off() {
        let samples = Self.samples(IngestMetrics().exposition(for: Self.report(nil), sseClients: 0, sseDropped: 0))
        #expect(samples[#"ingest_backfill_state{state="off"}"#] == 1)
        #expect(samples["ingest_backfill_gaps_waiting"] == 0)
        #expect(samples["ingest_backfill_lag_seconds"] == 0)
        #expect(samples["ingest_backfill_rows_inserted_total"] == 0)
    }

    @Test("every backfill family is named in docs/operations.md's /metrics list")
    func documented() throws {
        let operations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/operations.md")
        let text = try String(contentsOf: operations, encoding: .utf8)
        let metricsRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("| `/metrics` |") })
        for family in Self.families.keys.sorted() {
            #expect(metricsRow.contains("`\(family)`") || metricsRow.contains("`\(family){"), "\(family)")
        }
    }

    @Test("the dashboard has a backfill card, hidden until a report says the backfill is on")
    func dashboardCard() {
        let page = DashboardPage.html
        #expect(page.contains(#"<div class="card" id="backfill" hidden>"#))
        #expect(page.contains(#"$("backfill").hidden = !bf || bf.state === "off";"#))
        for id in ["bfstate", "bfwaiting", "bflag", "bfrows"] {
            #expect(page.contains(#"id="\#(id)""#), "the card shows \(id)")
            #expect(page.contains(#"$("\#(id)")"#), "the script fills \(id)")
        }
    }

    @Test("every backfill field the dashboard reads is one the report has")
    func dashboardFields() throws {
        let report = try JSONSerialization.jsonObject(with: JSONEncoder.health.encode(Self.report(Self.busy))) as? [String: Any]
        let section = try #require(report?["backfill"] as? [String: Any])
        let regex = try NSRegularExpression(pattern: #"\bbf\.([a-z_]+)"#)
        let page = DashboardPage.html
        let read = Set(
            regex.matches(in: page, range: NSRange(page.startIndex..., in: page)).compactMap { Range($0.range(at: 1), in: page).map { String(page[$0]) } })
        #expect(read.isSuperset(of: ["state", "gaps_waiting", "rows_inserted", "lag_ms"]), "the card shows state, gaps waiting, rows, lag")
        #expect(read.subtracting(section.keys) == [], "fields the page reads that the report lacks")
    }
}

import Foundation
import IngestDatabase
import IngestPipeline
import IngestTestSupport
import Testing

@testable import IngestService

/// The report's states are enums whose raw values are the JSON's strings (docs/health-report.schema.json).
@Suite("Health report coding")
struct HealthReportCodingTests {
    /// A report with every state away from its default, as `HealthMonitor` could build it.
    static let report = HealthReport(
        status: .degraded, role: .leader, reasons: ["database breaker half_open"], ts: "2025-12-03T14:30:00.000000Z", uptimeS: 65,
        version: "test", pid: 42,
        feed: .init(
            state: .streaming, url: "ws://127.0.0.1:1/options", connectedSince: "2025-12-03T14:29:00.000000Z", lastMessageAt: nil,
            secondsSinceMessage: nil, reconnects: 1, attempt: 0, subscriptions: ["T.*"], messages: 3,
            trades: .init(seen: 5, accepted: 4, filtered: 1, invalid: 0, dropped: 0), breaker: .halfOpen,
            events: .init(
                trade: .init(seen: 5, accepted: 4, written: 4), aggregate: .init(seen: 3, accepted: 3, written: 2),
                quote: .init(seen: 2, accepted: 1, invalid: 1, written: 1, dropped: 0))),
        buffer: .init(items: 0, capacity: 100, highWater: 7, flushes: 2, lastFlushSize: nil, lastFlushMs: nil),
        spool: .init(
            enabled: false, bytes: 0, records: 0, trades: 0, segments: 0, oldest: nil, corruptRecords: 0, writeFailures: 0, syncFailures: 0,
            quarantinedSegments: 0, vanishedSegments: 0),
        pending: .init(gapChangesDropped: 0, deadLettersDropped: 0, healthEventsDropped: 0),
        database: .init(
            flavor: "postgres", state: .degraded, breaker: .halfOpen, breakerSinceS: 2.5, rowsWritten: 4, batchesOk: 2, batchesFailed: 1,
            retries: 1, deadLetters: 0,
            lastError: .init(errorClass: .connection, sqlstate: "08006", message: "lost", at: "2025-12-03T14:29:59.000000Z"),
            writeLatencyP50Ms: nil, writeLatencyP99Ms: nil, commitLagP50Ms: nil, commitLagP99Ms: nil),
        backfill: .init(
            BackfillProgress.Snapshot(
                state: .running, gapsWaiting: 2, gapsDone: 5, gapsPartial: 1, gapsFailed: 1, contractsMerged: 40, rowsInserted: 1234,
                requests: 57, rateLimited: 3, oldestWaitingSinceMicros: 1_764_772_200_000_000, lastError: "HTTP 503 for O:SPY251219C00650000"),
            nowMicros: 1_764_772_261_500_250),
        symbols: .init(
            tracked: 2, watched: 2, marketOpen: true, healthy: 1, degraded: 0, stale: 1, critical: 0,
            worst: [.init(symbol: "O:SPY251219C00650000", state: .stale, stalenessS: 301, updates: 9)]),
        errors: [
            .rateLimit: .init(count: 2, perMinute: 2, lastAt: "2025-12-03T14:29:58.000000Z", lastMessage: "slow down"),
            .network: .init(count: 0, perMinute: 0, lastAt: nil, lastMessage: nil),
        ],
        system: .init(rssBytes: 1000, cpuPercent: 1.5, threads: 4, openFds: 9),
        alerts: [.init(alert: .dbConnectionLost, since: "2025-12-03T14:29:59.000000Z", values: ["breaker": "half_open"])])

    @Test("the report encodes its states by their names, byte for byte as when they were strings")
    func encodesStatesByName() throws {
        let expected = #"""
        {"alerts":[{"alert":"db_connection_lost","since":"2025-12-03T14:29:59.000000Z","values":{"breaker":"half_open"}}],
        "backfill":{"contracts_merged":40,"gaps_done":5,"gaps_failed":1,"gaps_partial":1,"gaps_waiting":2,"lag_ms":61500.25,
        "last_error":"HTTP 503 for O:SPY251219C00650000","rate_limited":3,"requests":57,"rows_inserted":1234,"state":"running"},
        "buffer":{"capacity":100,"flushes":2,"high_water":7,"items":0},"database":{"batches_failed":1,"batches_ok":2,
        "breaker":"half_open","breaker_since_s":2.5,"dead_letters":0,"flavor":"postgres",
        "last_error":{"at":"2025-12-03T14:29:59.000000Z","error_class":"connection","message":"lost","sqlstate":"08006"},
        "retries":1,"rows_written":4,"state":"degraded"},"errors":{"network":{"count":0,"per_minute":0},"rate_limit":{"count":2,
        "last_at":"2025-12-03T14:29:58.000000Z","last_message":"slow down","per_minute":2}},"feed":{"attempt":0,
        "breaker":"half_open","connected_since":"2025-12-03T14:29:00.000000Z",
        "events":{"aggregate":{"accepted":3,"dropped":0,"invalid":0,"seen":3,"written":2},"fmv":{"accepted":0,"dropped":0,"invalid":0,"seen":0,"written":0},
        "quote":{"accepted":1,"dropped":0,"invalid":1,"seen":2,"written":1},"trade":{"accepted":4,"dropped":0,"invalid":0,"seen":5,"written":4}},"messages":3,"reconnects":1,"state":"streaming",
        "subscriptions":["T.*"],"trades":{"accepted":4,"dropped":0,"filtered":1,"invalid":0,"seen":5},
        "url":"ws://127.0.0.1:1/options"},"pending":{"dead_letters_dropped":0,"gap_changes_dropped":0,
        "health_events_dropped":0},"pid":42,"reasons":["database breaker half_open"],"role":"leader","spool":{"bytes":0,
        "corrupt_records":0,"enabled":false,"quarantined_segments":0,"records":0,"segments":0,"sync_failures":0,
        "trades":0,"vanished_segments":0,"write_failures":0},"status":"degraded","symbols":{"critical":0,"degraded":0,"healthy":1,
        "market_open":true,"stale":1,"tracked":2,"watched":2,"worst":[{"staleness_s":301,"state":"stale",
        "symbol":"O:SPY251219C00650000","updates":9}]},"system":{"cpu_percent":1.5,"open_fds":9,"rss_bytes":1000,"threads":4},
        "ts":"2025-12-03T14:30:00.000000Z","uptime_s":65,"version":"test"}
        """#.replacingOccurrences(of: "\n", with: "")
        #expect(String(decoding: try JSONEncoder.health.encode(Self.report), as: UTF8.self) == expected)
    }

    /// A property of the schema, by its path of property names (`[]`: the array's items).
    static func schemaNode(_ path: [String]) throws -> [String: Any] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        var node = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in path {
            let next = key == "[]" ? node["items"] : (node["properties"] as? [String: Any])?[key]
            node = try #require(next as? [String: Any], "no \(key) in the schema")
        }
        return node
    }

    @Test(
        "each state's enum has exactly the names the schema allows",
        arguments: [
            (["status"], HealthStatus.allCases.map(\.rawValue)),
            (["role"], InstanceRole.Role.allCases.map(\.rawValue)),
            (["feed", "state"], FeedMonitor.Machine.Phase.allCases.map(\.rawValue)),
            (["feed", "breaker"], BreakerPhase.allCases.map(\.rawValue)),
            (["database", "state"], HealthReport.Database.State.allCases.map(\.rawValue)),
            (["database", "breaker"], BreakerPhase.allCases.map(\.rawValue)),
            (["backfill", "state"], HealthReport.Backfill.State.allCases.map(\.rawValue)),
            (["symbols", "worst", "[]", "state"], StalenessState.allCases.map(\.rawValue)),
        ])
    func enumsMatchSchema(path: [String], names: [String]) throws {
        #expect(Set(try #require(try Self.schemaNode(path)["enum"] as? [String])) == Set(names))
    }

    @Test("the schema's error classes are ErrorClass's names")
    func errorClassesMatchSchema() throws {
        let classes = try #require(try Self.schemaNode(["errors"])["properties"] as? [String: Any])
        #expect(Set(classes.keys) == Set(ErrorClass.allCases.map(\.rawValue)))
    }

    @Test("the golden report's backfill section is what the schema describes")
    func goldenBackfillValidates() throws {
        let schema = try SchemaValidator(schemaFile: repositoryRoot.appendingPathComponent("docs/health-report.schema.json"))
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder.health.encode(Self.report))
        // The fixture lists two error classes only, to keep the golden short: the `$.errors` findings are its own.
        #expect(schema.violations(of: object).filter { !$0.hasPrefix("$.errors") } == [])
    }

    @Test("the backfill section reports BackfillProgress's state, and encodes it as its word", arguments: HealthReport.Backfill.State.allCases)
    func backfillStateWords(state: HealthReport.Backfill.State) throws {
        let section = HealthReport.Backfill(.init(state: state), nowMicros: 0)
        #expect(section.state == state)
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder.health.encode(section)) as? [String: Any]
        #expect(object?["state"] as? String == state.rawValue)
    }

    @Test("a BackfillProgress off or just started reads as off or idle, nothing done and no lag")
    func backfillProgressFresh() {
        let off = HealthReport.Backfill(BackfillProgress(enabled: false, lagAlert: .seconds(60)).snapshot, nowMicros: 1_000_000)
        #expect(off == .off)
        #expect(off.state == .off)
        let idle = HealthReport.Backfill(BackfillProgress(enabled: true, lagAlert: .seconds(60)).snapshot, nowMicros: 1_000_000)
        #expect(idle.state == .idle)
        #expect(idle.lagMs == 0)
        #expect(idle.gapsWaiting == 0 && idle.rowsInserted == 0 && idle.lastError == nil)
    }

    @Test("the backfill lag is the oldest waiting gap's age at the report's time, in ms; the last error is masked")
    func backfillLagAndMask() {
        let errors = ErrorLog(secrets: ["the-api-key-123"])
        let snapshot = BackfillProgress.Snapshot(
            state: .waiting, gapsWaiting: 3, oldestWaitingSinceMicros: 10_000_000, lastError: "refused key the-api-key-123")
        let section = HealthReport.Backfill(snapshot, nowMicros: 12_500_500, mask: errors.mask)
        #expect(section.state == .waiting)
        #expect(section.gapsWaiting == 3)
        #expect(section.lagMs == 2500.5)
        #expect(section.lastError == "refused key ***")
        #expect(HealthReport.Backfill(snapshot, nowMicros: 9_000_000).lagMs == 0, "a clock stepped back gives no negative lag")
    }

    @Test("a database state follows its breaker", arguments: [
        (BreakerPhase.closed, HealthReport.Database.State.connected), (.halfOpen, .degraded), (.open, .disconnected),
    ])
    func databaseStateFromBreaker(breaker: BreakerPhase, state: HealthReport.Database.State) {
        #expect(HealthReport.Database.State(breaker: breaker) == state)
    }
}

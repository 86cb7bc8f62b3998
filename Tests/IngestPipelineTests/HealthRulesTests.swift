import Testing

@testable import IngestPipeline

/// docs/design.md §5.4 status rules, one condition at a time.
@Suite("Health status rules")
struct HealthRulesTests {
    /// Everything fine: streaming, breaker closed, nothing dropped, small buffer.
    static let fine = HealthConditions(
        feedStreaming: true, feedNotStreamingFor: nil, feedReconnecting: false, databaseBreaker: .closed,
        databaseBreakerOpenFor: nil, tradesDroppedRecently: false, bufferItems: 0, staleWatchedSymbols: 0,
        rssBytes: 100 * 1024 * 1024)

    static func with(_ change: (inout HealthConditions) -> Void) -> HealthConditions {
        var conditions = fine
        change(&conditions)
        return conditions
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var conditions: HealthConditions
        var status: HealthStatus
        var reasons: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "all fine", conditions: fine, status: .healthy, reasons: []),
        Case(
            name: "feed down 121 s",
            conditions: with { $0.feedStreaming = false; $0.feedNotStreamingFor = .seconds(121); $0.feedReconnecting = true },
            status: .unhealthy, reasons: ["feed_down_over_2m"]),
        Case(
            name: "feed down exactly 120 s is still only degraded",
            conditions: with { $0.feedStreaming = false; $0.feedNotStreamingFor = .seconds(120) },
            status: .degraded, reasons: ["feed_reconnecting"]),
        Case(
            name: "feed down 5 s",
            conditions: with { $0.feedStreaming = false; $0.feedNotStreamingFor = .seconds(5) },
            status: .degraded, reasons: ["feed_reconnecting"]),
        Case(
            name: "reconnecting flag alone", conditions: with { $0.feedReconnecting = true },
            status: .degraded, reasons: ["feed_reconnecting"]),
        Case(
            name: "breaker open 121 s",
            conditions: with { $0.databaseBreaker = .open; $0.databaseBreakerOpenFor = .seconds(121) },
            status: .unhealthy, reasons: ["db_breaker_open_over_2m"]),
        Case(
            name: "breaker half-open after 121 s out of closed",
            conditions: with { $0.databaseBreaker = .halfOpen; $0.databaseBreakerOpenFor = .seconds(121) },
            status: .unhealthy, reasons: ["db_breaker_open_over_2m"]),
        Case(
            name: "breaker open 10 s",
            conditions: with { $0.databaseBreaker = .open; $0.databaseBreakerOpenFor = .seconds(10) },
            status: .degraded, reasons: ["db_breaker_open"]),
        Case(
            name: "breaker half-open 40 s",
            conditions: with { $0.databaseBreaker = .halfOpen; $0.databaseBreakerOpenFor = .seconds(40) },
            status: .degraded, reasons: ["db_breaker_half_open"]),
        Case(
            name: "trades dropped", conditions: with { $0.tradesDroppedRecently = true },
            status: .unhealthy, reasons: ["trades_dropped"]),
        Case(
            name: "buffer 1001", conditions: with { $0.bufferItems = 1001 },
            status: .degraded, reasons: ["buffer_over_1000"]),
        Case(name: "buffer 1000", conditions: with { $0.bufferItems = 1000 }, status: .healthy, reasons: []),
        Case(
            name: "one stale symbol", conditions: with { $0.staleWatchedSymbols = 1 },
            status: .degraded, reasons: ["stale_symbols"]),
        Case(
            name: "RSS over 500 MB", conditions: with { $0.rssBytes = 500 * 1024 * 1024 + 1 },
            status: .degraded, reasons: ["rss_over_500mb"]),
        Case(
            name: "RSS exactly 500 MB", conditions: with { $0.rssBytes = 500 * 1024 * 1024 },
            status: .healthy, reasons: []),
    ]

    @Test("each condition alone gives its status and reason", arguments: cases)
    func single(_ testCase: Case) {
        let result = HealthRules().evaluate(testCase.conditions)
        #expect(result.status == testCase.status)
        #expect(result.reasons == testCase.reasons)
    }

    @Test("several conditions: the worst decides, every reason is listed, unhealthy ones first")
    func combined() {
        let conditions = Self.with {
            $0.bufferItems = 5000
            $0.tradesDroppedRecently = true
            $0.databaseBreaker = .open
            $0.databaseBreakerOpenFor = .seconds(3)
            $0.staleWatchedSymbols = 2
        }
        let result = HealthRules().evaluate(conditions)
        #expect(result.status == .unhealthy)
        #expect(result.reasons == ["trades_dropped", "db_breaker_open", "buffer_over_1000", "stale_symbols"])
    }

    @Test("a standby is not degraded by a feed it does not connect to on purpose; its database side still counts")
    func standbyIgnoresFeed() {
        let waiting = Self.with {
            $0.standby = true
            $0.feedStreaming = false
            $0.feedReconnecting = true
            $0.feedNotStreamingFor = .seconds(3600)
        }
        let calm = HealthRules().evaluate(waiting)
        #expect(calm.status == .healthy)
        #expect(calm.reasons.isEmpty)
        var broken = waiting
        broken.databaseBreaker = .open
        broken.databaseBreakerOpenFor = .seconds(300)
        let result = HealthRules().evaluate(broken)
        #expect(result.status == .unhealthy)
        #expect(result.reasons == ["db_breaker_open_over_2m"])
    }

    @Test("thresholds are tunable and the reason names follow them")
    func tunable() {
        let rules = HealthRules(thresholds: .init(feedDownUnhealthyAfter: .seconds(30), bufferDegradedAbove: 10))
        let result = rules.evaluate(Self.with { $0.feedStreaming = false; $0.feedNotStreamingFor = .seconds(31); $0.bufferItems = 11 })
        #expect(result.status == .unhealthy)
        #expect(result.reasons == ["feed_down_over_30s", "buffer_over_10"])
    }

    @Test("statuses order healthy < degraded < unhealthy and encode as their names")
    func ordering() {
        #expect(HealthStatus.healthy < .degraded)
        #expect(HealthStatus.degraded < .unhealthy)
        #expect([HealthStatus.degraded, .unhealthy, .healthy].max() == .unhealthy)
        #expect(HealthStatus.unhealthy.rawValue == "unhealthy")
    }
}

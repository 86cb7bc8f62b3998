@testable import FeedSimulator
import Foundation
import Testing

@Suite("REST API parts: query parsing, cursors, the archive, the rate limiter, the faults")
struct RestPartsTests {
    static func trade(_ q: Int64, t: Int64, sym: String = "O:SPY251219C00650000", conditions: [Int] = []) -> SimTrade {
        SimTrade(sym: sym, t: t, q: q, priceCents: 123, size: 5, x: 312, conditions: conditions, fault: nil)
    }

    @Test("bounds: ns integers as given, dates as whole UTC days, gt/lt exclusive, the tightest wins")
    func bounds() throws {
        let exact = try TradesQuery(parameters: ["timestamp.gte": "100", "timestamp.lt": "200"])
        #expect(exact.lower == 100 && exact.upper == 199)
        let open = try TradesQuery(parameters: ["timestamp.gt": "100", "timestamp.lte": "200", "timestamp": "150"])
        #expect(open.lower == 150 && open.upper == 150)
        let midnight: Int64 = 1_764_720_000_000_000_000
        let dayLength: Int64 = 86_400_000_000_000
        let day = try TradesQuery(parameters: ["timestamp": "2025-12-03"])
        #expect(day.lower == midnight)
        #expect(day.upper == midnight + dayLength - 1)
        let after = try TradesQuery(parameters: ["timestamp.gt": "2025-12-03"])
        #expect(after.lower == midnight + dayLength)
        let before = try TradesQuery(parameters: ["timestamp.lt": "2025-12-03"])
        #expect(before.upper == midnight - 1)
    }

    @Test("order defaults to desc, limit to 1000; bad values are 400s")
    func defaultsAndErrors() throws {
        let plain = try TradesQuery(parameters: [:])
        #expect(!plain.ascending && plain.limit == 1000)
        #expect(try TradesQuery(parameters: ["order": "asc", "sort": "timestamp", "limit": "50000"]).limit == 50_000)
        for bad in [["order": "up"], ["sort": "price"], ["limit": "50001"], ["limit": "0"], ["timestamp.gte": "yesterday"],
                    ["timestamp": "2025-13-01"], ["cursor": "!!"]] {
            #expect(throws: RestError.self) { try TradesQuery(parameters: bad) }
        }
        #expect(throws: RestError.self) { try SnapshotQuery(parameters: ["limit": "251"]) }
        #expect(try SnapshotQuery(parameters: [:]).limit == 10)
    }

    @Test("a cursor carries the query and where its page ended, URL-safe")
    func cursorRoundTrip() throws {
        let query = TradesQuery(lower: 5, upper: nil, ascending: true, limit: 7)
        let cursor = query.cursor(after: ArchiveKey(sip: 1_764_772_200_000_123_456, q: 42))
        #expect(!cursor.contains(where: { "+/=&?".contains($0) }))
        var expected = query
        expected.after = ArchiveKey(sip: 1_764_772_200_000_123_456, q: 42)
        #expect(try TradesQuery(parameters: ["cursor": cursor, "limit": "3"]) == expected)
        let snapshot = SnapshotQuery(limit: 3)
        #expect(try SnapshotQuery(parameters: ["cursor": snapshot.cursor(after: "O:SPY251219C00650000")])
            == SnapshotQuery(limit: 3, after: "O:SPY251219C00650000"))
    }

    @Test("sip_timestamp floors to t, participant_timestamp is a little earlier, conditions survive packing")
    func archivedTrade() {
        for q in Int64(1)...2000 {
            let trade = ArchivedTrade(Self.trade(q, t: 1_764_772_200_000 + q, conditions: q % 3 == 0 ? [] : [209, 233]))
            #expect(trade.sipTimestamp / 1_000_000 == trade.t)
            #expect(trade.participantTimestamp < trade.sipTimestamp)
            #expect(trade.sipTimestamp - trade.participantTimestamp <= 200_000)
            #expect(trade.conditions == (q % 3 == 0 ? [] : [209, 233]))
        }
    }

    @Test("the archive pages in both orders within bounds, leaves invalid trades out, and forgets the oldest past its cap")
    func archive() {
        var archive = StreamArchive(capacity: 50)
        for q in Int64(1)...60 { archive.append(Self.trade(q, t: 1000 + q)) }
        var invalid = Self.trade(61, t: 2000)
        invalid.fault = .zeroSize
        archive.append(invalid)
        #expect(archive.count == 50 && archive.forgotten == 10)
        let all = archive.trades(of: "O:SPY251219C00650000", lower: nil, upper: nil, ascending: true, after: nil, limit: 100)
        #expect(all.page.map(\.q) == Array(11...60) && !all.more)
        let first = archive.trades(of: "O:SPY251219C00650000", lower: nil, upper: nil, ascending: false, after: nil, limit: 20)
        #expect(first.page.map(\.q) == Array((41...60).reversed()) && first.more)
        let second = archive.trades(
            of: "O:SPY251219C00650000", lower: nil, upper: nil, ascending: false, after: first.page.last?.key, limit: 20)
        #expect(second.page.map(\.q) == Array((21...40).reversed()))
        let bounded = archive.trades(
            of: "O:SPY251219C00650000", lower: 1020 * 1_000_000, upper: 1025 * 1_000_000 + 999_999, ascending: true,
            after: nil, limit: 100)
        #expect(bounded.page.map(\.q) == Array(20...25))
        let summary = archive.snapshot(of: "SPY", after: nil, limit: 10).page
        #expect(summary.map(\.volume) == [300] && summary.first?.lastTrade.q == 60)
        #expect(archive.snapshot(of: "QQQ", after: nil, limit: 10).page.isEmpty)
    }

    @Test("trades of one millisecond sort by their SIP ns, whatever their q")
    func sameMillisecond() {
        var archive = StreamArchive()
        for q in Int64(1)...40 { archive.append(Self.trade(q, t: 1000)) }
        let page = archive.trades(of: "O:SPY251219C00650000", lower: nil, upper: nil, ascending: true, after: nil, limit: 100)
        #expect(page.page.map(\.key) == page.page.map(\.key).sorted())
        #expect(Set(page.page.map(\.q)) == Set(1...40))
    }

    @Test("a batch archived after a later one still sorts by time")
    func outOfOrder() {
        var archive = StreamArchive()
        for q in [Int64(5), 6, 1, 2, 7] { archive.append(Self.trade(q, t: 1000 + q)) }
        let page = archive.trades(of: "O:SPY251219C00650000", lower: nil, upper: nil, ascending: true, after: nil, limit: 10)
        #expect(page.page.map(\.q) == [1, 2, 5, 6, 7])
    }

    @Test("the rate limiter admits N at once, then N a second, on an injected clock")
    func rateLimiter() {
        let t0 = ContinuousClock.now
        var limiter = RequestRateLimiter(perSecond: 4)
        let burst = (0..<5).map { _ in limiter.admit(at: t0) }
        #expect(burst == [true, true, true, true, false])
        let spaced = [200, 250, 260].map { limiter.admit(at: t0.advanced(by: .milliseconds($0))) }
        #expect(spaced == [false, true, false])
        let later = t0.advanced(by: .seconds(10))
        let refilled = (0..<5).map { _ in limiter.admit(at: later) }
        #expect(refilled == [true, true, true, true, false])
    }

    @Test("faults: the next N as injected, then the seeded shares; the same seed, the same answers")
    func faults() {
        var faults = RestFaults(plan: RestFaults.Plan(), seed: 1)
        faults.inject(.error, count: 2)
        faults.inject(.slow, count: 1, delay: .milliseconds(30))
        let fates = (0..<3).map { _ in faults.next() }
        #expect(fates.map(\.answer) == [.error, .error, .normal])
        #expect(fates.map(\.delay) == [.milliseconds(30), nil, nil])
        faults.inject(.truncate, count: 1)
        let truncated = faults.next().answer
        #expect(truncated == .truncated)
        var plan = RestFaults.Plan()
        plan.errorFraction = 0.3
        plan.truncateFraction = 0.2
        var a = RestFaults(plan: plan, seed: 7)
        var b = RestFaults(plan: plan, seed: 7)
        let answers = (0..<1000).map { _ in a.next().answer }
        let again = (0..<1000).map { _ in b.next().answer }
        #expect(answers == again)
        #expect((250...350).contains(answers.count { $0 == .error }))
        #expect((150...250).contains(answers.count { $0 == .truncated }))
    }
}

import IngestDatabase
import Testing

@testable import IngestService

@Suite("Gap ledger")
struct GapLedgerTests {
    @Test("the first trade of a run closes gaps left open by an earlier run")
    func firstTradeClosesLeftovers() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 10)
        ledger.dataArrived(atMicros: 11)
        #expect(ledger.drain() == [.closed(atMicros: 10)])
    }

    @Test("a disconnect opens one gap; repeated failures while disconnected stay the same gap; data closes it")
    func openClose() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 1)
        ledger.open(atMicros: 100, reason: "connection reset")
        ledger.open(atMicros: 200, reason: "connect timeout")
        ledger.dataArrived(atMicros: 300)
        ledger.dataArrived(atMicros: 301)
        #expect(ledger.drain() == [.closed(atMicros: 1), .opened(atMicros: 100, reason: "connection reset"), .closed(atMicros: 300)])
        #expect(ledger.isEmpty)
    }

    @Test("a leader that loses its lock records no gap itself; leading again, its first trade closes the open gap")
    func leadershipLostRecordsNothing() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 1)
        _ = ledger.drain()
        ledger.leadershipLost()
        #expect(ledger.isEmpty, "the next leader records the gap, not the one that lost the lock")
        ledger.open(atMicros: 50, reason: "shutdown")
        #expect(ledger.isEmpty, "a gap is already open")
        ledger.dataArrived(atMicros: 100)
        #expect(ledger.drain() == [.closed(atMicros: 100)])
    }

    @Test("a new leader opens a failover gap at the table's last trade; its first trade closes it")
    func leadershipAcquiredOpensFailover() {
        let ledger = GapLedger()
        ledger.leadershipAcquired(gapStartMicros: 40, reason: "failover")
        ledger.dataArrived(atMicros: 90)
        ledger.dataArrived(atMicros: 91)
        #expect(ledger.drain() == [.opened(atMicros: 40, reason: "failover"), .closed(atMicros: 90)])
        ledger.leadershipLost()
        ledger.leadershipAcquired(gapStartMicros: nil, reason: "failover")
        ledger.dataArrived(atMicros: 200)
        #expect(ledger.drain() == [.closed(atMicros: 200)], "a gap row already open (a graceful handover's) is the gap")
    }

    @Test("events that could not be written go back in front, and the queue is bounded")
    func putBackAndBound() {
        let ledger = GapLedger(capacity: 3)
        ledger.dataArrived(atMicros: 1)
        ledger.open(atMicros: 2, reason: "a")
        let first = ledger.drain()
        ledger.dataArrived(atMicros: 3)
        ledger.putBack(first)
        #expect(ledger.drain() == [.closed(atMicros: 1), .opened(atMicros: 2, reason: "a"), .closed(atMicros: 3)])
        for time in stride(from: Int64(10), to: 20, by: 2) {
            ledger.open(atMicros: time, reason: "x")
            ledger.dataArrived(atMicros: time + 1)
        }
        #expect(ledger.drain().count == 3)
        #expect(ledger.dropped == 7)
    }
}

@Suite("Log throttle")
struct LogThrottleTests {
    @Test("one line per kind per minute, saying how many were held back")
    func throttle() {
        let throttle = LogThrottle<String>(period: .seconds(60))
        let t0 = ContinuousClock.now
        #expect(throttle.admit("malformed", now: t0) == 0)
        #expect(throttle.admit("malformed", now: t0.advanced(by: .seconds(1))) == nil)
        #expect(throttle.admit("binary", now: t0.advanced(by: .seconds(2))) == 0)
        #expect(throttle.admit("malformed", now: t0.advanced(by: .seconds(59))) == nil)
        #expect(throttle.admit("malformed", now: t0.advanced(by: .seconds(60))) == 2)
    }
}

import IngestDatabase
import Testing

@testable import IngestService

/// The events as text: `open REASON@START`, `close REASON@START at T`, `close-left-open WHICH at T`.
func described(_ events: [GapEvent]) -> [String] {
    events.map { event in
        switch event {
        case .opened(let row): "open \(row.reason)@\(row.startedAtMicros)"
        case .closed(let row, let time, _, _): "close \(row.reason)@\(row.startedAtMicros) at \(time)"
        case .closedLeftOpen(.every, let time, _, _): "close-left-open every at \(time)"
        case .closedLeftOpen(.ids(let ids), let time, _, _): "close-left-open \(ids) at \(time)"
        }
    }
}

func described(_ changes: GapChanges) -> [String] { described(changes.events) }

@Suite("Gap ledger")
struct GapLedgerTests {
    @Test("the first trade of a run closes every gap left open by an earlier run, once")
    func firstTradeClosesLeftovers() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 10)
        ledger.dataArrived(atMicros: 11)
        #expect(described(ledger.drain()) == ["close-left-open every at 10"])
    }

    @Test("a disconnect opens one gap; repeated failures while disconnected stay the same gap; data closes that row")
    func openClose() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 1)
        ledger.open(atMicros: 100, reason: "connection reset")
        ledger.open(atMicros: 200, reason: "connect timeout")
        ledger.dataArrived(atMicros: 300)
        ledger.dataArrived(atMicros: 301)
        let events = ledger.drain().events
        #expect(described(events) == ["close-left-open every at 1", "open connection reset@100", "close connection reset@100 at 300"])
        if case .opened(let opened) = events[1], case .closed(let closed, _, _, _) = events[2] {
            #expect(opened === closed, "the close names the row the open made")
        } else {
            Issue.record("unexpected events \(events)")
        }
        #expect(ledger.isEmpty)
    }

    @Test("a restart gap opened at start is closed, with every row left open, by the first trade")
    func restartGap() {
        let ledger = GapLedger()
        ledger.restarted(lastDataAt: .local(40))
        ledger.open(atMicros: 45, reason: "connection reset")
        ledger.dataArrived(atMicros: 90)
        #expect(described(ledger.drain()) == ["open restart@40", "close restart@40 at 90", "close-left-open every at 90"])
    }

    @Test("a leader that loses its lock drops the gap changes it has not written and records nothing until it leads again")
    func leadershipLostDropsPending() {
        let ledger = GapLedger()
        ledger.leadershipAcquired(gapStart: .local(40), reason: "failover")
        #expect(ledger.leadershipLost() == 1, "the unwritten failover open is dropped: written late it would stay open")
        #expect(ledger.isEmpty)
        ledger.open(atMicros: 50, reason: "connection reset")
        ledger.dataArrived(atMicros: 60)
        #expect(ledger.isEmpty, "a standby records nothing")
        ledger.leadershipAcquired(gapStart: nil, openGapIDs: [7, 9], reason: "failover")
        ledger.dataArrived(atMicros: 100)
        ledger.dataArrived(atMicros: 101)
        #expect(described(ledger.drain()) == ["close-left-open [7, 9] at 100"], "rows found open are closed by id")
        #expect(ledger.discarded == 1)
    }

    @Test("a gap that opened and closed while leading is kept when the lock is lost; a lone open or close is dropped")
    func finishedGapSurvives() {
        let ledger = GapLedger()
        ledger.leadershipAcquired(gapStart: .local(40), openGapIDs: [], reason: "failover")
        ledger.dataArrived(atMicros: 50)
        ledger.open(atMicros: 70, reason: "connection reset")
        #expect(ledger.leadershipLost() == 1)
        #expect(described(ledger.drain()) == ["open failover@40", "close failover@40 at 50"])

        let inherited = GapLedger()
        inherited.leadershipAcquired(gapStart: nil, openGapIDs: [3], reason: "failover")
        inherited.dataArrived(atMicros: 50)
        #expect(inherited.leadershipLost() == 1, "a late close of an inherited row could end the next leader's gap")
        #expect(inherited.isEmpty)
    }

    @Test("events drained before the lock was lost and put back after keep only finished gaps")
    func putBackAcrossLoss() {
        let ledger = GapLedger()
        ledger.leadershipAcquired(gapStart: .local(40), openGapIDs: [], reason: "failover")
        ledger.dataArrived(atMicros: 50)
        ledger.open(atMicros: 70, reason: "connection reset")
        let inFlight = ledger.drain().events
        ledger.leadershipLost()
        ledger.leadershipAcquired(gapStart: .local(80), reason: "failover")
        ledger.putBack(inFlight)
        #expect(described(ledger.drain()) == ["open failover@40", "close failover@40 at 50", "open failover@80"])
        #expect(ledger.discarded == 1)
    }

    @Test("a new leader opens a failover gap at the table's last trade; its first trade closes that row; open rows are the gap instead")
    func leadershipAcquiredOpensFailover() {
        let ledger = GapLedger()
        ledger.leadershipAcquired(gapStart: .local(40), reason: "failover")
        ledger.dataArrived(atMicros: 90)
        ledger.dataArrived(atMicros: 91)
        #expect(described(ledger.drain()) == ["open failover@40", "close failover@40 at 90"])
        ledger.leadershipLost()
        ledger.leadershipAcquired(gapStart: nil, openGapIDs: [12], reason: "failover")
        ledger.dataArrived(atMicros: 200)
        #expect(described(ledger.drain()) == ["close-left-open [12] at 200"], "a gap row already open (a graceful handover's) is the gap")
        ledger.leadershipLost()
        ledger.leadershipAcquired(gapStart: nil, openGapIDs: [], reason: "failover")
        ledger.dataArrived(atMicros: 300)
        #expect(ledger.isEmpty, "an empty table and no open row: nothing to record")
    }

    @Test("changes recorded while leading carry the term got with the lock; after the lock is lost, what is left carries none")
    func changesCarryTheFence() {
        let ledger = GapLedger()
        ledger.dataArrived(atMicros: 1)
        #expect(ledger.drain().fence == nil, "an instance that leads no pair writes unfenced")
        ledger.leadershipAcquired(gapStart: .local(40), reason: "failover", fence: 7)
        ledger.dataArrived(atMicros: 50)
        let led = ledger.drain()
        #expect(led.fence == 7)
        #expect(described(led) == ["open failover@40", "close failover@40 at 50"])
        ledger.open(atMicros: 60, reason: "connection reset")
        ledger.dataArrived(atMicros: 70)
        ledger.leadershipLost()
        let left = ledger.drain()
        #expect(described(left) == ["open connection reset@60", "close connection reset@60 at 70"])
        #expect(left.fence == nil, "a finished gap is true whoever leads: it is written after the loss, unfenced")
        ledger.leadershipAcquired(gapStart: nil, openGapIDs: [3], reason: "failover", fence: 9)
        ledger.dataArrived(atMicros: 80)
        #expect(ledger.drain().fence == 9)
    }

    @Test("a start after a crash opens the restart gap at the database's time, kept on the database's clock")
    func restartGapKeepsItsClock() {
        let ledger = GapLedger()
        ledger.restarted(lastDataAt: .database(40))
        guard case .opened(let row) = ledger.drain().events.first else {
            Issue.record("no restart gap opened")
            return
        }
        #expect(row.startedAt == .database(40))
    }

    @Test("events that could not be written go back in front, and the queue is bounded")
    func putBackAndBound() {
        let ledger = GapLedger(capacity: 3)
        ledger.dataArrived(atMicros: 1)
        ledger.open(atMicros: 2, reason: "a")
        let first = ledger.drain().events
        ledger.dataArrived(atMicros: 3)
        ledger.putBack(first)
        #expect(described(ledger.drain()) == ["close-left-open every at 1", "open a@2", "close a@2 at 3"])
        for time in stride(from: Int64(10), to: 20, by: 2) {
            ledger.open(atMicros: time, reason: "x")
            ledger.dataArrived(atMicros: time + 1)
        }
        #expect(ledger.drain().events.count == 3)
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

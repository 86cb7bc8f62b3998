import Testing

@testable import IngestPipeline

/// The active/standby election (docs/design.md §5.5): retry every 1 s, check every 1 s,
/// a 5 s lease; every transition driven with explicit instants.
@Suite("Leader election")
struct LeaderElectionTests {
    typealias Election = LeaderElection<ContinuousClock.Instant>
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    func leader(at seconds: Double = 0) -> Election {
        var election = Election()
        _ = election.lockAcquired(now: at(seconds))
        return election
    }

    @Test("a new instance is a standby and asks for the lock at once")
    func startsStandby() {
        let election = Election()
        #expect(election.state == .standby)
        #expect(election.start(now: at(0)) == [.retryAt(at(0))])
        #expect(election.leaseDeadline == nil)
    }

    @Test("a refused lock keeps the standby asking every retry interval")
    func refusedRetries() {
        var election = Election()
        #expect(election.lockRefused(now: at(0)) == [.retryAt(at(1))])
        #expect(election.lockRefused(now: at(1)) == [.retryAt(at(2))])
        #expect(election.state == .standby)
        #expect(election.terms == 0)
    }

    @Test("the acquired lock makes the standby leader: it starts the feed and checks the lock every check interval")
    func acquiredLeads() {
        var election = Election()
        #expect(election.lockAcquired(now: at(3)) == [.startFeed, .checkAt(at(4))])
        #expect(election.state == .leader(since: at(3), confirmed: at(3)))
        #expect(election.terms == 1)
        #expect(election.leaseDeadline == at(8))
        #expect(election.lockAcquired(now: at(4)) == [], "a second grant changes nothing")
    }

    @Test("a good check renews the lease and schedules the next check")
    func checkRenews() {
        var election = leader()
        #expect(election.leaseCheckOK(now: at(1)) == [.checkAt(at(2))])
        #expect(election.state == .leader(since: at(0), confirmed: at(1)))
        #expect(election.leaseDeadline == at(6))
    }

    @Test("a lost lock connection stops the feed at once, drops the connection and goes back to asking")
    func connectionLostStops() {
        var election = leader()
        _ = election.leaseCheckOK(now: at(1))
        #expect(election.lockConnectionLost(now: at(1.5)) == [.stopFeed, .release, .retryAt(at(2.5))])
        #expect(election.state == .standby)
    }

    @Test("a standby whose connection breaks reconnects at the next retry, with no feed action")
    func standbyConnectionLost() {
        var election = Election()
        #expect(election.lockConnectionLost(now: at(0)) == [.release, .retryAt(at(1))])
        #expect(election.state == .standby)
    }

    @Test("failed checks are tolerated within the lease: the leader keeps streaming and checks again, never past the deadline")
    func failedChecksWithinLease() {
        var election = leader()
        #expect(election.leaseCheckFailed(now: at(1)) == [.checkAt(at(2))])
        #expect(election.leaseCheckFailed(now: at(4.5)) == [.checkAt(at(5))], "the next check is at the lease deadline, not later")
        #expect(election.state == .leader(since: at(0), confirmed: at(0)))
    }

    @Test("a failed check at or after the lease deadline stops the feed and drops the connection")
    func failedCheckPastLease() {
        var election = leader()
        _ = election.leaseCheckOK(now: at(2))
        #expect(election.leaseCheckFailed(now: at(7)) == [.stopFeed, .release, .retryAt(at(8))])
        #expect(election.state == .standby)
    }

    @Test("the lease expires 5 s after the last good check when checks never answer; not a moment earlier")
    func leaseExpiry() {
        var election = leader()
        _ = election.leaseCheckOK(now: at(1))
        #expect(election.leaseExpired(now: at(5.9)) == [], "still within the lease")
        #expect(election.state == .leader(since: at(0), confirmed: at(1)))
        #expect(election.leaseExpired(now: at(6)) == [.stopFeed, .release, .retryAt(at(7))])
        #expect(election.state == .standby)
        #expect(election.leaseExpired(now: at(8)) == [], "a standby has no lease")
    }

    @Test("a leader that lost its lock becomes leader again on the next grant")
    func secondTerm() {
        var election = leader()
        _ = election.lockConnectionLost(now: at(1))
        #expect(election.lockRefused(now: at(2)) == [.retryAt(at(3))])
        #expect(election.lockAcquired(now: at(3)) == [.startFeed, .checkAt(at(4))])
        #expect(election.terms == 2)
    }

    @Test("shutdown: a leader stops the feed and releases; a standby only releases; afterwards nothing happens")
    func shutdown() {
        var leading = leader()
        #expect(leading.shutdown() == [.stopFeed, .release])
        #expect(leading.state == .stopped)
        var waiting = Election()
        #expect(waiting.shutdown() == [.release])
        #expect(waiting.shutdown() == [])
        #expect(waiting.start(now: at(1)) == [])
        #expect(waiting.lockRefused(now: at(1)) == [])
        #expect(waiting.lockConnectionLost(now: at(1)) == [])
        #expect(waiting.leaseCheckOK(now: at(1)) == [])
        #expect(waiting.lockAcquired(now: at(1)) == [.release], "a grant that arrives during shutdown is handed back")
        #expect(waiting.state == .stopped)
    }

    @Test("custom intervals: retry 250 ms, check 200 ms, lease 1 s")
    func customIntervals() {
        var election = Election(configuration: .init(retryInterval: .milliseconds(250), checkInterval: .milliseconds(200), lease: .seconds(1)))
        #expect(election.lockRefused(now: at(0)) == [.retryAt(at(0.25))])
        #expect(election.lockAcquired(now: at(0.25)) == [.startFeed, .checkAt(at(0.45))])
        #expect(election.leaseDeadline == at(1.25))
    }
}

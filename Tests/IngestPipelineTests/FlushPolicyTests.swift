import Testing

@testable import IngestPipeline

@Suite("Flush policy")
struct FlushPolicyTests {
    typealias Policy = FlushPolicy<ContinuousClock.Instant>
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("fewer than 100 waiting trades wait for the 5 s interval")
    func waitsForInterval() {
        var policy = Policy(now: t0)
        #expect(policy.decide(waiting: 99, now: at(1)) == .wait)
        #expect(policy.decide(waiting: 99, now: at(4.999)) == .wait)
        #expect(policy.deadline == at(5))
        #expect(policy.decide(waiting: 99, now: at(5)) == .flush(maximumItems: 10_000))
    }

    @Test("100 waiting trades flush at once, before the interval")
    func flushesAtThreshold() {
        var policy = Policy(now: t0)
        #expect(policy.decide(waiting: 100, now: at(0.1)) == .flush(maximumItems: 10_000))
    }

    @Test("no flush while one is in flight; the interval restarts when it finishes")
    func oneFlushAtATime() {
        var policy = Policy(now: t0)
        #expect(policy.decide(waiting: 500, now: at(1)) == .flush(maximumItems: 10_000))
        #expect(policy.decide(waiting: 5000, now: at(2)) == .wait)
        #expect(policy.deadline == nil)
        policy.flushFinished(now: at(3))
        #expect(policy.deadline == at(8))
        #expect(policy.decide(waiting: 10, now: at(7.9)) == .wait)
        #expect(policy.decide(waiting: 10, now: at(8)) == .flush(maximumItems: 10_000))
    }

    @Test("an empty buffer never flushes, however late")
    func emptyNeverFlushes() {
        var policy = Policy(now: t0)
        #expect(policy.decide(waiting: 0, now: at(60)) == .wait)
    }

    @Test("while draining every waiting trade flushes at once")
    func drainFlushesEverything() {
        var policy = Policy(configuration: .init(interval: .seconds(5), minimumBatch: 100, maximumBatch: 250), now: t0)
        policy.drain()
        #expect(policy.decide(waiting: 1, now: at(0.1)) == .flush(maximumItems: 250))
        #expect(policy.decide(waiting: 1, now: at(0.2)) == .wait)
        policy.flushFinished(now: at(0.3))
        #expect(policy.isDraining)
        #expect(policy.decide(waiting: 3, now: at(0.4)) == .flush(maximumItems: 250))
    }

    @Test("configuration keeps the batch cap at least the threshold")
    func configurationBounds() {
        let configuration = Policy.Configuration(interval: .seconds(1), minimumBatch: 0, maximumBatch: 0)
        #expect(configuration.minimumBatch == 1)
        #expect(configuration.maximumBatch == 1)
    }
}

import Testing

@testable import IngestPipeline

/// The database circuit breaker's numbers (docs/design.md §5.3: open after 5
/// consecutive failed operations, 30 s open, then one half-open probe).
@Suite("Database circuit breaker")
struct DatabaseBreakerTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    @Test("after 5 failures at t=0…4 s the breaker is open; at t=34 s it is half-open and lets one attempt through")
    func opensAfterFiveAndProbesAfterThirty() {
        var breaker = CircuitBreaker<ContinuousClock.Instant>(failureThreshold: 5, openDuration: .seconds(30))
        for second in 0..<4 {
            let allowed = breaker.allowsAttempt(now: at(Double(second)))
            #expect(allowed)
            breaker.recordFailure(now: at(Double(second)))
            #expect(breaker.state == .closed(consecutiveFailures: second + 1))
        }
        breaker.recordFailure(now: at(4))
        #expect(breaker.state == .open(until: at(34)))
        let whileOpen = breaker.allowsAttempt(now: at(33.9))
        #expect(!whileOpen, "no database calls while open")
        let halfOpen = breaker.allowsAttempt(now: at(34))
        #expect(halfOpen)
        #expect(breaker.state == .halfOpen(probing: true))
        let second = breaker.allowsAttempt(now: at(34.1))
        #expect(!second, "one probe at a time")
    }

    @Test("the half-open probe's success closes the breaker; its failure opens it for another 30 s")
    func probeDecides() {
        var breaker = CircuitBreaker<ContinuousClock.Instant>(failureThreshold: 5, openDuration: .seconds(30))
        for second in 0..<5 { breaker.recordFailure(now: at(Double(second))) }
        let allowed = breaker.allowsAttempt(now: at(34))
        #expect(allowed)
        breaker.recordFailure(now: at(35))
        #expect(breaker.state == .open(until: at(65)))
        let secondProbe = breaker.allowsAttempt(now: at(65))
        #expect(secondProbe)
        breaker.recordSuccess()
        #expect(breaker.state == .closed(consecutiveFailures: 0))
    }

    @Test("a success between failures resets the count: 4 failures, a success, 4 more keep it closed")
    func successResets() {
        var breaker = CircuitBreaker<ContinuousClock.Instant>(failureThreshold: 5, openDuration: .seconds(30))
        for second in 0..<4 { breaker.recordFailure(now: at(Double(second))) }
        breaker.recordSuccess()
        for second in 5..<9 { breaker.recordFailure(now: at(Double(second))) }
        #expect(breaker.state == .closed(consecutiveFailures: 4))
    }
}

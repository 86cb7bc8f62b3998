import Testing

@testable import IngestPipeline

/// The REST request pacer (docs/design.md §5.8.1: 10 requests/s, a 429 blocks everyone).
@Suite("Backfill request pacer")
struct BackfillPacerTests {
    let start = ContinuousClock.now
    func at(_ ms: Int64) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(ms)) }

    @Test("at 10/s with burst 1, requests wanted at once are spaced 100 ms apart")
    func spacing() {
        var pacer = RequestPacer<ContinuousClock.Instant>(requestsPerSecond: 10)
        #expect((0..<4).map { _ in pacer.reserve(now: at(0)) } == [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(300)])
        #expect(pacer.reserve(now: at(350)) == .milliseconds(50))
        #expect(pacer.reserve(now: at(2000)) == .zero, "after an idle time a request goes at once")
        #expect(pacer.reserve(now: at(2010)) == .milliseconds(90), "but only one: no saved-up burst")
    }

    @Test("no window of one second holds more than the rate, whenever requests come")
    func rateBound() {
        var pacer = RequestPacer<ContinuousClock.Instant>(requestsPerSecond: 10)
        var sent: [ContinuousClock.Instant] = []
        for ms in stride(from: Int64(0), to: 3000, by: 7) {
            let now = at(ms)
            sent.append(now.advanced(by: pacer.reserve(now: now)))
        }
        for (index, time) in sent.enumerated() {
            let inOneSecond = sent[index...].prefix { $0 < time.advanced(by: .seconds(1)) }.count
            #expect(inOneSecond <= 10)
        }
    }

    @Test("a burst of 3 lets three go at once after an idle time, then spaces")
    func burst() {
        var pacer = RequestPacer<ContinuousClock.Instant>(requestsPerSecond: 10, burst: 3)
        #expect((0..<5).map { _ in pacer.reserve(now: at(0)) } == [.zero, .zero, .zero, .milliseconds(100), .milliseconds(200)])
    }

    @Test("a 429's Retry-After blocks every later request until then, which then resume spaced")
    func blocked() {
        var pacer = RequestPacer<ContinuousClock.Instant>(requestsPerSecond: 10, burst: 5)
        #expect(pacer.reserve(now: at(0)) == .zero)
        pacer.blocked(until: at(5000))
        #expect(pacer.reserve(now: at(10)) == .milliseconds(4990))
        #expect(pacer.reserve(now: at(20)) == .milliseconds(5080))
        pacer.blocked(until: at(1000))
        #expect(pacer.reserve(now: at(30)) == .milliseconds(5170), "an earlier block changes nothing")
        #expect(pacer.reserve(now: at(9000)) == .zero)
    }

    @Test("a rate of 0 paces nothing")
    func unpaced() {
        var pacer = RequestPacer<ContinuousClock.Instant>(requestsPerSecond: 0)
        #expect((0..<3).map { _ in pacer.reserve(now: at(0)) } == [.zero, .zero, .zero])
    }
}

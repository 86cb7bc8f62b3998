import Testing

@testable import IngestPipeline

/// docs/design.md §5.4 `errors` by class: count, per-minute rate, last time.
@Suite("Error counts and rates")
struct ErrorRatesTests {
    typealias Rates = ErrorRates<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    @Test("every class is in the snapshot, at zero before any error")
    func everyClass() {
        let snapshot = Rates().snapshot(now: at(0))
        #expect(Set(snapshot.keys) == Set(ErrorClass.allCases))
        #expect(snapshot.values.allSatisfy { $0 == .init(count: 0, perMinute: 0, lastAt: nil, lastMessage: nil) })
        #expect(ErrorClass.rateLimit.rawValue == "rate_limit")
    }

    @Test("the rate counts the last 60 s and falls off after it; the count keeps growing")
    func slidingWindow() {
        var rates = Rates()
        rates.record(.network, message: "refused", now: at(0))
        rates.record(.network, message: "reset", now: at(30))
        #expect(rates.snapshot(now: at(59.9))[.network]?.perMinute == 2)
        #expect(rates.snapshot(now: at(60))[.network]?.perMinute == 1, "the t=0 error is a full window old")
        #expect(rates.snapshot(now: at(89.9))[.network]?.perMinute == 1)
        #expect(rates.snapshot(now: at(90))[.network]?.perMinute == 0)
        rates.record(.network, message: "timeout", now: at(200))
        let later = rates.snapshot(now: at(200))[.network]
        #expect(later == .init(count: 3, perMinute: 1, lastAt: at(200), lastMessage: "timeout"))
    }

    @Test("classes are counted apart, and the total adds them up")
    func perClass() {
        var rates = Rates()
        rates.record(.authentication, message: "bad key", now: at(1))
        rates.record(.database, message: "08006", now: at(2))
        rates.record(.database, message: "57P01", now: at(3))
        let snapshot = rates.snapshot(now: at(4))
        #expect(snapshot[.authentication]?.count == 1)
        #expect(snapshot[.database] == .init(count: 2, perMinute: 2, lastAt: at(3), lastMessage: "57P01"))
        #expect(snapshot[.network]?.count == 0)
        #expect(rates.totalPerMinute(now: at(4)) == 3)
        #expect(rates.totalPerMinute(now: at(61.5)) == 2)
        #expect(rates.totalPerMinute(now: at(63)) == 0)
    }

    @Test("many errors at once add to the count and the rate in one entry")
    func batch() {
        var rates = Rates()
        rates.record(.data, count: 50, message: "50 invalid trades", now: at(10))
        rates.record(.data, count: 0, message: "nothing", now: at(11))
        let snapshot = rates.snapshot(now: at(12))[.data]
        #expect(snapshot == .init(count: 50, perMinute: 50, lastAt: at(10), lastMessage: "50 invalid trades"))
        #expect(rates.storedEntries == 1)
    }

    @Test("a window other than 60 s is scaled to a per-minute rate")
    func scaled() {
        var rates = Rates(window: .seconds(30))
        rates.record(.network, count: 7, message: "x", now: at(0))
        #expect(rates.snapshot(now: at(10))[.network]?.perMinute == 14)
        #expect(rates.snapshot(now: at(30))[.network]?.perMinute == 0)
    }

    @Test("1 000 000 errors at one instant cost one entry")
    func burstFolds() {
        var rates = Rates()
        for _ in 0..<1_000_000 { rates.record(.data, message: "bad", now: at(5)) }
        #expect(rates.storedEntries == 1)
        #expect(rates.snapshot(now: at(5))[.data]?.perMinute == 1_000_000)
    }

    @Test("memory stays within maxRemembered after 1 000 000 records spread in time, oldest dropped first")
    func bounded() {
        var rates = Rates(maxRemembered: 100)
        var now = at(0)
        var most = 0
        let classes = ErrorClass.allCases
        for number in 0..<1_000_000 {
            // 200 ms apart, beyond the 100 ms folding: every record is a new entry.
            rates.record(classes[number % 5], message: "timeout", now: now)
            most = max(most, rates.storedEntries)
            now = now.advanced(by: .milliseconds(200))
        }
        #expect(most <= 100)
        let last = now.advanced(by: .milliseconds(-200))
        let snapshot = rates.snapshot(now: last)
        #expect(snapshot.values.reduce(0) { $0 + $1.count } == 1_000_000)
        // 300 errors fell in the last minute but only the newest 100 are remembered: the rate reads low, never high.
        #expect(rates.totalPerMinute(now: last) == 100)
    }

    @Test("expired entries are released as time moves on")
    func expiredReleased() {
        var rates = Rates()
        for second in 0..<600 { rates.record(.network, message: "x", now: at(Double(second))) }
        #expect(rates.storedEntries == 60)
    }
}

/// Which classes `error_rate_high` counts (docs/operations.md §1).
@Suite("Error rates: faults")
struct ErrorRatesFaultTests {
    let t0 = ContinuousClock.now

    @Test(
        "network, rate limit, authentication and database errors are faults; data (invalid feed data) is not",
        arguments: [(ErrorClass.network, true), (.rateLimit, true), (.authentication, true), (.database, true), (.data, false)])
    func faultClasses(_ errorClass: ErrorClass, _ isFault: Bool) {
        #expect(errorClass.isFault == isFault)
    }

    @Test("faultsPerMinute leaves data errors out; totalPerMinute has them all")
    func faultsPerMinute() {
        var rates = ErrorRates<ContinuousClock.Instant>()
        rates.record(.data, count: 300, message: "invalid trade: non_positive_price", now: t0)
        rates.record(.network, count: 2, message: "reset", now: t0)
        rates.record(.database, count: 3, message: "connection refused", now: t0)
        rates.record(.rateLimit, message: "slow_consumer", now: t0)
        rates.record(.authentication, message: "auth_failed", now: t0)
        #expect(rates.faultsPerMinute(now: t0) == 7)
        #expect(rates.totalPerMinute(now: t0) == 307)
        #expect(rates.faultsPerMinute(now: t0.advanced(by: .seconds(60))) == 0)
    }
}

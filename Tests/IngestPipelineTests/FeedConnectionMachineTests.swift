import Testing

@testable import IngestPipeline

@Suite("Backoff and circuit breaker")
struct BackoffAndBreakerTests {
    typealias Instant = ContinuousClock.Instant
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("nominal delays: 1 s, ×2 per failure, capped at 30 s")
    func nominal() {
        let backoff = Backoff()
        #expect((1...8).map { backoff.nominalDelay(afterFailures: $0) } == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
    }

    @Test("jitter only shortens, by at most 20 %", arguments: [0.0, 0.25, 0.5, 0.999])
    func jitterBounds(_ unit: Double) {
        let backoff = Backoff()
        for failures in 1...10 {
            let nominal = backoff.nominalDelay(afterFailures: failures)
            let delay = backoff.delay(afterFailures: failures, random: unit)
            #expect(delay <= nominal)
            #expect(delay >= nominal * 0.8)
        }
        let halfJitter = backoff.delay(afterFailures: 3, random: 0.5)
        #expect(halfJitter > .milliseconds(3599) && halfJitter < .milliseconds(3601))
    }

    @Test("the breaker opens after 3 failures, is half-open after 60 s, and one probe decides")
    func breaker() {
        var breaker = CircuitBreaker<Instant>(failureThreshold: 3, openDuration: .seconds(60))
        breaker.recordFailure(now: at(0))
        breaker.recordFailure(now: at(1))
        let r1 = breaker.allowsAttempt(now: at(2))
        #expect(r1)
        breaker.recordFailure(now: at(3))
        #expect(breaker.state == .open(until: at(63)))
        let r2 = breaker.allowsAttempt(now: at(62.9))
        #expect(!r2)
        let r3 = breaker.allowsAttempt(now: at(63))
        #expect(r3)
        #expect(breaker.state == .halfOpen(probing: true))
        let r4 = breaker.allowsAttempt(now: at(63.5))
        #expect(!r4, "half-open lets exactly one attempt through")
        breaker.recordFailure(now: at(64))
        #expect(breaker.state == .open(until: at(124)))
        let r5 = breaker.allowsAttempt(now: at(124))
        #expect(r5)
        breaker.recordSuccess()
        #expect(breaker.state == .closed(consecutiveFailures: 0))
    }

    @Test("a success resets the count of consecutive failures")
    func successResets() {
        var breaker = CircuitBreaker<Instant>(failureThreshold: 5, openDuration: .seconds(30))
        for second in 0..<4 { breaker.recordFailure(now: at(Double(second))) }
        breaker.recordSuccess()
        for second in 4..<8 { breaker.recordFailure(now: at(Double(second))) }
        #expect(breaker.state == .closed(consecutiveFailures: 4))
        breaker.recordFailure(now: at(8))
        #expect(breaker.state == .open(until: at(38)))
    }
}

@Suite("Feed connection state machine")
struct FeedConnectionMachineTests {
    typealias Machine = FeedConnectionMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    /// No jitter, no breaker: plain backoff arithmetic.
    func plain(maxAttempts: Int = 10) -> Machine {
        Machine(configuration: .init(backoff: Backoff(jitter: 0), maxReconnectAttempts: maxAttempts, breakerFailures: 1000))
    }

    @Test("every transition of a good connection: disconnected → connecting → authenticating → subscribing → streaming")
    func happyPath() {
        var machine = plain()
        #expect(machine.state == .disconnected)
        let r6 = machine.start(now: at(0))
        #expect(r6 == .connect)
        #expect(machine.state == .connecting(attempt: 1))
        machine.connected()
        #expect(machine.state == .authenticating)
        machine.authenticated()
        #expect(machine.state == .subscribing)
        machine.streaming(now: at(1))
        #expect(machine.state == .streaming(since: at(1)))
        let r7 = machine.start(now: at(2))
        #expect(r7 == .none, "only one connection attempt at a time")
    }

    @Test("failures back off 1, 2, 4, 8, 16, 30, 30 s and each wait ends in a new attempt")
    func backoffSequence() {
        var machine = plain(maxAttempts: 0)
        var now = 0.0
        let r8 = machine.start(now: at(now))
        #expect(r8 == .connect)
        var waits: [Double] = []
        for _ in 0..<7 {
            guard case .wait(let until) = machine.failed(.connection("refused"), now: at(now), random: 0) else {
                Issue.record("expected a wait")
                return
            }
            #expect(machine.state == .backoff(until: until))
            let seconds = Double(at(now).duration(to: until).components.seconds)
            waits.append(seconds)
            let r9 = machine.waitElapsed(now: until.advanced(by: .milliseconds(-1)))
            #expect(r9 == .none)
            now += seconds
            let r10 = machine.waitElapsed(now: at(now))
            #expect(r10 == .connect)
        }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30])
    }

    @Test("the attempt counter resets only after 30 s of streaming")
    func stableResets() {
        var machine = plain()
        _ = machine.start(now: at(0))
        for second in 0..<4 { _ = machine.failed(.connection("x"), now: at(Double(second * 100)), random: 0); _ = machine.waitElapsed(now: at(Double(second * 100 + 99))) }
        #expect(machine.failures == 4)
        machine.connected(); machine.authenticated(); machine.streaming(now: at(500))
        // Dropped after 29 s of streaming: still counts as the 5th failure (16 s).
        let r11 = machine.failed(.connection("drop"), now: at(529), random: 0)
        #expect(r11 == .wait(until: at(545)))
        #expect(machine.failures == 5)
        _ = machine.waitElapsed(now: at(545))
        machine.connected(); machine.authenticated(); machine.streaming(now: at(546))
        // After 30 s of streaming the count starts over: 1 s.
        let r12 = machine.failed(.connection("drop"), now: at(576), random: 0)
        #expect(r12 == .wait(until: at(577)))
        #expect(machine.failures == 1)
    }

    @Test("after WS_MAX_RECONNECT_ATTEMPTS failed reconnects it gives up; 0 never gives up")
    func attemptLimit() {
        var machine = plain(maxAttempts: 3)
        var now = 0.0
        _ = machine.start(now: at(now))
        var actions: [Machine.Action] = []
        for _ in 0..<4 {
            let action = machine.failed(.connection("refused"), now: at(now), random: 0)
            actions.append(action)
            if case .wait(let until) = action {
                now = Double(at(0).duration(to: until).components.seconds)
                _ = machine.waitElapsed(now: until)
            }
        }
        guard case .giveUp = actions.last else {
            Issue.record("expected giveUp, got \(actions)")
            return
        }
        #expect(actions.dropLast().allSatisfy { if case .wait = $0 { true } else { false } })
        #expect(machine.state.name == "failed")

        var unlimited = plain(maxAttempts: 0)
        _ = unlimited.start(now: at(0))
        for attempt in 0..<200 {
            guard case .wait(let until) = unlimited.failed(.connection("x"), now: at(Double(attempt * 40)), random: 0) else {
                Issue.record("gave up at attempt \(attempt)")
                return
            }
            _ = unlimited.waitElapsed(now: until)
        }
    }

    @Test("a rejected key gives up at once, without retrying")
    func rejected() {
        var machine = plain()
        _ = machine.start(now: at(0))
        machine.connected()
        let r13 = machine.failed(.rejected("auth_failed"), now: at(1), random: 0)
        #expect(r13 == .giveUp(reason: "auth_failed"))
        let r14 = machine.start(now: at(100))
        #expect(r14 == .none)
    }

    @Test("taken over by another client: back off at the cap")
    func takenOver() {
        var machine = plain()
        _ = machine.start(now: at(0))
        machine.connected(); machine.authenticated(); machine.streaming(now: at(1))
        let r15 = machine.failed(.takenOver("max_connections"), now: at(2), random: 0)
        #expect(r15 == .wait(until: at(32)))
    }

    @Test("three failed attempts open the connect breaker for 60 s; the half-open probe's failure reopens it")
    func connectBreaker() {
        var machine = Machine(configuration: .init(backoff: Backoff(jitter: 0), maxReconnectAttempts: 0))
        let r16 = machine.start(now: at(0))
        #expect(r16 == .connect)
        let r17 = machine.failed(.connection("refused"), now: at(0), random: 0)
        #expect(r17 == .wait(until: at(1)))
        let r18 = machine.waitElapsed(now: at(1))
        #expect(r18 == .connect)
        let r19 = machine.failed(.connection("refused"), now: at(1), random: 0)
        #expect(r19 == .wait(until: at(3)))
        let r20 = machine.waitElapsed(now: at(3))
        #expect(r20 == .connect)
        // Third failure: breaker open until 63 s, longer than the 4 s backoff.
        let r21 = machine.failed(.connection("refused"), now: at(3), random: 0)
        #expect(r21 == .wait(until: at(63)))
        #expect(machine.breaker.state.name == "open")
        let r22 = machine.waitElapsed(now: at(63))
        #expect(r22 == .connect)
        #expect(machine.breaker.state.name == "half_open")
        let r23 = machine.failed(.connection("refused"), now: at(64), random: 0)
        #expect(r23 == .wait(until: at(124)))
        let r24 = machine.waitElapsed(now: at(124))
        #expect(r24 == .connect)
        machine.connected(); machine.authenticated(); machine.streaming(now: at(125))
        #expect(machine.breaker.state.name == "closed")
    }
}

@Suite("Session watchdog")
struct SessionWatchdogTests {
    typealias Watchdog = SessionWatchdog<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("each handshake step has its own deadline", arguments: [
        (Watchdog.Phase.connecting, "connect timeout"), (.authenticating, "auth timeout"), (.subscribing, "subscribe timeout"),
    ])
    func stepDeadlines(_ phase: Watchdog.Phase, _ reason: String) {
        var watchdog = Watchdog(configuration: .init(connectTimeout: .seconds(5), authTimeout: .seconds(5), subscribeTimeout: .seconds(5)), now: at(0))
        watchdog.enter(phase, now: at(10))
        #expect(watchdog.nextCheck == at(15))
        let r25 = watchdog.check(now: at(14.9))
        #expect(r25 == .fine)
        guard case .abort(let text) = watchdog.check(now: at(15)) else {
            Issue.record("expected abort")
            return
        }
        #expect(text.hasPrefix(reason))
    }

    @Test("no data for 120 s raises stale once; data resolves it; 600 s of silence forces a reconnect")
    func staleness() {
        var watchdog = Watchdog(configuration: .init(), now: at(0))
        watchdog.enter(.streaming, now: at(0))
        let r26 = watchdog.check(now: at(119))
        #expect(r26 == .fine)
        let r27 = watchdog.check(now: at(120))
        #expect(r27 == .stale(silentFor: .seconds(120)))
        let r28 = watchdog.check(now: at(200))
        #expect(r28 == .fine, "the alert is raised once while open")
        watchdog.dataReceived(now: at(210))
        let r29 = watchdog.check(now: at(211))
        #expect(r29 == .recovered)
        let r30 = watchdog.check(now: at(300))
        #expect(r30 == .fine)
        let r31 = watchdog.check(now: at(330))
        #expect(r31 == .stale(silentFor: .seconds(120)))
        #expect(watchdog.nextCheck == at(810))
        let r32 = watchdog.check(now: at(809))
        #expect(r32 == .fine)
        let r33 = watchdog.check(now: at(810))
        #expect(r33 == .abort(reason: "no data for 600.0 seconds"))
    }
}

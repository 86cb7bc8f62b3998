/// The feed connection lifecycle (docs/design.md §5.1) as a value-type state machine
/// (docs/design.md §1.4): `disconnected → connecting → authenticating → subscribing →
/// streaming`, on any failure `→ backoff → connecting`, `failed` after the
/// attempt limit or a rejected key. It takes events with the time and answers
/// with what to do; the feed service performs the I/O and the waiting.
public struct FeedConnectionMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable {
        public var backoff: Backoff
        /// Consecutive failed attempts before giving up (docs/design.md §5.1 `WS_MAX_RECONNECT_ATTEMPTS`: 10; 0 = never).
        public var maxReconnectAttempts: Int
        /// Streaming this long resets the attempt counter (docs/design.md §5.1: 30 s).
        public var stablePeriod: Duration
        /// Connect breaker: opens after this many consecutive failed attempts (docs/design.md §5.1: 3)…
        public var breakerFailures: Int
        /// …and stays open this long (docs/design.md §5.1: 60 s).
        public var breakerOpenDuration: Duration

        public init(
            backoff: Backoff = Backoff(), maxReconnectAttempts: Int = 10, stablePeriod: Duration = .seconds(30),
            breakerFailures: Int = 3, breakerOpenDuration: Duration = .seconds(60)
        ) {
            self.backoff = backoff
            self.maxReconnectAttempts = max(0, maxReconnectAttempts)
            self.stablePeriod = stablePeriod
            self.breakerFailures = breakerFailures
            self.breakerOpenDuration = breakerOpenDuration
        }
    }

    /// A state without its data; the raw value is its name in reports, logs and metrics.
    public enum Phase: String, Sendable, CaseIterable, Codable {
        case disconnected, connecting, authenticating, subscribing, streaming, backoff, failed
    }

    public enum State: Sendable, Equatable {
        case disconnected
        case connecting(attempt: Int)
        case authenticating
        case subscribing
        case streaming(since: Instant)
        case backoff(until: Instant)
        case failed(reason: String)

        public var phase: Phase {
            switch self {
            case .disconnected: .disconnected
            case .connecting: .connecting
            case .authenticating: .authenticating
            case .subscribing: .subscribing
            case .streaming: .streaming
            case .backoff: .backoff
            case .failed: .failed
            }
        }

        /// The state's name in reports and logs.
        public var name: String { phase.rawValue }
    }

    public enum Action: Sendable, Equatable {
        /// Open a connection now.
        case connect
        /// Wait, then report `waitElapsed`.
        case wait(until: Instant)
        /// Stop for good: flush, then exit 75 (attempts exhausted) or 77 (key rejected).
        case giveUp(reason: String)
        /// Nothing to do.
        case none
    }

    /// How a connection ended, as far as the backoff cares.
    public enum Failure: Sendable, Equatable {
        /// Socket, timeout, protocol: back off normally.
        case connection(String)
        /// `max_connections`/`force_disconnect`: another client with this key took over; back off at the cap.
        case takenOver(String)
        /// `auth_failed`/`auth_timeout`: never retry.
        case rejected(String)

        public var reason: String {
            switch self {
            case .connection(let reason), .takenOver(let reason), .rejected(let reason): reason
            }
        }
    }

    public let configuration: Configuration
    public private(set) var state: State = .disconnected
    /// Consecutive failed attempts since the last stable streaming period.
    public private(set) var failures = 0
    /// Connections that were lost or failed, over the whole run.
    public private(set) var reconnects = 0
    public private(set) var breaker: CircuitBreaker<Instant>

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.breaker = CircuitBreaker(
            failureThreshold: configuration.breakerFailures, openDuration: configuration.breakerOpenDuration)
    }

    /// Start (or restart after a wait): connect if the breaker allows.
    public mutating func start(now: Instant) -> Action {
        switch state {
        case .disconnected, .backoff:
            guard breaker.allowsAttempt(now: now) else {
                let until = breaker.reopensAt() ?? now
                state = .backoff(until: until)
                return .wait(until: until)
            }
            state = .connecting(attempt: failures + 1)
            return .connect
        default:
            return .none
        }
    }

    /// The wait asked for by `.wait` is over.
    public mutating func waitElapsed(now: Instant) -> Action {
        guard case .backoff(let until) = state, now >= until else { return .none }
        return start(now: now)
    }

    /// TCP and WebSocket upgrade done, `connected` received: authenticating.
    public mutating func connected() {
        if case .connecting = state { state = .authenticating }
    }

    /// `auth_success` received and the subscription sent.
    public mutating func authenticated() {
        if state == .authenticating { state = .subscribing }
    }

    /// Subscription acknowledged or first data: streaming. Closes the breaker.
    public mutating func streaming(now: Instant) {
        switch state {
        case .subscribing, .authenticating, .connecting:
            state = .streaming(since: now)
            breaker.recordSuccess()
        default:
            break
        }
    }

    /// The connection ended or an attempt failed.
    public mutating func failed(_ failure: Failure, now: Instant, random unit: Double) -> Action {
        switch state {
        case .failed, .disconnected, .backoff:
            return .none
        case .streaming(let since):
            if since.duration(to: now) >= configuration.stablePeriod { failures = 0 }
        case .connecting, .authenticating, .subscribing:
            breaker.recordFailure(now: now)
        }
        reconnects += 1
        if case .rejected(let reason) = failure {
            state = .failed(reason: reason)
            return .giveUp(reason: reason)
        }
        failures += 1
        if configuration.maxReconnectAttempts > 0, failures > configuration.maxReconnectAttempts {
            let reason = "gave up after \(failures) consecutive failed attempts: \(failure.reason)"
            state = .failed(reason: reason)
            return .giveUp(reason: reason)
        }
        var delay = configuration.backoff.delay(afterFailures: failures, random: unit)
        if case .takenOver = failure { delay = configuration.backoff.maximum }
        var until = now.advanced(by: delay)
        if let reopens = breaker.reopensAt(), reopens > until { until = reopens }
        state = .backoff(until: until)
        return .wait(until: until)
    }

    /// Shutting down: no more connections.
    public mutating func stop() {
        state = .disconnected
    }
}

/// Where a circuit breaker is, without its data; the raw value is what
/// reports, logs and metrics show.
public enum BreakerPhase: String, Sendable, CaseIterable, Codable {
    case closed
    case open
    case halfOpen = "half_open"
}

/// A circuit breaker as a value-type state machine (docs/design.md §1.4): after
/// `failureThreshold` consecutive failures it opens for `openDuration`, during
/// which no attempt is allowed; then it is half-open and lets one attempt
/// through; that attempt's success closes it, its failure opens it again.
/// docs/design.md §5.1 (feed connect: 3 failures, 60 s) and §5.3 (database: 5, 30 s).
public struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: Instant)
        case halfOpen(probing: Bool)

        public var phase: BreakerPhase {
            switch self {
            case .closed: .closed
            case .open: .open
            case .halfOpen: .halfOpen
            }
        }

        /// The phase's name: "closed", "open" or "half_open".
        public var name: String { phase.rawValue }
    }

    public let failureThreshold: Int
    public let openDuration: Duration
    public private(set) var state: State = .closed(consecutiveFailures: 0)

    public init(failureThreshold: Int, openDuration: Duration) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = openDuration
    }

    /// Whether an attempt may start now. An open breaker whose time is up
    /// turns half-open and allows exactly one attempt.
    public mutating func allowsAttempt(now: Instant) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen(probing: true)
            return true
        case .halfOpen(let probing):
            if probing { return false }
            state = .halfOpen(probing: true)
            return true
        }
    }

    /// When the breaker lets the next attempt through (`nil`: now).
    public func reopensAt() -> Instant? {
        if case .open(let until) = state { return until }
        return nil
    }

    public mutating func recordSuccess() {
        state = .closed(consecutiveFailures: 0)
    }

    public mutating func recordFailure(now: Instant) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= failureThreshold ? .open(until: now.advanced(by: openDuration)) : .closed(consecutiveFailures: failures + 1)
        case .halfOpen, .open:
            state = .open(until: now.advanced(by: openDuration))
        }
    }
}

/// Decides when a live feed session has hung or gone quiet (docs/design.md §5.1):
/// each handshake step has a deadline; once streaming, no data for
/// `staleAfter` raises the `feed stale` alert and no data for
/// `reconnectAfter` forces a reconnect. Pure: it is given the time.
public struct SessionWatchdog<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// TCP connect + WebSocket upgrade + `connected` status (default 10 s).
        public var connectTimeout: Duration
        /// `auth` sent → `auth_success` (default 10 s).
        public var authTimeout: Duration
        /// `subscribe` sent → acknowledgement or first data (default 10 s).
        public var subscribeTimeout: Duration
        /// No data this long while streaming → `feed stale` alert (docs/design.md §5.1: 120 s).
        public var staleAfter: Duration
        /// No data this long → forced reconnect (docs/design.md §5.1: 600 s).
        public var reconnectAfter: Duration

        public init(
            connectTimeout: Duration = .seconds(10), authTimeout: Duration = .seconds(10),
            subscribeTimeout: Duration = .seconds(10), staleAfter: Duration = .seconds(120),
            reconnectAfter: Duration = .seconds(600)
        ) {
            self.connectTimeout = connectTimeout
            self.authTimeout = authTimeout
            self.subscribeTimeout = subscribeTimeout
            self.staleAfter = staleAfter
            self.reconnectAfter = reconnectAfter
        }
    }

    public enum Phase: String, Sendable, Equatable {
        case connecting, authenticating, subscribing, streaming
    }

    public enum Verdict: Sendable, Equatable {
        case fine
        /// Raise the stale alert once (the watchdog remembers it raised it).
        case stale(silentFor: Duration)
        /// The feed is back after a stale period: resolve the alert.
        case recovered
        /// Close the connection: this step or the silence took too long.
        case abort(reason: String)
    }

    public let configuration: Configuration
    public private(set) var phase: Phase = .connecting
    private var phaseStarted: Instant
    @usableFromInline var lastData: Instant
    private var staleRaised = false

    public init(configuration: Configuration, now: Instant) {
        self.configuration = configuration
        self.phaseStarted = now
        self.lastData = now
    }

    public mutating func enter(_ phase: Phase, now: Instant) {
        self.phase = phase
        phaseStarted = now
        if phase == .streaming { lastData = now }
    }

    /// Any frame from the feed. Inlined into the feed session (once per frame): specialized, no generic look-ups.
    @inlinable
    public mutating func dataReceived(now: Instant) {
        lastData = now
    }

    public var isStaleAlertOpen: Bool { staleRaised }

    /// The latest time the next `check` is due.
    public var nextCheck: Instant {
        switch phase {
        case .connecting: phaseStarted.advanced(by: configuration.connectTimeout)
        case .authenticating: phaseStarted.advanced(by: configuration.authTimeout)
        case .subscribing: phaseStarted.advanced(by: configuration.subscribeTimeout)
        case .streaming: lastData.advanced(by: staleRaised ? configuration.reconnectAfter : configuration.staleAfter)
        }
    }

    public mutating func check(now: Instant) -> Verdict {
        switch phase {
        case .connecting:
            return now >= phaseStarted.advanced(by: configuration.connectTimeout)
                ? .abort(reason: "connect timeout (\(configuration.connectTimeout))") : .fine
        case .authenticating:
            return now >= phaseStarted.advanced(by: configuration.authTimeout)
                ? .abort(reason: "auth timeout (\(configuration.authTimeout))") : .fine
        case .subscribing:
            return now >= phaseStarted.advanced(by: configuration.subscribeTimeout)
                ? .abort(reason: "subscribe timeout (\(configuration.subscribeTimeout))") : .fine
        case .streaming:
            let silence = lastData.duration(to: now)
            if silence >= configuration.reconnectAfter {
                return .abort(reason: "no data for \(configuration.reconnectAfter)")
            }
            if silence >= configuration.staleAfter {
                if staleRaised { return .fine }
                staleRaised = true
                return .stale(silentFor: silence)
            }
            if staleRaised {
                staleRaised = false
                return .recovered
            }
            return .fine
        }
    }
}

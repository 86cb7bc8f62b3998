/// Who may stream the feed when two (or more) ingesters share one database
/// (docs/design.md §5.5, `HA_MODE=leader`), as a value-type state machine (docs/design.md §1.4):
/// events from the lock connection come in with their instants, actions for
/// the feed and the lock come out. No sockets, no timers.
///
/// The lock is a session-level Postgres advisory lock held on a connection of
/// its own (`LeaderLock`). A standby asks for it every `retryInterval`; the
/// holder starts the feed and checks its lock every `checkInterval`. The
/// leader never streams while unsure: a lost lock connection stops the feed
/// at once; checks that fail without the connection being known dead (no
/// answer, an error on a live connection) are tolerated until `lease` has
/// passed since the last good one, then the feed stops and the connection is
/// dropped. The lease must be shorter than the time the server needs to notice
/// a vanished leader (its TCP keepalives), so that the old leader has stopped
/// before a standby can get the lock.
public struct LeaderElection<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// A standby asks for the lock this often (`HA_RETRY_MS`, 1 s): with the
        /// lock freed at once by a killed leader's closed socket, takeover is ~1–2 s.
        public var retryInterval: Duration
        /// The leader checks it still holds the lock this often (`HA_CHECK_MS`, 1 s).
        public var checkInterval: Duration
        /// A leader without a good check for this long stops streaming (`HA_LEASE_MS`, 5 s).
        public var lease: Duration

        public init(retryInterval: Duration = .seconds(1), checkInterval: Duration = .seconds(1), lease: Duration = .seconds(5)) {
            self.retryInterval = retryInterval
            self.checkInterval = checkInterval
            self.lease = lease
        }
    }

    public enum State: Sendable, Equatable {
        /// Connected to the database (or trying to be), not streaming, asking for the lock.
        case standby
        /// Holds the lock and streams; `confirmed`: the last good check.
        case leader(since: Instant, confirmed: Instant)
        /// Shutting down: no more attempts.
        case stopped

        public var name: String {
            switch self {
            case .standby: "standby"
            case .leader: "leader"
            case .stopped: "stopped"
            }
        }
    }

    public enum Action: Sendable, Equatable {
        /// Start streaming the feed (now the leader).
        case startFeed
        /// Stop streaming at once (no longer sure to be the leader, or shutting down).
        case stopFeed
        /// Give the lock back: unlock if the session lives, and close the lock connection.
        case release
        /// Ask for the lock at this instant.
        case retryAt(Instant)
        /// Check the held lock at this instant.
        case checkAt(Instant)
    }

    public let configuration: Configuration
    public private(set) var state: State = .standby
    /// How many times this instance became the leader.
    public private(set) var terms = 0

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The first attempt: at once.
    public func start(now: Instant) -> [Action] {
        state == .stopped ? [] : [.retryAt(now)]
    }

    /// `pg_try_advisory_lock` said yes.
    public mutating func lockAcquired(now: Instant) -> [Action] {
        switch state {
        case .standby:
            state = .leader(since: now, confirmed: now)
            terms += 1
            return [.startFeed, .checkAt(now.advanced(by: configuration.checkInterval))]
        case .leader:
            return []
        case .stopped:
            // Got it while shutting down: hand it straight back.
            return [.release]
        }
    }

    /// `pg_try_advisory_lock` said no (another instance leads), or the attempt
    /// could not be made (database unreachable): try again later.
    public mutating func lockRefused(now: Instant) -> [Action] {
        switch state {
        case .standby: [.retryAt(now.advanced(by: configuration.retryInterval))]
        case .leader, .stopped: []
        }
    }

    /// The lock connection is gone (or the server says the lock is not held):
    /// the server has freed the lock, another instance may hold it already.
    public mutating func lockConnectionLost(now: Instant) -> [Action] {
        switch state {
        case .leader:
            state = .standby
            return [.stopFeed, .release, .retryAt(now.advanced(by: configuration.retryInterval))]
        case .standby:
            return [.release, .retryAt(now.advanced(by: configuration.retryInterval))]
        case .stopped:
            return []
        }
    }

    /// A check confirmed the lock: the lease runs from `now`.
    public mutating func leaseCheckOK(now: Instant) -> [Action] {
        guard case .leader(let since, _) = state else { return [] }
        state = .leader(since: since, confirmed: now)
        return [.checkAt(now.advanced(by: configuration.checkInterval))]
    }

    /// A check failed on a connection not known to be dead (an error, a
    /// timeout): keep streaming until the lease runs out, checking again meanwhile.
    public mutating func leaseCheckFailed(now: Instant) -> [Action] {
        guard case .leader(_, let confirmed) = state else { return [] }
        let deadline = confirmed.advanced(by: configuration.lease)
        if now >= deadline { return leaseExpired(now: now) }
        let next = now.advanced(by: configuration.checkInterval)
        return [.checkAt(next < deadline ? next : deadline)]
    }

    /// The lease deadline passed without a good check (a check that never
    /// answered, too): stop streaming and drop the connection; standby again.
    public mutating func leaseExpired(now: Instant) -> [Action] {
        guard case .leader(_, let confirmed) = state, now >= confirmed.advanced(by: configuration.lease) else { return [] }
        state = .standby
        return [.stopFeed, .release, .retryAt(now.advanced(by: configuration.retryInterval))]
    }

    /// When the lease runs out without a good check; `nil` unless leading.
    public var leaseDeadline: Instant? {
        guard case .leader(_, let confirmed) = state else { return nil }
        return confirmed.advanced(by: configuration.lease)
    }

    /// SIGINT/SIGTERM. The caller releases the lock after the buffer is drained,
    /// so that the standby takes over only once everything this leader read is written.
    public mutating func shutdown() -> [Action] {
        defer { state = .stopped }
        switch state {
        case .leader: return [.stopFeed, .release]
        case .standby: return [.release]
        case .stopped: return []
        }
    }
}

import OptionsFeed
import Synchronization

/// What this instance is doing in an active/standby pair (docs/design.md §5.5), for the
/// health report (`role`), the status rules and the logs. Written by the
/// `LeaderService`, read by the health monitor; a short lock, no I/O under it.
public final class InstanceRole: Sendable {
    public enum Role: String, Sendable, Codable, Equatable, CaseIterable {
        /// `HA_MODE=off`: the only instance; it always streams.
        case single
        /// Holds the leader lock and streams the feed.
        case leader
        /// Connected to the database, waiting for the lock; does not connect to the feed.
        case standby
    }

    private let state: Mutex<(role: Role, sinceMicros: Int64)>
    private let wallClock: WallClock

    public init(_ role: Role = .single, wallClock: WallClock = .system) {
        self.wallClock = wallClock
        state = Mutex((role, wallClock.nowMicros()))
    }

    public var role: Role { state.withLock { $0.role } }

    /// The role and since when it holds (Unix µs).
    public var snapshot: (role: Role, sinceMicros: Int64) { state.withLock { $0 } }

    /// Sets the role; returns the previous one.
    @discardableResult
    public func set(_ role: Role, atMicros time: Int64? = nil) -> Role {
        let time = time ?? wallClock.nowMicros()
        return state.withLock { state in
            let previous = state.role
            if previous != role { state = (role, time) }
            return previous
        }
    }
}

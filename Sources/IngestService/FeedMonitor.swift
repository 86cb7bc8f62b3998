import IngestPipeline
import OptionsFeed
import Synchronization

/// The connection lifecycle shared by the feed service, the sessions it
/// runs and the health report: a lock around the state machine, plus since
/// when the state has held and the changes not yet written to
/// `websocket_health_logs`.
public final class FeedMonitor: Sendable {
    public typealias Machine = FeedConnectionMachine<ContinuousClock.Instant>

    /// One change of state, for `websocket_health_logs`.
    public struct Change: Sendable, Equatable {
        public var from: String
        public var to: String
        public var atMicros: Int64
        public var detail: String?
    }

    private struct State {
        var machine: Machine
        var since: ContinuousClock.Instant = .now
        var changes: [Change] = []
    }

    private let guarded: Mutex<State>
    private let wallClock: WallClock
    /// Changes kept while nobody drains them (the database is down for long): the oldest go first.
    static let maxPendingChanges = 1000

    /// - Parameter wallClock: stamps each change (`websocket_health_logs`).
    public init(configuration: Machine.Configuration, wallClock: WallClock = .system) {
        self.guarded = Mutex(State(machine: Machine(configuration: configuration)))
        self.wallClock = wallClock
    }

    public func withMachine<T>(_ body: (inout Machine) -> T) -> T {
        guarded.withLock { state in
            let before = state.machine.state
            let result = body(&state.machine)
            let after = state.machine.state
            if before.name != after.name {
                state.since = .now
                var detail: String?
                if case .failed(let reason) = after { detail = reason }
                state.changes.append(Change(from: before.name, to: after.name, atMicros: wallClock.nowMicros(), detail: detail))
                if state.changes.count > Self.maxPendingChanges { state.changes.removeFirst() }
            }
            return result
        }
    }

    public var state: Machine.State { guarded.withLock { $0.machine.state } }

    /// The machine and since when its state has held.
    public var snapshot: (machine: Machine, since: ContinuousClock.Instant) { guarded.withLock { ($0.machine, $0.since) } }

    /// The state changes since the last call, oldest first.
    public func drainChanges() -> [Change] {
        guarded.withLock { state in
            defer { state.changes.removeAll() }
            return state.changes
        }
    }
}

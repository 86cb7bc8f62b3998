import IngestDatabase
import Synchronization

/// Records every period without data (SPEC §5.1, §4 `feed_gaps`): a
/// disconnect opens a gap, the first trade after the reconnect closes it.
/// Events wait here until the flusher writes them through the same guarded
/// database path as trades; while the database is down they stay in memory
/// (bounded: the oldest are dropped past `capacity`, and counted).
public final class GapLedger: Sendable {
    private struct State {
        var pending: [GapEvent] = []
        /// A gap is open in the table (or may be, from an earlier run): the next trade closes it.
        var open = true
        var dropped = 0
    }

    private let state: Mutex<State>
    /// Most events kept while the database is unreachable.
    public let capacity: Int

    /// `startsOpen`: whether a gap may be open when the process starts (a
    /// live service: the time it was not running is one). A replay passes
    /// `false`: it streams no feed, so it neither opens nor closes gaps.
    public init(capacity: Int = 10_000, startsOpen: Bool = true) {
        self.capacity = capacity
        self.state = Mutex(State(open: startsOpen))
    }

    /// The feed stopped streaming. A gap already open stays the same gap.
    public func open(atMicros time: Int64, reason: String) {
        state.withLock { state in
            guard !state.open else { return }
            state.open = true
            append(.opened(atMicros: time, reason: reason), to: &state)
        }
    }

    /// At start: the service was not running since `time` (the newest
    /// `received_at` in the table), and no gap row is open to say so.
    public func restarted(lastDataAtMicros time: Int64) {
        state.withLock { state in
            append(.opened(atMicros: time, reason: "restart"), to: &state)
            state.open = true
        }
    }

    /// This instance stopped leading (issue 11): its feed stopped, but the gap
    /// is the next leader's to record (`leadershipAcquired`), not this one's,
    /// whose write could land after the new leader's first trade and stay open.
    /// Only marks a gap as open here, so that leading again closes it.
    public func leadershipLost() {
        state.withLock { $0.open = true }
    }

    /// This instance became the leader (issue 11). `gapStart`: when the table's
    /// newest trade was received, if no gap row is open; the period since then
    /// becomes a gap with `reason` ("failover"), which this leader's first trade closes.
    public func leadershipAcquired(gapStartMicros gapStart: Int64?, reason: String) {
        state.withLock { state in
            if let gapStart { append(.opened(atMicros: gapStart, reason: reason), to: &state) }
            state.open = true
        }
    }

    /// A trade arrived: closes the open gap, if any. Cheap when none is open.
    public func dataArrived(atMicros time: Int64) {
        state.withLock { state in
            guard state.open else { return }
            state.open = false
            append(.closed(atMicros: time), to: &state)
        }
    }

    public var isEmpty: Bool { state.withLock { $0.pending.isEmpty } }
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Takes the waiting events, oldest first.
    public func drain() -> [GapEvent] {
        state.withLock { state in
            defer { state.pending.removeAll() }
            return state.pending
        }
    }

    /// Puts events that could not be written back in front.
    public func putBack(_ events: [GapEvent]) {
        state.withLock { state in
            state.pending.insert(contentsOf: events, at: 0)
            trim(&state)
        }
    }

    private func append(_ event: GapEvent, to state: inout State) {
        state.pending.append(event)
        trim(&state)
    }

    private func trim(_ state: inout State) {
        let excess = state.pending.count - capacity
        if excess > 0 {
            state.pending.removeFirst(excess)
            state.dropped += excess
        }
    }
}

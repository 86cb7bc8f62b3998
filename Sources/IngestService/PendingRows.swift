import IngestDatabase
import Synchronization

/// Rows for a side table waiting for the flusher: dead letters (trades the
/// decoder rejected), health events. Kept in memory while the database is
/// down, bounded: past `capacity` the oldest are dropped and counted.
public final class PendingRows<Row: Sendable>: Sendable {
    private struct State {
        var pending: [Row] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    public func append(_ row: Row) {
        state.withLock { state in
            state.pending.append(row)
            if state.pending.count > capacity {
                state.pending.removeFirst(state.pending.count - capacity)
                state.dropped += 1
            }
        }
    }

    public var isEmpty: Bool { state.withLock { $0.pending.isEmpty } }
    public var dropped: Int { state.withLock { $0.dropped } }

    public func drain() -> [Row] {
        state.withLock { state in
            defer { state.pending.removeAll() }
            return state.pending
        }
    }

    public func putBack(_ rows: [Row]) {
        state.withLock { state in
            state.pending.insert(contentsOf: rows, at: 0)
            let excess = state.pending.count - capacity
            if excess > 0 {
                state.pending.removeLast(excess)
                state.dropped += excess
            }
        }
    }
}

/// Trades the decoder rejected, on their way to `dead_letters` (their count still shows in `trades_invalid`).
public typealias DeadLetterQueue = PendingRows<DeadLetter>

/// Staleness transitions and connection events, on their way to the health tables.
public typealias HealthEventQueue = PendingRows<HealthEvent>

import IngestDatabase
import Synchronization

/// Dead letters waiting for the flusher (trades the decoder rejected). Kept in
/// memory while the database is down, bounded: past `capacity` the oldest are
/// dropped and counted (their count still shows in `trades_invalid`).
public final class DeadLetterQueue: Sendable {
    private struct State {
        var pending: [DeadLetter] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    public func append(_ letter: DeadLetter) {
        state.withLock { state in
            state.pending.append(letter)
            if state.pending.count > capacity {
                state.pending.removeFirst(state.pending.count - capacity)
                state.dropped += 1
            }
        }
    }

    public var isEmpty: Bool { state.withLock { $0.pending.isEmpty } }
    public var dropped: Int { state.withLock { $0.dropped } }

    public func drain() -> [DeadLetter] {
        state.withLock { state in
            defer { state.pending.removeAll() }
            return state.pending
        }
    }

    public func putBack(_ letters: [DeadLetter]) {
        state.withLock { state in
            state.pending.insert(contentsOf: letters, at: 0)
            let excess = state.pending.count - capacity
            if excess > 0 {
                state.pending.removeLast(excess)
                state.dropped += excess
            }
        }
    }
}

import OptionsFeed
import Synchronization

/// The bounded in-memory queue between the feed reader and the writer
/// (docs/design.md §5.2). Safe to use from any task; no lock is held across I/O.
public final class TradeBuffer: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var items: Int
        public var capacity: Int
        public var highWater: Int
    }

    private struct State {
        var ring: RingBuffer<OptionTrade>
        var highWater = 0
    }

    private let state: Mutex<State>
    /// Wakes the flusher when at least `flushThreshold` trades wait.
    private let dataArrived = Wakeup()
    /// Wakes a reader waiting for room.
    private let spaceFreed = Wakeup()
    private let flushThreshold: Int

    /// `putBackRoom`: trades that may be handed back beyond `capacity` without
    /// reallocating (the writers' batches in flight: `FLUSH_MAX_BATCH` × `DB_POOL_SIZE`).
    public init(capacity: Int, flushThreshold: Int, putBackRoom: Int = 0) {
        self.state = Mutex(State(ring: RingBuffer(capacity: capacity, spareRoom: putBackRoom)))
        self.flushThreshold = max(1, flushThreshold)
    }

    public var count: Int { state.withLock { $0.ring.count } }

    /// The `received_at` of the trade at the front (the oldest waiting: the
    /// buffer is in receive order, a batch handed back goes to the front); `nil` when empty.
    public var oldestReceivedAtMicros: Int64? { state.withLock { $0.ring.first?.receivedAtMicros } }

    public var snapshot: Snapshot {
        state.withLock { Snapshot(items: $0.ring.count, capacity: $0.ring.capacity, highWater: $0.highWater) }
    }

    /// Appends as many trades as fit and returns how many were taken.
    public func append(contentsOf trades: [OptionTrade]) -> Int {
        append(contentsOf: trades[...])
    }

    /// Not generic on purpose: across the module boundary a generic would copy
    /// each trade through protocol witnesses, unspecialized (docs/performance.md).
    public func append(contentsOf trades: ArraySlice<OptionTrade>) -> Int {
        let (taken, waiting) = state.withLock { state in
            let taken = state.ring.append(contentsOf: trades)
            state.highWater = max(state.highWater, state.ring.count)
            return (taken, state.ring.count)
        }
        if waiting >= flushThreshold { dataArrived.signal() }
        return taken
    }

    /// Appends every trade, waiting for room while the buffer is full
    /// (backpressure on the feed reader: nothing is dropped). Returns how many
    /// it took: fewer than all only when the waiting task was cancelled (a
    /// shutdown), and then the caller counts the rest as dropped.
    public func appendWaiting(_ trades: [OptionTrade]) async -> Int {
        var remaining = trades[...]
        while !remaining.isEmpty {
            let taken = append(contentsOf: remaining)
            remaining = remaining.dropFirst(taken)
            if !remaining.isEmpty {
                if Task.isCancelled { break }
                await spaceFreed.wait()
            }
        }
        return trades.count - remaining.count
    }

    /// Waits until `count` more trades fit, or the buffer is empty (for a
    /// frame larger than the whole buffer). A replay reads a file far faster
    /// than a database writes: it waits here for the writer instead of
    /// overflowing to the spool the way a live feed, which cannot wait, does.
    public func waitForRoom(for count: Int) async throws {
        while true {
            let fits = state.withLock { $0.ring.isEmpty || $0.ring.freeSpace >= count }
            if fits { return }
            try Task.checkCancellation()
            await spaceFreed.wait()
        }
    }

    /// Removes up to `maximum` trades from the front.
    public func take(upTo maximum: Int) -> [OptionTrade] {
        let batch = state.withLock { $0.ring.removeFirst(upTo: maximum) }
        if !batch.isEmpty { spaceFreed.signal() }
        return batch
    }

    /// Puts a batch that could not be written back at the front.
    public func putBack(_ batch: [OptionTrade]) {
        state.withLock { $0.ring.prepend(contentsOf: batch) }
    }

    /// Waits until at least the flush threshold of trades wait, or the task is cancelled.
    public func waitForData() async {
        await dataArrived.wait()
    }

    /// Wakes the flusher now (shutdown, timers).
    public func wakeFlusher() {
        dataArrived.signal()
    }
}

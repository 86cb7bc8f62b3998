import OptionsFeed
import Synchronization

/// The bounded in-memory queue between the feed reader and the writer
/// (docs/design.md §5.2), for every record type: one ring per type, one
/// capacity and one flush threshold counted over all of them. A batch taken
/// holds one type: the type whose oldest record waits longest, so that every
/// type is written in the order it came. Safe to use from any task; no lock
/// is held across I/O.
public final class RecordBuffer: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var items: Int
        public var capacity: Int
        public var highWater: Int
    }

    private struct State {
        /// Trades, the bulk of a feed; each ring's memory follows what waits of its type.
        var ring: RingBuffer<OptionTrade>
        var aggregates: RingBuffer<OptionAggregate>
        var quotes: RingBuffer<OptionQuote>
        var fairValues: RingBuffer<OptionFMV>
        let capacity: Int
        var highWater = 0

        var count: Int { ring.count + others }
        var others: Int { aggregates.count + quotes.count + fairValues.count }
        var freeSpace: Int { max(0, capacity - count) }

        /// The type whose front record was received first; `nil` when all are empty.
        var oldestKind: RecordKind? {
            if others == 0 { return ring.isEmpty ? nil : .trade }
            var oldest: (kind: RecordKind, micros: Int64)?
            func consider(_ kind: RecordKind, _ micros: Int64?) {
                guard let micros, oldest.map({ micros < $0.micros }) ?? true else { return }
                oldest = (kind, micros)
            }
            consider(.trade, ring.first?.receivedAtMicros)
            consider(.aggregate, aggregates.first?.receivedAtMicros)
            consider(.quote, quotes.first?.receivedAtMicros)
            consider(.fmv, fairValues.first?.receivedAtMicros)
            return oldest?.kind
        }

        mutating func append(_ batch: RecordBatch) -> Int {
            let room = freeSpace
            let taken: Int
            switch batch {
            case .trades(let rows): taken = ring.append(contentsOf: rows, room: room)
            case .aggregates(let rows): taken = aggregates.append(contentsOf: rows, room: room)
            case .quotes(let rows): taken = quotes.append(contentsOf: rows, room: room)
            case .fairValues(let rows): taken = fairValues.append(contentsOf: rows, room: room)
            }
            highWater = max(highWater, count)
            return taken
        }

        mutating func take(upTo maximum: Int) -> RecordBatch {
            switch oldestKind {
            case nil: .trades([])
            case .trade: .trades(ring.removeFirst(upTo: maximum))
            case .aggregate: .aggregates(aggregates.removeFirst(upTo: maximum))
            case .quote: .quotes(quotes.removeFirst(upTo: maximum))
            case .fmv: .fairValues(fairValues.removeFirst(upTo: maximum))
            }
        }

        mutating func putBack(_ batch: RecordBatch) {
            switch batch {
            case .trades(let rows): ring.prepend(contentsOf: rows)
            case .aggregates(let rows): aggregates.prepend(contentsOf: rows)
            case .quotes(let rows): quotes.prepend(contentsOf: rows)
            case .fairValues(let rows): fairValues.prepend(contentsOf: rows)
            }
        }
    }

    private let state: Mutex<State>
    /// Wakes the flusher when at least `flushThreshold` records wait.
    private let dataArrived = Wakeup()
    /// Wakes a reader waiting for room.
    private let spaceFreed = Wakeup()
    private let flushThreshold: Int

    public init(capacity: Int, flushThreshold: Int) {
        self.state = Mutex(
            State(
                ring: RingBuffer(capacity: capacity), aggregates: RingBuffer(capacity: capacity),
                quotes: RingBuffer(capacity: capacity), fairValues: RingBuffer(capacity: capacity),
                capacity: max(1, capacity)))
        self.flushThreshold = max(1, flushThreshold)
    }

    /// Records of every type waiting.
    public var count: Int { state.withLock { $0.count } }

    /// Waiting records by type.
    public var counts: [RecordKind: Int] {
        state.withLock { [.trade: $0.ring.count, .aggregate: $0.aggregates.count, .quote: $0.quotes.count, .fmv: $0.fairValues.count] }
    }

    /// The `received_at` of the oldest record waiting (each type's ring is in
    /// receive order, a batch handed back goes to its front); `nil` when empty.
    public var oldestReceivedAtMicros: Int64? {
        state.withLock { state in
            [state.ring.first?.receivedAtMicros, state.aggregates.first?.receivedAtMicros, state.quotes.first?.receivedAtMicros,
             state.fairValues.first?.receivedAtMicros].compactMap { $0 }.min()
        }
    }

    public var snapshot: Snapshot {
        state.withLock { Snapshot(items: $0.count, capacity: $0.capacity, highWater: $0.highWater) }
    }

    /// Appends as many trades as fit and returns how many were taken.
    public func append(contentsOf trades: [OptionTrade]) -> Int {
        append(contentsOf: trades[...])
    }

    /// Not generic on purpose: across the module boundary a generic would copy
    /// each trade through protocol witnesses, unspecialized (docs/performance.md).
    public func append(contentsOf trades: ArraySlice<OptionTrade>) -> Int {
        let (taken, waiting) = state.withLock { state in
            let taken = state.ring.append(contentsOf: trades, room: state.freeSpace)
            let waiting = state.count
            state.highWater = max(state.highWater, waiting)
            return (taken, waiting)
        }
        if waiting >= flushThreshold { dataArrived.signal() }
        return taken
    }

    /// Appends as many records of the batch as fit and returns how many were taken.
    public func append(_ batch: RecordBatch) -> Int {
        let (taken, waiting) = state.withLock { state in (state.append(batch), state.count) }
        if waiting >= flushThreshold { dataArrived.signal() }
        return taken
    }

    /// Appends every record of the batch, waiting for room while the buffer is full
    /// (backpressure on the feed reader: nothing is dropped). Returns how many
    /// it took: fewer than all only when the waiting task was cancelled (a
    /// shutdown), and then the caller counts the rest as dropped.
    public func appendWaiting(_ batch: RecordBatch) async -> Int {
        var remaining = batch
        var taken = 0
        while !remaining.isEmpty {
            let now = append(remaining)
            taken += now
            remaining = remaining.dropFirst(now)
            if !remaining.isEmpty {
                if Task.isCancelled { break }
                await spaceFreed.wait()
            }
        }
        return taken
    }

    /// Waits until `count` more records fit, or the buffer is empty (for a
    /// frame larger than the whole buffer). A replay reads a file far faster
    /// than a database writes: it waits here for the writer instead of
    /// overflowing to the spool the way a live feed, which cannot wait, does.
    public func waitForRoom(for count: Int) async throws {
        while true {
            let fits = state.withLock { $0.count == 0 || $0.freeSpace >= count }
            if fits { return }
            try Task.checkCancellation()
            await spaceFreed.wait()
        }
    }

    /// Removes up to `maximum` records of one type from the front of that
    /// type's ring: the type whose oldest record waits longest.
    public func take(upTo maximum: Int) -> RecordBatch {
        let batch = state.withLock { $0.take(upTo: maximum) }
        if !batch.isEmpty { spaceFreed.signal() }
        return batch
    }

    /// Everything waiting, one batch per type.
    public func takeAll() -> [RecordBatch] {
        var batches: [RecordBatch] = []
        while true {
            let batch = take(upTo: Int.max)
            if batch.isEmpty { return RecordBatch.grouped(batches) }
            batches.append(batch)
        }
    }

    /// Puts a batch that could not be written back at the front of its type's ring.
    public func putBack(_ batch: RecordBatch) {
        state.withLock { $0.putBack(batch) }
    }

    /// Waits until at least the flush threshold of records wait, or the task is cancelled.
    public func waitForData() async {
        await dataArrived.wait()
    }

    /// Wakes the flusher now (shutdown, timers).
    public func wakeFlusher() {
        dataArrived.signal()
    }
}

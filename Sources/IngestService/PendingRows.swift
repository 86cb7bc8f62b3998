import IngestDatabase
import IngestPipeline
import Synchronization

/// Rows for a side table waiting for the flusher: dead letters (trades the
/// decoder rejected), health events. Kept in memory while the database is
/// down, bounded, with the drop policy of every pending queue
/// (`PendingQueue`: past `capacity` the oldest are dropped and counted).
public final class PendingRows<Row: Sendable>: Sendable {
    private let queue: Mutex<PendingQueue<Row>>
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
        self.queue = Mutex(PendingQueue(capacity: capacity))
    }

    public func append(_ row: Row) {
        queue.withLock { $0.append(row) }
    }

    public var isEmpty: Bool { queue.withLock { $0.isEmpty } }
    public var dropped: Int { queue.withLock { $0.dropped } }

    public func drain() -> [Row] {
        queue.withLock { $0.drain() }
    }

    public func putBack(_ rows: [Row]) {
        queue.withLock { $0.putBack(rows) }
    }
}

/// Trades the decoder rejected, on their way to `dead_letters` (their count still shows in `trades_invalid`).
public typealias DeadLetterQueue = PendingRows<DeadLetter>

/// Staleness transitions and connection events, on their way to the health tables.
public typealias HealthEventQueue = PendingRows<HealthEvent>

import DequeModule

/// Side-table rows waiting for the database (gap changes, dead letters,
/// health events), oldest first, kept in memory while it is down and bounded
/// by `capacity`.
///
/// One drop policy for every such queue: **past `capacity` the oldest rows
/// go**, whether the excess comes from a new row or from a batch handed back
/// after a failed write (which is older than anything queued since), and
/// every row dropped is counted in `dropped`. The newest are kept because
/// they describe the present and a later row can stand for an earlier one:
/// a gap's close kept without its open matches no row and changes nothing,
/// while an open kept without its close (had the newest gone) would leave a
/// finished gap open for ever; the latest dead letters and health events are
/// the ones an operator is looking into. (Trades are not side-table rows: the
/// trade buffer refuses new trades instead, see `RingBuffer`.)
public struct PendingQueue<Element> {
    public let capacity: Int
    private var rows: Deque<Element> = []
    /// Rows dropped past `capacity` so far.
    public private(set) var dropped = 0

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// Queues `row` behind the others, dropping the oldest past `capacity`.
    public mutating func append(_ row: Element) {
        rows.append(row)
        trim()
    }

    /// Puts rows taken by `drain` back in front, in their order, dropping the
    /// oldest past `capacity` (those are among them).
    public mutating func putBack(_ taken: some Collection<Element>) {
        rows.insert(contentsOf: taken, at: rows.startIndex)
        trim()
    }

    /// Takes every row, oldest first.
    public mutating func drain() -> [Element] {
        defer { rows.removeAll() }
        return Array(rows)
    }

    private mutating func trim() {
        let excess = rows.count - capacity
        guard excess > 0 else { return }
        rows.removeFirst(excess)
        dropped += excess
    }
}

import DequeModule

/// A FIFO queue with a soft capacity: appends stop at `capacity`, but a batch
/// handed back to the front after a failed write is always taken (docs/design.md §5.2:
/// a failed batch goes back in front of the queue, never dropped).
///
/// A real ring (swift-collections' `Deque`, its room reserved once): taken
/// elements are released at once and the storage never grows past the
/// capacity, except for a batch handed back. (An array with a moving head
/// kept taken trades alive until it compacted and grew to ~4× the capacity:
/// ~100 MB of RSS for 200 000 trades, docs/performance.md.)
public struct RingBuffer<Element> {
    public let capacity: Int
    private var storage: Deque<Element>

    /// `spareRoom`: storage reserved beyond `capacity` for batches handed back
    /// to a full buffer (one per writer connection), so that handing them back
    /// never reallocates the storage: growing it doubled the buffer's memory
    /// during a database outage's drain (docs/performance.md).
    /// `reserved: false` reserves nothing: the storage grows as elements come
    /// (the rings of record types a feed may never send).
    public init(capacity: Int, spareRoom: Int = 0, reserved: Bool = true) {
        self.capacity = max(1, capacity)
        storage = reserved ? Deque(minimumCapacity: self.capacity + max(0, spareRoom)) : Deque()
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    public var freeSpace: Int { max(0, capacity - count) }
    /// The element at the front, the next `removeFirst` returns.
    public var first: Element? { storage.first }

    /// Appends as many elements as fit; returns how many were taken.
    @discardableResult
    public mutating func append(contentsOf elements: some Collection<Element>) -> Int {
        append(contentsOf: elements, room: freeSpace)
    }

    /// Appends as many elements as fit in `room` (a capacity shared with other rings); returns how many were taken.
    @discardableResult
    public mutating func append(contentsOf elements: some Collection<Element>, room: Int) -> Int {
        let taken = min(max(0, room), elements.count)
        guard taken > 0 else { return 0 }
        storage.append(contentsOf: elements.prefix(taken))
        return taken
    }

    /// Removes and returns up to `maximum` elements from the front.
    public mutating func removeFirst(upTo maximum: Int) -> [Element] {
        let taken = min(maximum, count)
        guard taken > 0 else { return [] }
        let batch = Array(storage.prefix(taken))
        storage.removeFirst(taken)
        return batch
    }

    /// Puts elements back at the front, ahead of everything waiting, whatever the capacity.
    public mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        storage.prepend(contentsOf: elements)
    }
}

extension RingBuffer: Sendable where Element: Sendable {}

import DequeModule

/// A FIFO queue with a soft capacity: appends stop at `capacity`, but a batch
/// handed back to the front after a failed write is always taken (docs/design.md §5.2:
/// a failed batch goes back in front of the queue, never dropped).
///
/// A real ring (swift-collections' `Deque`): taken elements are released at
/// once. (An array with a moving head kept taken trades alive until it
/// compacted and grew to ~4× the capacity: ~100 MB of RSS for 200 000
/// trades, docs/performance.md.) Its storage grows with what waits, not
/// with the capacity: a ring reserved whole at start was all resident after
/// one lap (7.7 MB for 100 000 trades, minutes at 500 trades/s), however
/// little waited. It doubles up to `capacity` + the spare room, never past
/// it but for a batch handed back beyond that, and is let go when the ring
/// empties with more than `keptRoom` reserved (after an outage's backlog).
public struct RingBuffer<Element> {
    public let capacity: Int
    /// What the storage grows to at most in one step: `capacity` + the spare room.
    private let fullRoom: Int
    /// The storage's reserved elements (the `Deque` may have a little more).
    private(set) var room = 0
    private var storage: Deque<Element> = []

    /// The first reservation: 256 elements (16 KiB of trades).
    static var initialRoom: Int { 256 }
    /// Reserved elements kept when the ring empties: 16 384 (1 MiB of trades), a
    /// few batches; more is let go, so a backlog's storage does not outlive it.
    static var keptRoom: Int { 16_384 }

    /// `spareRoom`: room beyond `capacity` for batches handed back to a full
    /// buffer (one per writer connection), so that the storage's last growth
    /// makes room for them too and handing them back does not reallocate it
    /// again (growing it then doubled the buffer's memory during a database
    /// outage's drain, docs/performance.md).
    public init(capacity: Int, spareRoom: Int = 0) {
        self.capacity = max(1, capacity)
        fullRoom = self.capacity + max(0, spareRoom)
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
        makeRoom(for: taken)
        storage.append(contentsOf: elements.prefix(taken))
        return taken
    }

    /// Removes and returns up to `maximum` elements from the front.
    public mutating func removeFirst(upTo maximum: Int) -> [Element] {
        let taken = min(maximum, count)
        guard taken > 0 else { return [] }
        let batch = Array(storage.prefix(taken))
        storage.removeFirst(taken)
        if storage.isEmpty, room > Self.keptRoom {
            storage = []
            room = 0
        }
        return batch
    }

    /// Puts elements back at the front, ahead of everything waiting, whatever the capacity.
    public mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        makeRoom(for: elements.count)
        storage.prepend(contentsOf: elements)
    }

    /// Reserves room for `added` more: the room doubled (the first time `initialRoom`)
    /// until it holds them, at most `capacity` + the spare room unless more is needed.
    private mutating func makeRoom(for added: Int) {
        let needed = storage.count + added
        guard needed > room else { return }
        var grown = max(Self.initialRoom, room * 2)
        while grown < needed { grown *= 2 }
        room = max(needed, min(fullRoom, grown))
        storage.reserveCapacity(room)
    }
}

extension RingBuffer: Sendable where Element: Sendable {}

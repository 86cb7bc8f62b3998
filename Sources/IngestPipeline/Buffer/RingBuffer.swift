import DequeModule

/// A FIFO queue with a soft capacity: appends stop at `capacity`, but a batch
/// handed back to the front after a failed write is always taken (docs/design.md §5.2:
/// a failed batch goes back in front of the queue, never dropped).
///
/// Its storage is a queue of chunks of `chunkElements` (256 KiB of elements
/// each), so the memory follows what waits, chunk by chunk, and never more:
/// - a chunk is allocated as the last fills and freed once its last element is
///   taken (one emptied chunk is kept for the next appends, so a trickle reuses
///   one chunk forever);
/// - nothing is ever copied to grow: a storage that doubled copied what waited
///   into one twice its size, both resident at once, and a ring laps all of
///   its reserved room (docs/performance.md);
/// - a batch handed back becomes a chunk of its own as it is, without a copy;
/// - being 256 KiB, a chunk is a mapping of its own (the service fixes glibc's
///   mmap threshold there), returned to the system when freed, not a hole in a heap.
///
/// A taken element stays referenced by its chunk until the chunk is freed: at
/// most one chunk's worth (an array with a moving head kept taken trades alive
/// until it compacted: ~100 MB of RSS for 200 000 trades, docs/performance.md).
public struct RingBuffer<Element> {
    public let capacity: Int
    /// Oldest first. Appends go to the last; the first is read from `head` on.
    private var chunks: Deque<[Element]> = []
    /// Elements of the first chunk already taken.
    private var head = 0
    /// An emptied chunk kept for the next append.
    private var spare: [Element]?
    public private(set) var count = 0

    /// Elements a chunk holds: 256 KiB of them (4 096 trades), at least 16.
    static var chunkElements: Int { max(16, 262_144 / max(1, MemoryLayout<Element>.stride)) }

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var isEmpty: Bool { count == 0 }
    public var freeSpace: Int { max(0, capacity - count) }
    /// The element at the front, the next `removeFirst` returns.
    public var first: Element? { count == 0 ? nil : chunks[chunks.startIndex][head] }

    /// Elements the storage has room for, the kept chunk included: what the ring costs in memory.
    var reservedElements: Int { chunks.reduce(spare?.capacity ?? 0) { $0 + $1.capacity } }

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
        var from = elements.startIndex
        var remaining = taken
        while remaining > 0 {
            let last = openLastChunk()
            let n = min(remaining, Self.chunkElements - chunks[last].count)
            let to = elements.index(from, offsetBy: n)
            chunks[last].append(contentsOf: elements[from..<to])
            from = to
            remaining -= n
        }
        count += taken
        return taken
    }

    /// Removes and returns up to `maximum` elements from the front.
    public mutating func removeFirst(upTo maximum: Int) -> [Element] {
        let taken = min(maximum, count)
        guard taken > 0 else { return [] }
        // A batch handed back and taken again whole is returned as it is (a chunk of the ring's own is
        // copied from: it is kept for the next appends, and a batch of a few trades should not hold 256 KiB).
        if head == 0, chunks[chunks.startIndex].count == taken, !Self.isChunkSized(chunks[chunks.startIndex]) {
            count -= taken
            return chunks.removeFirst()
        }
        var batch: [Element] = []
        batch.reserveCapacity(taken)
        var remaining = taken
        while remaining > 0 {
            let first = chunks.startIndex
            let n = min(remaining, chunks[first].count - head)
            batch.append(contentsOf: chunks[first][head..<head + n])
            head += n
            remaining -= n
            if head == chunks[first].count { releaseFirstChunk() }
        }
        count -= taken
        return batch
    }

    /// Puts elements back at the front, ahead of everything waiting, whatever the capacity.
    public mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        if head > 0 {
            // Rare (a write failed): what is left of the first chunk becomes a chunk of its own size,
            // so that the room of its taken elements is not held until it is taken.
            chunks[chunks.startIndex] = Array(chunks[chunks.startIndex][head...])
            head = 0
        }
        chunks.prepend(elements)
        count += elements.count
    }

    /// The index of a last chunk with room: the current one, the kept one, or a new one.
    private mutating func openLastChunk() -> Int {
        if let last = chunks.indices.last, chunks[last].count < Self.chunkElements, chunks[last].capacity >= Self.chunkElements {
            return last
        }
        if let chunk = spare {
            // Emptied when it was kept.
            spare = nil
            chunks.append(chunk)
        } else {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkElements)
            chunks.append(chunk)
        }
        return chunks.index(before: chunks.endIndex)
    }

    /// A chunk the ring allocated, not a batch handed back (the allocator may round its room up a little).
    private static func isChunkSized(_ chunk: [Element]) -> Bool {
        chunk.capacity >= chunkElements && chunk.capacity < chunkElements + chunkElements / 8
    }

    /// The first chunk is all taken: free it, or keep it for the next appends if none is kept.
    private mutating func releaseFirstChunk() {
        var chunk = chunks.removeFirst()
        head = 0
        guard spare == nil, Self.isChunkSized(chunk) else { return }
        chunk.removeAll(keepingCapacity: true)
        spare = chunk
    }
}

extension RingBuffer: Sendable where Element: Sendable {}

/// A FIFO queue with a soft capacity: appends stop at `capacity`, but a batch
/// handed back to the front after a failed write is always taken (SPEC §5.2:
/// a failed batch goes back in front of the queue, never dropped).
public struct RingBuffer<Element> {
    public let capacity: Int
    private var storage: ContiguousArray<Element> = []
    private var head = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { storage.count - head }
    public var isEmpty: Bool { count == 0 }
    public var freeSpace: Int { max(0, capacity - count) }

    /// Appends as many elements as fit; returns how many were taken.
    @discardableResult
    public mutating func append(contentsOf elements: some Collection<Element>) -> Int {
        let taken = min(freeSpace, elements.count)
        guard taken > 0 else { return 0 }
        compactIfWorthIt()
        storage.append(contentsOf: elements.prefix(taken))
        return taken
    }

    /// Removes and returns up to `maximum` elements from the front.
    public mutating func removeFirst(upTo maximum: Int) -> [Element] {
        let taken = min(maximum, count)
        guard taken > 0 else { return [] }
        let batch = Array(storage[head..<head + taken])
        head += taken
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return batch
    }

    /// Puts elements back at the front, ahead of everything waiting, whatever the capacity.
    public mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        if head >= elements.count {
            head -= elements.count
            storage.replaceSubrange(head..<head + elements.count, with: elements)
        } else {
            storage.replaceSubrange(0..<head, with: elements)
            head = 0
        }
    }

    private mutating func compactIfWorthIt() {
        if head > 0, head >= storage.count / 2 {
            storage.removeSubrange(0..<head)
            head = 0
        }
    }
}

extension RingBuffer: Sendable where Element: Sendable {}

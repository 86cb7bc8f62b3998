import Testing

@testable import IngestPipeline

@Suite("Pending queue")
struct PendingQueueTests {
    @Test("past its capacity a new row drops the oldest, counted")
    func appendDropsOldest() {
        var queue = PendingQueue<Int>(capacity: 3)
        for row in 1...5 { queue.append(row) }
        #expect(queue.dropped == 2)
        #expect(queue.drain() == [3, 4, 5])
        #expect(queue.isEmpty)
    }

    @Test("rows handed back go in front, and past the capacity the oldest of them are dropped")
    func putBackDropsOldest() {
        var queue = PendingQueue<Int>(capacity: 4)
        queue.append(1)
        queue.append(2)
        queue.append(3)
        let taken = queue.drain()
        queue.append(4)
        queue.append(5)
        queue.putBack(taken)
        #expect(queue.count == 4)
        #expect(queue.dropped == 1)
        #expect(queue.drain() == [2, 3, 4, 5])
    }

    @Test("a queue of capacity 0 keeps nothing and counts every row")
    func zeroCapacity() {
        var queue = PendingQueue<Int>(capacity: 0)
        queue.append(1)
        queue.putBack([2, 3])
        #expect(queue.isEmpty)
        #expect(queue.dropped == 3)
    }
}

import Testing

@testable import IngestPipeline

@Suite("Ring buffer")
struct RingBufferTests {
    @Test("appends stop at capacity and report how many were taken")
    func capacity() {
        var ring = RingBuffer<Int>(capacity: 5)
        #expect(ring.append(contentsOf: [1, 2, 3]) == 3)
        #expect(ring.append(contentsOf: [4, 5, 6, 7]) == 2)
        #expect(ring.count == 5)
        #expect(ring.removeFirst(upTo: 10) == [1, 2, 3, 4, 5])
        #expect(ring.isEmpty)
    }

    @Test("elements come out in order across many takes")
    func fifo() {
        var ring = RingBuffer<Int>(capacity: 100)
        var out: [Int] = []
        var next = 0
        for round in 0..<50 {
            let batch = Array(next..<next + (round % 7) + 1)
            next += ring.append(contentsOf: batch)
            out += ring.removeFirst(upTo: round % 5)
        }
        out += ring.removeFirst(upTo: 1000)
        #expect(out == Array(0..<next))
    }

    @Test("a batch put back goes in front of everything, even past capacity")
    func prepend() {
        var ring = RingBuffer<Int>(capacity: 4)
        ring.append(contentsOf: [1, 2, 3, 4])
        let batch = ring.removeFirst(upTo: 2)
        ring.append(contentsOf: [5, 6])
        ring.prepend(contentsOf: batch)
        #expect(ring.count == 6)
        #expect(ring.freeSpace == 0)
        #expect(ring.removeFirst(upTo: 10) == [1, 2, 3, 4, 5, 6])
        ring.append(contentsOf: [7])
        ring.prepend(contentsOf: [8, 9])
        #expect(ring.removeFirst(upTo: 10) == [8, 9, 7])
    }

    @Test("the storage grows with what waits: 256 for a trickle however long, doubling to exactly capacity + spare room, batches handed back within it, let go when a backlog empties")
    func storageFollowsWhatWaits() {
        var ring = RingBuffer<Int>(capacity: 100_000, spareRoom: 20_000)
        #expect(ring.room == 0)
        for _ in 0..<5_000 {
            ring.append(contentsOf: 0..<200)
            #expect(ring.removeFirst(upTo: 200).count == 200)
        }
        #expect(ring.room == RingBuffer<Int>.initialRoom, "a million elements through, never more than 200 waiting")

        ring.append(contentsOf: 0..<1_000)
        #expect(ring.room == 1_024)
        ring.append(contentsOf: 0..<60_000)
        #expect(ring.room == 65_536)
        ring.append(contentsOf: 0..<60_000)
        #expect(ring.count == 100_000)
        #expect(ring.room == 120_000, "the last growth lands on capacity + spare room")
        let batches = [ring.removeFirst(upTo: 10_000), ring.removeFirst(upTo: 10_000)]
        ring.append(contentsOf: 0..<20_000)
        for batch in batches.reversed() { ring.prepend(contentsOf: batch) }
        #expect(ring.count == 120_000)
        #expect(ring.room == 120_000, "handed back within the spare room: no growth")
        ring.prepend(contentsOf: [1])
        #expect(ring.room == 120_001, "past it, only what is needed")

        #expect(ring.removeFirst(upTo: 200_000).count == 120_001)
        #expect(ring.room == 0, "an emptied backlog's storage is let go")
        ring.append(contentsOf: 0..<10_000)
        _ = ring.removeFirst(upTo: 10_000)
        #expect(ring.room == 16_384, "up to keptRoom it is kept")
    }
}

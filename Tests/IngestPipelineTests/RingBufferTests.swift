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
}

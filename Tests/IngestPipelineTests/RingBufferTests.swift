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

    @Test("the storage follows what waits, chunk by chunk: one chunk for a trickle however long, a batch handed back kept as it is, chunks freed as they are taken")
    func storageFollowsWhatWaits() {
        let chunk = RingBuffer<Int>.chunkElements
        var ring = RingBuffer<Int>(capacity: 20 * chunk)
        // Chunks reserved. The allocator may round each allocation up, by at most a page (1.6 % of a chunk),
        // so with ≤ 25 of them the whole chunks are still the quotient.
        func chunks() -> Int { ring.reservedElements / chunk }
        #expect(ring.reservedElements == 0)
        for _ in 0..<5_000 {
            ring.append(contentsOf: 0..<200)
            #expect(ring.removeFirst(upTo: 200).count == 200)
        }
        #expect(chunks() == 1, "a million elements through, never more than 200 waiting: one chunk, reused")

        ring.append(contentsOf: 0..<(10 * chunk + 1))
        #expect(chunks() == 11, "what waits, rounded up to a chunk")
        ring.append(contentsOf: 0..<(20 * chunk))
        #expect(ring.count == 20 * chunk)
        #expect(chunks() == 20, "full: exactly the capacity's chunks")
        let batches = [ring.removeFirst(upTo: 2 * chunk + 10), ring.removeFirst(upTo: 2 * chunk)]
        #expect(chunks() == 17, "the four chunks taken whole: one kept, three freed; the fifth is still in use")
        for batch in batches.reversed() { ring.prepend(contentsOf: batch) }
        #expect(ring.count == 20 * chunk)
        #expect(chunks() == 21, "handed back: the batches' own storage (4 chunks and 10), nothing more")
        let again = ring.removeFirst(upTo: 2 * chunk + 10)
        #expect(again == batches[0], "a batch handed back comes out first, whole")

        #expect(ring.removeFirst(upTo: 1_000 * chunk).count == 18 * chunk - 10)
        #expect(ring.isEmpty)
        #expect(chunks() == 1, "an emptied backlog's chunks are let go but one")
    }

    @Test("any mix of appends, takes and batches handed back keeps the order and reserves at most what waits plus four chunks")
    func modelled() {
        let chunk = RingBuffer<Int>.chunkElements
        // Knuth's MMIX LCG, seeded: the same operations on every run.
        var state: UInt64 = 18
        func random() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var ring = RingBuffer<Int>(capacity: 5 * chunk)
        var model: [Int] = []
        var next = 0
        var inFlight: [[Int]] = []
        for _ in 0..<2_000 {
            switch random() % 4 {
            case 0, 1:
                let size = Int(random() % UInt64(chunk + chunk / 2))
                let taken = ring.append(contentsOf: next..<next + size)
                #expect(taken == min(size, max(0, 5 * chunk - model.count)))
                model += next..<next + taken
                next += size
            case 2:
                let maximum = Int(random() % UInt64(2 * chunk))
                let batch = ring.removeFirst(upTo: maximum)
                #expect(batch == Array(model.prefix(maximum)))
                model.removeFirst(batch.count)
                if !batch.isEmpty { inFlight.append(batch) }
            default:
                // A write failed: the newest batch in flight goes back in front.
                guard let batch = inFlight.popLast() else { continue }
                ring.prepend(contentsOf: batch)
                model.insert(contentsOf: batch, at: 0)
            }
            if random() % 3 == 0 { inFlight.removeAll() }
            #expect(ring.count == model.count)
            #expect(ring.first == model.first)
            // What waits, the kept chunk, the last chunk's room, and the taken part of the first chunk
            // (at most a batch handed back, here up to two chunks).
            // (Plus the allocator's rounding: at most a page an allocation, 1.6 % of a chunk.)
            #expect(ring.reservedElements <= model.count + 4 * chunk + ring.count / 50 + chunk / 8)
        }
        #expect(ring.removeFirst(upTo: Int.max) == model)
    }
}

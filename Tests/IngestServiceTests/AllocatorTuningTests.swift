import CMalloc
import Testing

@testable import IngestService

/// The allocator's mmap threshold is fixed at start (issue 8): a block from
/// the threshold up is a mapping of its own, given back to the kernel when
/// freed, however large the blocks freed before it were.
@Suite("Allocator tuning")
struct AllocatorTuningTests {
    /// glibc marks a block that is a mapping of its own with bit 1 (IS_MMAPPED)
    /// of the size word just before it. Read on the block itself, so that other
    /// tests allocating at the same time cannot disturb the answer.
    static func isMapped(_ block: UnsafeMutableRawPointer) -> Bool {
        block.load(fromByteOffset: -MemoryLayout<Int>.size, as: UInt.self) & 0x2 != 0
    }

    /// How many of `count` blocks of `bytes`, held at once, are mappings of their own.
    static func mapped(_ count: Int, of bytes: Int) -> Int {
        let blocks = (0..<count).compactMap { _ in malloc(bytes) }
        defer { blocks.forEach { free($0) } }
        return blocks.filter(isMapped).count
    }

    @Test("after tuning, blocks from the threshold up are mappings of their own, smaller ones are not")
    func largeBlocksAreMapped() {
        #expect(IngestApp.tuneAllocator())
        // Untuned, freeing a mapped 4 MiB block would raise glibc's threshold to 4 MiB.
        free(malloc(4 << 20))
        // A large block is served from a free chunk of the heap when one fits (blocks freed
        // by the other tests of this process): of 32 held at once, many need new memory.
        #expect(Self.mapped(32, of: 1 << 20) >= 8)
        #expect(Self.mapped(32, of: Int(IngestApp.mmapThreshold)) >= 8)
        // Below the threshold new memory comes from a heap, never a mapping of its own.
        #expect(Self.mapped(32, of: Int(IngestApp.mmapThreshold) * 3 / 4) == 0)
    }
}

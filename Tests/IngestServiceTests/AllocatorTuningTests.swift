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
    static func isMapped(_ bytes: Int) -> Bool {
        guard let block = malloc(bytes) else { return false }
        defer { free(block) }
        return block.load(fromByteOffset: -MemoryLayout<Int>.size, as: UInt.self) & 0x2 != 0
    }

    @Test("after tuning, blocks from the threshold up are mappings of their own, smaller ones are not")
    func largeBlocksAreMapped() {
        #expect(IngestApp.tuneAllocator())
        // Untuned, freeing a mapped 4 MiB block would raise glibc's threshold to 4 MiB.
        _ = Self.isMapped(4 << 20)
        #expect(Self.isMapped(Int(IngestApp.mmapThreshold)))
        #expect(Self.isMapped(1 << 20))
        #expect(!Self.isMapped(Int(IngestApp.mmapThreshold) * 3 / 4))
    }
}

import CMalloc
import Testing

@testable import IngestApp

/// The allocator's mmap threshold is fixed at start (docs/performance.md). What this
/// process can check deterministically: below it new memory never comes as a
/// mapping of its own (glibc's own threshold starts at 128 KiB, so untuned a
/// block of 3/4 of ours is one). That blocks above it do is
/// not checked here: glibc first serves a large request from a free block of
/// the heap or its top, and the other tests of this process leave plenty (a
/// check of it failed in a full CI run). The effect is measured instead:
/// peak RSS at `--rate 0` in docs/performance.md.
@Suite("Allocator tuning")
struct AllocatorTuningTests {
    /// glibc marks a block that is a mapping of its own with bit 1 (IS_MMAPPED)
    /// of the size word just before it. Read on the block itself, so that other
    /// tests allocating at the same time cannot disturb the answer.
    static func isMapped(_ block: UnsafeMutableRawPointer) -> Bool {
        block.load(fromByteOffset: -MemoryLayout<Int>.size, as: UInt.self) & 0x2 != 0
    }

    @Test("after tuning, blocks below the threshold come from a heap, never a mapping of their own")
    func smallBlocksAreNotMapped() {
        IngestApp.tuneAllocator()
        let blocks = (0..<32).compactMap { _ in malloc(Int(IngestApp.mmapThreshold) * 3 / 4) }
        defer { blocks.forEach { free($0) } }
        #expect(blocks.count == 32)
        #expect(blocks.filter(Self.isMapped).isEmpty)
    }
}

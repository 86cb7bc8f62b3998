import Foundation
import IngestTestSupport
import Testing

/// The service is linked with its relative relocations packed (DT_RELR): a
/// PIE's `.rela.dyn` of one 24-byte entry per pointer in its data is read at
/// every start and stays resident, 1.3 MB of the RSS budget; packed it is a
/// few KB (docs/performance.md, "Packed relocations"). Read from the ELF file
/// itself, so that a build that loses the linker flag fails here, not in a
/// benchmark months later.
@Suite("Packed relocations")
struct PackedRelocationsTests {
    /// The dynamic section's tags and values, from the ELF64 little-endian file at `url`.
    static func dynamicEntries(_ url: URL) throws -> [(tag: Int64, value: UInt64)] {
        let file = try FileHandle(forReadingFrom: url)
        defer { try? file.close() }
        func read(_ offset: UInt64, _ count: Int) throws -> Data {
            try file.seek(toOffset: offset)
            let data = try file.read(upToCount: count) ?? Data()
            guard data.count == count else { throw ELFError.truncated }
            return data
        }
        func integer<T: FixedWidthInteger>(_ data: Data, _ at: Int, _: T.Type) -> T {
            data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        let header = try read(0, 64)
        guard header.prefix(4) == Data([0x7F, 0x45, 0x4C, 0x46]), header[4] == 2, header[5] == 1 else { throw ELFError.notELF64LittleEndian }
        let (programHeaders, entrySize, entries) = (
            integer(header, 32, UInt64.self), Int(integer(header, 54, UInt16.self)), Int(integer(header, 56, UInt16.self))
        )
        let table = try read(programHeaders, entrySize * entries)
        for index in 0..<entries where integer(table, index * entrySize, UInt32.self) == 2 {  // PT_DYNAMIC
            let offset = integer(table, index * entrySize + 8, UInt64.self)
            let size = Int(integer(table, index * entrySize + 32, UInt64.self))
            let dynamic = try read(offset, size)
            return stride(from: 0, to: size - 15, by: 16).map { (integer(dynamic, $0, Int64.self), integer(dynamic, $0 + 8, UInt64.self)) }
        }
        throw ELFError.noDynamicSection
    }

    enum ELFError: Error { case truncated, notELF64LittleEndian, noDynamicSection }

    #if os(Linux)
    @Test("ingest-options carries its relative relocations packed (DT_RELR), and few of the 24-byte kind")
    func relocationsArePacked() throws {
        let entries = try Self.dynamicEntries(ManagedProcess.binDirectory.appendingPathComponent("ingest-options"))
        func value(_ tag: Int64) -> UInt64? { entries.first { $0.tag == tag }?.value }
        let (relaSize, relrSize) = (value(8) ?? 0, value(35))  // DT_RELASZ, DT_RELRSZ
        #expect(value(36) != nil, "no DT_RELR: the binary was linked without -z pack-relative-relocs")
        #expect((relrSize ?? 0) > 0)
        // What stays in .rela.dyn are the relocations against other libraries' symbols; the relative
        // ones, three quarters of them unpacked, are gone.
        #expect(relaSize < 600 << 10, "\(relaSize) bytes of RELA relocations")
    }
    #endif
}

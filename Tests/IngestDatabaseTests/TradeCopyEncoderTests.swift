import Testing

@testable import IngestDatabase

@Suite("COPY binary encoder")
struct TradeCopyEncoderTests {
    func numeric(_ thousandths: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        TradeCopyEncoder.appendNumeric(thousandths: thousandths, into: &bytes)
        return bytes
    }

    /// length, ndigits, weight, sign, dscale, digits… as 16-bit words after the 32-bit length.
    func words(_ bytes: [UInt8]) -> [Int16] {
        stride(from: 4, to: bytes.count, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])) }
    }

    @Test("numeric: base-10000 digits, weight and display scale 3", arguments: [
        (Int64(650_000), [Int16(1), 0, 0, 3, 650]),  // 650.000
        (Int64(185_500), [Int16(2), 0, 0, 3, 185, 5000]),  // 185.500
        (Int64(500), [Int16(1), -1, 0, 3, 5000]),  // 0.500
        (Int64(12_345_678), [Int16(3), 1, 0, 3, 1, 2345, 6780]),  // 12345.678
        (Int64(100_000_000), [Int16(1), 1, 0, 3, 10]),  // 100000.000 = 10 × 10000^1
        (Int64(0), [Int16(0), 0, 0, 3]),
        (Int64(-1_500), [Int16(2), 0, 0x4000, 3, 1, 5000]),  // -1.500
    ])
    func numericEncoding(_ thousandths: Int64, _ expected: [Int16]) {
        let bytes = numeric(thousandths)
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        #expect(length == bytes.count - 4)
        #expect(words(bytes) == expected)
    }

    @Test("smallint[]: empty arrays have no dimensions; others one dimension from 1")
    func arrays() {
        var empty: [UInt8] = []
        TradeCopyEncoder.appendInt2Array([], into: &empty)
        #expect(empty == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 21])
        var two: [UInt8] = []
        TradeCopyEncoder.appendInt2Array([209, -1], into: &two)
        #expect(two == [0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 21, 0, 0, 0, 2, 0, 0, 0, 1,
                        0, 0, 0, 2, 0, 209, 0, 0, 0, 2, 0xFF, 0xFF])
    }

    @Test("a stream starts with the PGCOPY signature and ends with the -1 trailer")
    func framing() {
        var bytes: [UInt8] = []
        TradeCopyEncoder().encode([], into: &bytes)
        #expect(bytes == [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF])
    }
}

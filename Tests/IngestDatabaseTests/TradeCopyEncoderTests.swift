import OptionsFeed
import Testing

@testable import IngestDatabase

@Suite("COPY binary encoder")
struct TradeCopyEncoderTests {
    /// The bytes one of the encoder's field writers produces, in memory sized as the encoder sizes it.
    func written(_ count: Int, _ write: (inout CopyCursor) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var cursor = CopyCursor(buffer.baseAddress!)
            write(&cursor)
            #expect(cursor.pointer == buffer.baseAddress! + count, "wrote other than the size it declared")
        }
        return bytes
    }

    func numeric(_ thousandths: Int64) -> [UInt8] {
        let digits = NumericDigits(thousandths: thousandths)
        return written(digits.encodedSize) { digits.write(to: &$0) }
    }

    func int2Array(_ values: [Int16]) -> [UInt8] {
        written(TradeCopyEncoder.int2ArraySize(values.count)) { TradeCopyEncoder.writeInt2Array(values, to: &$0) }
    }

    /// length, ndigits, weight, sign, dscale, digits… as 16-bit words after the 32-bit length.
    func words(_ bytes: [UInt8]) -> [Int16] {
        stride(from: 4, to: bytes.count, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])) }
    }

    @Test("numeric: the size the first pass works out is the size the digits take")
    func numericSize() {
        var values: [Int64] = [0, 1, 999, 1000, 10_000_000, 100_000_000, 650_000, 12_345_678, 10_000_000_000_001, Int64.max, Int64.min + 1]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Int64.random(in: -10_000_000_000...10_000_000_000, using: &random)) }
        for power in 0..<18 { values.append(Int64((0..<power).reduce(1) { value, _ in value * 10 })) }
        for value in values {
            #expect(NumericDigits.encodedSize(thousandths: value) == NumericDigits(thousandths: value).encodedSize, "\(value)")
        }
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
        let empty = int2Array([])
        #expect(empty == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 21])
        let two = int2Array([209, -1])
        #expect(two == [0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 21, 0, 0, 0, 2, 0, 0, 0, 1,
                        0, 0, 0, 2, 0, 209, 0, 0, 0, 2, 0xFF, 0xFF])
    }

    @Test("a stream starts with the PGCOPY signature and ends with the -1 trailer")
    func framing() {
        var bytes: [UInt8] = []
        TradeCopyEncoder().encode([], into: &bytes)
        #expect(bytes == [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF])
    }

    @Test("a stream in pieces, the header with the first and the trailer with the last, is the whole stream byte for byte", arguments: [
        0, 1, 255, 256, 257, 600,
    ])
    func pieces(_ count: Int) throws {
        let symbols = try ["O:SPY251219C00650500", "O:BRK.B260320P00000500", "O:SPXW241231C04500000"].map { try #require(OptionSymbol($0)) }
        let trades: [OptionTrade] = (0..<count).map { (index: Int) -> OptionTrade in
            let conditions = [Int16](repeating: Int16(index % 300), count: index % 5)
            let time = Int64(1_764_614_400_000) + Int64(index)
            return OptionTrade(
                symbol: symbols[index % 3], exchange: Int16(index % 70), price: Double(index) / 7, size: Int64(index + 1),
                conditions: conditions, timestampMs: time, sequence: Int64(index), receivedAtMicros: 1_764_614_400_200_000)
        }
        var whole: [UInt8] = []
        TradeCopyEncoder().encode(trades, into: &whole)
        for size in [1, 100, CopyStream.rowsPerPiece] {
            var joined: [UInt8] = []
            var piece: [UInt8] = []
            var start = 0
            repeat {
                let end = min(start + size, count)
                TradeCopyEncoder().encode(trades[start..<end], ends: .init(header: start == 0, trailer: end == count), into: &piece)
                joined += piece
                start = end
            } while start < count
            #expect(joined == whole, "pieces of \(size)")
        }
    }

    @Test("a row is the 13 fields in column order, each length-prefixed, big-endian")
    func row() throws {
        let symbol = try #require(OptionSymbol("O:SPY251219C00650500"))
        let trade = OptionTrade(
            symbol: symbol, exchange: 65, price: 1.25, size: 3, conditions: [227], timestampMs: 1_764_614_400_123,
            sequence: 42, receivedAtMicros: 1_764_614_400_200_000)
        func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
        func field(_ bytes: [UInt8]) -> [UInt8] { be(Int32(bytes.count)) + bytes }
        let epoch: Int64 = 946_684_800_000_000
        var expected: [UInt8] = be(Int16(13))
        expected += field(Array("O:SPY251219C00650500".utf8)) + field(Array("SPY".utf8))
        expected += field(be(Int32(9484)))  // 2025-12-19 is day 9484 after 2000-01-01
        expected += field([UInt8(ascii: "C")])
        expected += field(be(Int16(2)) + be(Int16(0)) + be(Int16(0)) + be(Int16(3)) + be(Int16(650)) + be(Int16(5000)))  // 650.500
        expected += field(be(Int16(65)))
        expected += field(be(Double(1.25).bitPattern)) + field(be(Int64(3))) + field(be(Double(375).bitPattern))
        expected += field(be(Int32(1)) + be(Int32(0)) + be(Int32(21)) + be(Int32(1)) + be(Int32(1)) + be(Int32(2)) + be(Int16(227)))
        expected += field(be(Int64(1_764_614_400_123_000) - epoch)) + field(be(Int64(42))) + field(be(Int64(1_764_614_400_200_000) - epoch))
        var bytes: [UInt8] = []
        TradeCopyEncoder().encode([trade, trade], into: &bytes)
        #expect(Array(bytes[19..<(19 + expected.count)]) == expected)
        #expect(Array(bytes[(19 + expected.count)..<(19 + 2 * expected.count)]) == expected)
        #expect(bytes.count == 19 + 2 * expected.count + 2)
    }
}

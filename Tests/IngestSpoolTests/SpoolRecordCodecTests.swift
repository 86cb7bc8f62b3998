import Foundation
import OptionsFeed
import Testing

@testable import IngestSpool

@Suite("Spool record codec")
struct SpoolRecordCodecTests {
    static func trade(symbol: String = "O:SPY251219C00650000", conditions: [Int16] = [209], sequence: Int64 = 1) -> OptionTrade {
        OptionTrade(
            symbol: OptionSymbol(symbol)!, exchange: 4, price: 1.25, size: 3, conditions: conditions,
            timestampMs: 1_764_772_200_000, sequence: sequence, receivedAtMicros: 1_764_772_300_000_000)
    }

    static func roundTrip(_ trades: [OptionTrade]) -> [OptionTrade]? {
        var bytes: [UInt8] = []
        SpoolRecordCodec.encode(trades, into: &bytes)
        guard case .trades(let decoded) = bytes.withUnsafeBytes({ SpoolRecordCodec.decode($0) }) else { return nil }
        return decoded
    }

    @Test("a trade with 70 000 condition codes is encoded without a trap and reads back whole")
    func manyConditions() throws {
        let conditions = (0..<70_000).map { Int16(truncatingIfNeeded: $0) }
        let trades = [Self.trade(sequence: 1), Self.trade(conditions: conditions, sequence: 2), Self.trade(sequence: 3)]
        #expect(Self.roundTrip(trades) == trades)
        // Version 1 cannot hold it: refused, not trapped on.
        var bytes: [UInt8] = [7]
        #expect(SpoolRecordCodec.encodeVersion1(trades, into: &bytes) == false)
        #expect(bytes == [7])
    }

    @Test("a 70 000-byte symbol never reaches the codec (no OptionSymbol holds it); the longest one round-trips")
    func longSymbol() throws {
        let huge = "O:" + String(repeating: "A", count: 70_000 - 17) + "251219C00650000"
        #expect(OptionSymbol(huge) == nil)
        let longest = "O:" + String(repeating: "A", count: OptionSymbol.maximumUnderlyingLength) + "251219C00650000"
        #expect(longest.utf8.count == OptionSymbol.maximumLength)
        let trades = [Self.trade(symbol: longest), Self.trade(sequence: 2)]
        #expect(Self.roundTrip(trades) == trades)
    }

    @Test("such trades go through the spool and come back from disk")
    func throughTheSpool() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-codec-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool(configuration: .init(directory: directory))
        let symbol = "O:" + String(repeating: "B", count: OptionSymbol.maximumUnderlyingLength) + "251219C00650000"
        let trades = [Self.trade(symbol: symbol), Self.trade(conditions: Array(repeating: 12, count: 70_000), sequence: 2)]
        #expect(try spool.append(trades))
        let read = try spool.reader(for: try #require(try spool.oldestSegment())).readAll()
        #expect(read.batches == [.trades(trades)])
        #expect(read.corrupt == 0)
    }

    @Test("version 1 records, written by an earlier release, still read")
    func versionOneReads() throws {
        let trades = [Self.trade(sequence: 1), Self.trade(conditions: [], sequence: 2), Self.trade(conditions: [1, 2, 3], sequence: 3)]
        var bytes: [UInt8] = []
        #expect(SpoolRecordCodec.encodeVersion1(trades, into: &bytes))
        #expect(bytes.first == 1)
        #expect(bytes.withUnsafeBytes { SpoolRecordCodec.decode($0) } == .trades(trades))
        // The fuzz corpus's version 1 payload too.
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/spool-segment/payload-one-trade.bin")
        let data = try Data(contentsOf: corpus)
        #expect(data.first == 1)
        #expect(data.withUnsafeBytes { SpoolRecordCodec.decode($0) }?.trades.count == 1)
    }

    @Test("version 2 is smaller than version 1 for a usual trade")
    func smaller() {
        let trades = (0..<10).map { Self.trade(sequence: Int64($0)) }
        var two: [UInt8] = []
        var one: [UInt8] = []
        SpoolRecordCodec.encode(trades, into: &two)
        #expect(SpoolRecordCodec.encodeVersion1(trades, into: &one))
        #expect(two.count < one.count)
    }

    @Test("hostile varints are refused, never trapped on", arguments: [
        [2, 0x80],  // count runs past the end
        [2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],  // count past 64 bits
        [2, 0x80, 0x00],  // count 0 in two bytes: not the shortest form
        [2, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],  // symbol length past Int
        [2, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],  // symbol length past the payload
        [2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],  // a count of 2^63 - 1 trades in 10 bytes
    ] as [[UInt8]])
    func hostileVarints(_ bytes: [UInt8]) {
        #expect(bytes.withUnsafeBytes { SpoolRecordCodec.decode($0) } == nil)
    }

    @Test("a condition count larger than the bytes left is refused before any is read")
    func conditionCountLies() {
        var bytes: [UInt8] = []
        SpoolRecordCodec.encode([Self.trade(conditions: [1, 2])], into: &bytes)
        // The condition count sits after version, count, symbol length, symbol, exchange, price and size.
        let index = 1 + 1 + 1 + 20 + 2 + 8 + 8
        #expect(bytes[index] == 2)
        bytes[index] = 0x7F
        #expect(bytes.withUnsafeBytes { SpoolRecordCodec.decode($0) } == nil)
    }
}

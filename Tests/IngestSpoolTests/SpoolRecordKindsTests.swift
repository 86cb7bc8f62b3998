import Foundation
import OptionsFeed
import Testing

@testable import IngestSpool

/// A batch and what it is meant to show, as a test argument.
struct LabelledBatch: Sendable, CustomTestStringConvertible {
    var label: String
    var batch: RecordBatch

    var testDescription: String { label }
}

@Suite("Spool record codec: every record kind")
struct SpoolRecordKindsTests {
    static let symbol = OptionSymbol("O:SPY251219C00650000")!
    static let longest = OptionSymbol("O:" + String(repeating: "Z", count: OptionSymbol.maximumUnderlyingLength) + "251219C00650000")!
    static let received: Int64 = 1_764_772_300_000_000
    /// The last µs a record may have been received at.
    static let lastReceived = OptionTrade.timestampRange.upperBound * 1000

    static func bar(
        _ index: Int = 0, period: OptionAggregate.Period = .minute, dayVolume: Int64? = nil, dayVWAP: Double? = nil,
        dayOpen: Double? = nil, averageSize: Double? = nil
    ) -> OptionAggregate {
        OptionAggregate(
            symbol: symbol, period: period, startMs: 1_764_772_200_000 + Int64(index) * 60_000,
            endMs: 1_764_772_260_000 + Int64(index) * 60_000, open: 1.2, high: 1.5, low: 1.1, close: 1.4, volume: 30 + Int64(index),
            vwap: 1.3, dayVolume: dayVolume, dayVWAP: dayVWAP, dayOpen: dayOpen, averageSize: averageSize, receivedAtMicros: received)
    }

    static func quote(_ index: Int = 0) -> OptionQuote {
        OptionQuote(
            symbol: symbol, bidExchange: 4, askExchange: 7, bidPrice: 1.2, askPrice: 1.3, bidSize: 10, askSize: 12,
            timestampMs: 1_764_772_200_000 + Int64(index), sequence: Int64(index), receivedAtMicros: received)
    }

    static func fairValue(_ index: Int = 0) -> OptionFMV {
        OptionFMV(symbol: symbol, fmv: 1.25, timestampNanos: 1_764_772_200_000_000_000 + Int64(index), receivedAtMicros: received)
    }

    static func trades(_ range: Range<Int>) -> RecordBatch { .trades(SpoolTests.trades(range)) }
    static func bars(_ range: Range<Int>) -> RecordBatch { .aggregates(range.map { bar($0) }) }
    static func quotes(_ range: Range<Int>) -> RecordBatch { .quotes(range.map { quote($0) }) }
    static func fairValues(_ range: Range<Int>) -> RecordBatch { .fairValues(range.map { fairValue($0) }) }

    static func encoded(_ batch: RecordBatch) -> [UInt8] {
        var bytes: [UInt8] = []
        SpoolRecordCodec.encode(batch, into: &bytes)
        return bytes
    }

    static func decoded(_ bytes: [UInt8]) -> RecordBatch? { bytes.withUnsafeBytes { SpoolRecordCodec.decode($0) } }

    /// Batches the codec must carry exactly: optional fields left out and
    /// given, every field at the edge of what the feed decoder accepts.
    static let roundTrips: [LabelledBatch] = [
        .init(label: "bars without their optional fields", batch: .aggregates([bar(0), bar(1, period: .second)])),
        .init(
            label: "bars with every optional field, and each one alone",
            batch: .aggregates([
                bar(0, dayVolume: 1_000, dayVWAP: 1.31, dayOpen: 1.0, averageSize: 2.5), bar(1, dayVolume: 0),
                bar(2, dayVWAP: 0.01), bar(3, dayOpen: 7), bar(4, period: .second, averageSize: 0),
            ])),
        .init(
            label: "a bar at the edges",
            batch: .aggregates([
                OptionAggregate(
                    symbol: longest, period: .second, startMs: OptionTrade.timestampRange.lowerBound,
                    endMs: OptionTrade.timestampRange.upperBound, open: .leastNonzeroMagnitude, high: .greatestFiniteMagnitude,
                    low: .leastNonzeroMagnitude, close: .greatestFiniteMagnitude, volume: .max, vwap: .greatestFiniteMagnitude,
                    dayVolume: .max, dayVWAP: .leastNormalMagnitude, dayOpen: .greatestFiniteMagnitude,
                    averageSize: .greatestFiniteMagnitude, receivedAtMicros: lastReceived),
                OptionAggregate(
                    symbol: symbol, period: .minute, startMs: 1, endMs: 2, open: 5, high: 5, low: 5, close: 5, volume: 1, vwap: 5,
                    averageSize: 0, receivedAtMicros: 0),
            ])),
        .init(label: "quotes", batch: quotes(0..<3)),
        .init(
            label: "quotes at the edges: no bid, zero sizes, the largest exchange, sequence and sizes",
            batch: .quotes([
                OptionQuote(
                    symbol: longest, bidExchange: 0, askExchange: .max, bidPrice: 0, askPrice: .greatestFiniteMagnitude, bidSize: 0,
                    askSize: .max, timestampMs: OptionTrade.timestampRange.upperBound, sequence: .max, receivedAtMicros: lastReceived),
                OptionQuote(
                    symbol: symbol, bidExchange: .max, askExchange: 0, bidPrice: 3, askPrice: 2, bidSize: .max, askSize: 0,
                    timestampMs: OptionTrade.timestampRange.lowerBound, sequence: 0, receivedAtMicros: 0),
            ])),
        .init(label: "fair values", batch: fairValues(0..<3)),
        .init(
            label: "fair values at the edges: zero, the largest value, the first and last ns",
            batch: .fairValues([
                OptionFMV(symbol: longest, fmv: 0, timestampNanos: OptionFMV.timestampRange.lowerBound, receivedAtMicros: 0),
                OptionFMV(
                    symbol: symbol, fmv: .greatestFiniteMagnitude, timestampNanos: OptionFMV.timestampRange.upperBound,
                    receivedAtMicros: lastReceived),
            ])),
        .init(label: "trades", batch: trades(0..<5)),
        .init(label: "no bars", batch: .aggregates([])),
        .init(label: "no quotes", batch: .quotes([])),
        .init(label: "no fair values", batch: .fairValues([])),
    ]

    @Test("each record kind reads back exactly, in the format of its kind", arguments: roundTrips)
    func roundTrip(_ case: LabelledBatch) throws {
        let bytes = Self.encoded(`case`.batch)
        #expect(bytes.first == SpoolRecordCodec.Format.current(`case`.batch.kind).rawValue)
        #expect(Self.decoded(bytes) == `case`.batch)
        #expect(SpoolRecordCodec.isPlausible(`case`.batch))
        let outcome = bytes.withUnsafeBytes { SpoolFuzzProbe.run($0) }
        #expect(outcome.payloadRecords == `case`.batch.count)
        #expect(outcome.payloadKind == `case`.batch.kind)
    }

    @Test("formats 1 and 2 are trades, 3 bars, 4 quotes, 5 fair values; trades are still written as 2")
    func formatBytes() {
        #expect(SpoolRecordCodec.Format.allCases.map(\.rawValue) == [1, 2, 3, 4, 5])
        #expect(SpoolRecordCodec.Format.allCases.map(\.kind) == [.trade, .trade, .aggregate, .quote, .fmv])
        #expect(Self.encoded(Self.trades(0..<1)).first == 2)
        #expect(Self.encoded(Self.bars(0..<1)).first == 3)
        #expect(Self.encoded(Self.quotes(0..<1)).first == 4)
        #expect(Self.encoded(Self.fairValues(0..<1)).first == 5)
    }

    @Test("the smallest record of each kind is as small as its minimum says")
    func minimumSizes() {
        // An 18-byte symbol, the shortest a contract has.
        let short = OptionSymbol("O:A251219C00650000")!
        #expect(short.raw.utf8.count == 18)
        var bar = Self.bar()
        bar.symbol = short
        var quote = Self.quote()
        quote.symbol = short
        var value = Self.fairValue()
        value.symbol = short
        // Format byte and a one-byte count come first.
        #expect(Self.encoded(.aggregates([bar])).count == 2 + SpoolRecordCodec.minimumAggregateBytes)
        #expect(Self.encoded(.quotes([quote])).count == 2 + SpoolRecordCodec.minimumQuoteBytes)
        #expect(Self.encoded(.fairValues([value])).count == 2 + SpoolRecordCodec.minimumFairValueBytes)
    }

    /// Records the frame decoder would have refused: encoded (the codec is
    /// total), they do not decode, as after a checksum collision.
    static let implausible: [LabelledBatch] = {
        func bar(_ change: (inout OptionAggregate) -> Void) -> RecordBatch {
            var bar = SpoolRecordKindsTests.bar(0, dayVolume: 5, dayVWAP: 1.3, dayOpen: 1.2, averageSize: 1)
            change(&bar)
            return .aggregates([SpoolRecordKindsTests.bar(1), bar])
        }
        func quote(_ change: (inout OptionQuote) -> Void) -> RecordBatch {
            var quote = SpoolRecordKindsTests.quote()
            change(&quote)
            return .quotes([SpoolRecordKindsTests.quote(1), quote])
        }
        func value(_ change: (inout OptionFMV) -> Void) -> RecordBatch {
            var value = SpoolRecordKindsTests.fairValue()
            change(&value)
            return .fairValues([SpoolRecordKindsTests.fairValue(1), value])
        }
        return [
            .init(label: "bar: high below low", batch: bar { $0.high = 1.0 }),
            .init(label: "bar: open above high", batch: bar { $0.open = 2 }),
            .init(label: "bar: close below low", batch: bar { $0.close = 1 }),
            .init(label: "bar: end before start", batch: bar { $0.endMs = $0.startMs - 1 }),
            .init(label: "bar: end at start", batch: bar { $0.endMs = $0.startMs }),
            .init(label: "bar: start at 0", batch: bar { $0.startMs = 0 }),
            .init(label: "bar: end after 9999", batch: bar { $0.endMs = OptionTrade.timestampRange.upperBound + 1 }),
            .init(label: "bar: volume 0", batch: bar { $0.volume = 0 }),
            .init(label: "bar: NaN VWAP", batch: bar { $0.vwap = .nan }),
            .init(label: "bar: infinite high", batch: bar { $0.high = .infinity }),
            .init(label: "bar: negative low", batch: bar { $0.low = -1 }),
            .init(label: "bar: negative day volume", batch: bar { $0.dayVolume = -1 }),
            .init(label: "bar: day open 0", batch: bar { $0.dayOpen = 0 }),
            .init(label: "bar: NaN day VWAP", batch: bar { $0.dayVWAP = .nan }),
            .init(label: "bar: negative average size", batch: bar { $0.averageSize = -0.5 }),
            .init(label: "bar: infinite average size", batch: bar { $0.averageSize = .infinity }),
            .init(label: "bar: received before 1970", batch: bar { $0.receivedAtMicros = -1 }),
            .init(label: "quote: negative bid", batch: quote { $0.bidPrice = -0.01 }),
            .init(label: "quote: NaN ask", batch: quote { $0.askPrice = .nan }),
            .init(label: "quote: infinite bid", batch: quote { $0.bidPrice = .infinity }),
            .init(label: "quote: negative ask size", batch: quote { $0.askSize = -1 }),
            .init(label: "quote: negative bid exchange", batch: quote { $0.bidExchange = -1 }),
            .init(label: "quote: negative sequence", batch: quote { $0.sequence = -1 }),
            .init(label: "quote: timestamp 0", batch: quote { $0.timestampMs = 0 }),
            .init(label: "quote: timestamp after 9999", batch: quote { $0.timestampMs = .max }),
            .init(label: "quote: received after 9999", batch: quote { $0.receivedAtMicros = lastReceived + 1 }),
            .init(label: "fair value: negative", batch: value { $0.fmv = -1 }),
            .init(label: "fair value: NaN", batch: value { $0.fmv = .nan }),
            .init(label: "fair value: infinite", batch: value { $0.fmv = .infinity }),
            .init(label: "fair value: timestamp 0", batch: value { $0.timestampNanos = 0 }),
            .init(label: "fair value: negative timestamp", batch: value { $0.timestampNanos = .min }),
            .init(label: "fair value: received at Int64.max", batch: value { $0.receivedAtMicros = .max }),
        ]
    }()

    @Test("a record the feed decoder would have refused does not decode", arguments: implausible)
    func implausibleRecord(_ case: LabelledBatch) {
        #expect(!SpoolRecordCodec.isPlausible(`case`.batch))
        #expect(Self.decoded(Self.encoded(`case`.batch)) == nil)
    }

    @Test("an aggregate's period byte and presence bits outside the format are refused")
    func unknownAggregateBytes() throws {
        let bytes = Self.encoded(.aggregates([Self.bar(0, dayVolume: 1)]))
        // Format, count, symbol length, symbol: then the period byte and the presence byte.
        let period = 1 + 1 + 1 + 20
        #expect(bytes[period] == SpoolRecordCodec.minutePeriod)
        #expect(bytes[period + 1] == SpoolRecordCodec.AggregatePresence.dayVolume.rawValue)
        for value: UInt8 in [2, 0x80, 0xFF] {
            var changed = bytes
            changed[period] = value
            #expect(Self.decoded(changed) == nil)
        }
        // Another known bit would change the layout (and so fail further on); an unknown bit fails at once.
        for bit: UInt8 in [0x10, 0x20, 0x40, 0x80] {
            var changed = bytes
            changed[period + 1] |= bit
            #expect(Self.decoded(changed) == nil)
        }
    }

    @Test("a format byte this release does not know is refused", arguments: [0, 6, 7, 0x80, 0xFF] as [UInt8])
    func unknownFormat(_ format: UInt8) {
        var bytes = Self.encoded(Self.fairValues(0..<2))
        bytes[0] = format
        #expect(Self.decoded(bytes) == nil)
    }

    static let kinds: [LabelledBatch] = [
        .init(label: "trades", batch: trades(0..<3)),
        .init(label: "bars", batch: .aggregates([bar(0, dayVolume: 5, dayVWAP: 1.3, dayOpen: 1.2, averageSize: 1), bar(1), bar(2)])),
        .init(label: "quotes", batch: quotes(0..<3)),
        .init(label: "fair values", batch: fairValues(0..<3)),
    ]

    @Test("every cut of a payload, and a byte more, is refused", arguments: kinds)
    func truncated(_ case: LabelledBatch) {
        let bytes = Self.encoded(`case`.batch)
        for length in 0..<bytes.count { #expect(Self.decoded(Array(bytes[..<length])) == nil, "cut at \(length)") }
        #expect(Self.decoded(bytes + [0]) == nil)
    }

    @Test("counts that promise more records than the bytes hold are refused without reserving them", arguments: kinds)
    func countLies(_ case: LabelledBatch) {
        let bytes = Self.encoded(`case`.batch)
        #expect(bytes[1] == 3)
        for count: [UInt8] in [[4], [0x7F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]] {
            #expect(Self.decoded([bytes[0]] + count + bytes[2...]) == nil)
        }
        // A count of 2 leaves a record's bytes over.
        #expect(Self.decoded([bytes[0], 2] + bytes[2...]) == nil)
    }

    @Test("a symbol that names no contract is refused", arguments: kinds)
    func badSymbol(_ case: LabelledBatch) {
        var bytes = Self.encoded(`case`.batch)
        // The first symbol's text starts after format, count and its length: break its expiry month.
        #expect(bytes[2] == 20)
        bytes[3 + 2 + 3 + 2] = UInt8(ascii: "9")
        #expect(Self.decoded(bytes) == nil)
    }

    @Test("every bit flipped in a payload of each kind goes through the fuzz probe without a trap", arguments: kinds)
    func bitFlips(_ case: LabelledBatch) {
        let bytes = Self.encoded(`case`.batch)
        for index in bytes.indices {
            for bit in 0..<8 {
                var changed = bytes
                changed[index] ^= 1 << bit
                // As a payload (past the checksum) and as a checksummed record of a segment.
                _ = changed.withUnsafeBytes { SpoolFuzzProbe.run($0) }
                let record = Self.record(changed)
                let read = record.withUnsafeBytes { Spool.parse($0) }
                #expect(read.corrupt + read.batches.count == 1)
                for batch in read.batches { #expect(SpoolRecordCodec.isPlausible(batch)) }
            }
        }
    }

    /// `payload` as one well-formed record of a segment.
    static func record(_ payload: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        SpoolRecordCodec.append(UInt32(payload.count), to: &record)
        SpoolRecordCodec.append(CRC32C.checksum(payload), to: &record)
        return record + payload
    }

    /// Records of every kind in the order a mixed feed would spool them.
    static let mixed: [RecordBatch] = [
        trades(0..<3), trades(3..<5), quotes(0..<2), bars(0..<1), bars(1..<5), trades(5..<6), fairValues(0..<2),
        fairValues(2..<7), quotes(2..<3), trades(6..<10),
    ]

    @Test("a segment of every kind reads back record by record in the order it was spooled")
    func mixedSegment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-kinds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool(configuration: .init(directory: directory))
        for batch in Self.mixed { #expect(try spool.append(batch)) }
        // An empty batch writes nothing, whatever its kind.
        for kind in RecordKind.allCases { #expect(try spool.append(.empty(kind))) }
        #expect(spool.snapshot.records == Self.mixed.count)
        let segment = try #require(try spool.oldestSegment())
        let reader = try spool.reader(for: segment)
        let read = try reader.readAll()
        #expect(read.batches == Self.mixed)
        #expect(read.corrupt == 0)
        #expect(reader.counts == [.trade: 10, .aggregate: 5, .quote: 3, .fmv: 7])
        #expect(reader.trades == 10)
        #expect(reader.records == 25)
    }

    @Test("batches join records of one kind up to the maximum and never mix kinds", arguments: [
        (4, [trades(0..<4), trades(4..<5), quotes(0..<2), bars(0..<4), bars(4..<5), trades(5..<6), fairValues(0..<4),
             fairValues(4..<7), quotes(2..<3), trades(6..<10)]),
        (2, [trades(0..<2), trades(2..<4), trades(4..<5), quotes(0..<2), bars(0..<2), bars(2..<4), bars(4..<5), trades(5..<6),
             fairValues(0..<2), fairValues(2..<4), fairValues(4..<6), fairValues(6..<7), quotes(2..<3), trades(6..<8),
             trades(8..<10)]),
        (1_000, [trades(0..<5), quotes(0..<2), bars(0..<5), trades(5..<6), fairValues(0..<7), quotes(2..<3), trades(6..<10)]),
    ] as [(Int, [RecordBatch])])
    func mixedBatches(_ maximum: Int, _ expected: [RecordBatch]) throws {
        let segment = Self.mixed.flatMap { Self.record(Self.encoded($0)) }
        let reader = segment.withUnsafeBytes { SpoolSegmentReader(bytes: $0) }
        var batches: [RecordBatch] = []
        while let batch = try reader.nextBatch(upTo: maximum) { batches.append(batch) }
        #expect(batches == expected)
        #expect(reader.counts == [.trade: 10, .aggregate: 5, .quote: 3, .fmv: 7])
        #expect(try reader.nextBatch(upTo: maximum) == nil)
    }

    @Test("an empty record of another kind does not split a batch; a corrupt one in between does not either")
    func emptyRecordBetween() throws {
        var corrupt = Self.record(Self.encoded(Self.quotes(0..<1)))
        corrupt[corrupt.count - 1] ^= 0xFF
        let segment = [Self.trades(0..<2), .aggregates([]), Self.trades(2..<3)].flatMap { Self.record(Self.encoded($0)) }
            + corrupt + Self.record(Self.encoded(Self.trades(3..<4)))
        let reader = segment.withUnsafeBytes { SpoolSegmentReader(bytes: $0) }
        #expect(try reader.nextBatch(upTo: 10) == Self.trades(0..<4))
        #expect(try reader.nextBatch(upTo: 10) == nil)
        #expect(reader.corruptRecords == 1)
        #expect(reader.records == 4)
    }

    @Test("a record that is a full batch by itself is handed over as it is, of any kind")
    func wholeRecord() throws {
        let segment = [Self.bars(0..<3), Self.quotes(0..<3), Self.bars(3..<6)].flatMap { Self.record(Self.encoded($0)) }
        let reader = segment.withUnsafeBytes { SpoolSegmentReader(bytes: $0) }
        var batches: [RecordBatch] = []
        while let batch = try reader.nextBatch(upTo: 3) { batches.append(batch) }
        #expect(batches == [Self.bars(0..<3), Self.quotes(0..<3), Self.bars(3..<6)])
    }

    @Test("records of every kind share their symbols across records and kinds")
    func sharedSymbols() throws {
        let segment = [Self.bars(0..<1), Self.quotes(0..<1), Self.fairValues(0..<1)].flatMap { Self.record(Self.encoded($0)) }
        let read = try segment.withUnsafeBytes { try SpoolSegmentReader(bytes: $0).readAll() }
        try #require(read.batches.count == 3)
        func storage(_ symbol: OptionSymbol) -> UnsafePointer<UInt8>? {
            symbol.raw.utf8.withContiguousStorageIfAvailable { $0.baseAddress }!
        }
        guard case .aggregates(let bars) = read.batches[0], case .quotes(let quotes) = read.batches[1],
            case .fairValues(let values) = read.batches[2]
        else {
            Issue.record("kinds out of order: \(read.batches.map(\.kind))")
            return
        }
        #expect(storage(bars[0].symbol) == storage(quotes[0].symbol))
        #expect(storage(bars[0].symbol) == storage(values[0].symbol))
    }

    @Test("a segment of format 1 and 2 trade records between the new kinds still reads")
    func oldTradeFormatsBetweenKinds() throws {
        var version1: [UInt8] = []
        #expect(SpoolRecordCodec.encodeVersion1(SpoolTests.trades(0..<2), into: &version1))
        let segment = Self.record(version1) + Self.record(Self.encoded(Self.quotes(0..<1)))
            + Self.record(Self.encoded(Self.trades(2..<4)))
        let reader = segment.withUnsafeBytes { SpoolSegmentReader(bytes: $0) }
        let read = try reader.readAll()
        #expect(read.batches == [Self.trades(0..<2), Self.quotes(0..<1), Self.trades(2..<4)])
        #expect(reader.trades == 4)
    }
}

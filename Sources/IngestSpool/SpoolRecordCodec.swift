import OptionsFeed

/// The payload of one spool record: a batch of one record type in a compact
/// binary form (little-endian), read back into the same records.
///
/// The payload's first byte names its format (`Format`), which says both the
/// record type and its layout; the formats are listed in docs/design.md
/// §5.2.2. Every format then holds the batch's record count as a LEB128
/// varint (the version 1 trade format: a `u32`) and the records one after the
/// other, each starting with its symbol (length, then UTF-8). A new layout of
/// a type gets a new format byte, and the old ones are still read, so a spool
/// left by an earlier release replays.
///
/// Trades: format 2 (written now) stores each symbol's length and each
/// condition list's length as varints, so every trade that exists in memory
/// can be encoded (format 1's 16-bit lengths trapped on a symbol or condition
/// list longer than 65 535), and a usual trade takes 2 bytes less. Format 1
/// records, left by an earlier release, are still read.
enum SpoolRecordCodec {
    /// What a payload's first byte says it holds.
    enum Format: UInt8, CaseIterable {
        /// Trades, 16-bit lengths (an earlier release): read, not written.
        case tradesV1 = 1
        /// Trades, varint lengths.
        case tradesV2 = 2
        case aggregatesV1 = 3
        case quotesV1 = 4
        case fairValuesV1 = 5

        /// The format a batch of `kind` is written in.
        static func current(_ kind: RecordKind) -> Format {
            switch kind {
            case .trade: .tradesV2
            case .aggregate: .aggregatesV1
            case .quote: .quotesV1
            case .fmv: .fairValuesV1
            }
        }

        var kind: RecordKind {
            switch self {
            case .tradesV1, .tradesV2: .trade
            case .aggregatesV1: .aggregate
            case .quotesV1: .quote
            case .fairValuesV1: .fmv
            }
        }
    }

    /// The format trades are written in.
    static let version = Format.tradesV2.rawValue
    static let version1 = Format.tradesV1.rawValue

    /// Encodes the batch in its type's current format; total: every record fits.
    static func encode(_ batch: RecordBatch, into bytes: inout [UInt8]) {
        switch batch {
        case .trades(let rows): encode(rows, into: &bytes)
        case .aggregates(let rows): encode(rows, format: .aggregatesV1, into: &bytes, record: appendAggregate)
        case .quotes(let rows): encode(rows, format: .quotesV1, into: &bytes, record: appendQuote)
        case .fairValues(let rows): encode(rows, format: .fairValuesV1, into: &bytes, record: appendFairValue)
        }
    }

    /// Encodes trades in the current trade format (2); total: every trade fits.
    static func encode(_ trades: some Collection<OptionTrade>, into bytes: inout [UInt8]) {
        encode(trades, format: .tradesV2, into: &bytes, record: appendTrade)
    }

    private static func encode<Records: Collection>(
        _ records: Records, format: Format, into bytes: inout [UInt8], record: (Records.Element, inout [UInt8]) -> Void
    ) {
        bytes.append(format.rawValue)
        appendVarint(UInt64(records.count), to: &bytes)
        for element in records { record(element, &bytes) }
    }

    private static func appendSymbol(_ symbol: OptionSymbol, to bytes: inout [UInt8]) {
        var raw = symbol.raw
        raw.withUTF8 { utf8 in
            appendVarint(UInt64(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    /// Format 2: symbol, exchange `u16`, price `f64`, size `i64`, conditions
    /// (varint count, `i16` each), timestamp, sequence, received (`i64`).
    private static func appendTrade(_ trade: OptionTrade, to bytes: inout [UInt8]) {
        appendSymbol(trade.symbol, to: &bytes)
        append(UInt16(bitPattern: trade.exchange), to: &bytes)
        append(trade.price.bitPattern, to: &bytes)
        append(UInt64(bitPattern: trade.size), to: &bytes)
        appendVarint(UInt64(trade.conditions.count), to: &bytes)
        for condition in trade.conditions { append(UInt16(bitPattern: condition), to: &bytes) }
        append(UInt64(bitPattern: trade.timestampMs), to: &bytes)
        append(UInt64(bitPattern: trade.sequence), to: &bytes)
        append(UInt64(bitPattern: trade.receivedAtMicros), to: &bytes)
    }

    /// Which of an aggregate's optional fields follow its required ones, in this order.
    struct AggregatePresence: OptionSet {
        let rawValue: UInt8
        static let dayVolume = AggregatePresence(rawValue: 1 << 0)
        static let dayVWAP = AggregatePresence(rawValue: 1 << 1)
        static let dayOpen = AggregatePresence(rawValue: 1 << 2)
        static let averageSize = AggregatePresence(rawValue: 1 << 3)
        static let all: AggregatePresence = [.dayVolume, .dayVWAP, .dayOpen, .averageSize]
    }

    /// The period byte of an aggregate.
    static let secondPeriod: UInt8 = 0
    static let minutePeriod: UInt8 = 1

    /// Format 3: symbol, period `u8` (0 second, 1 minute), presence `u8`
    /// (`AggregatePresence`), start, end `i64`, open, high, low, close `f64`,
    /// volume `i64`, VWAP `f64`, then the optional fields present (day volume
    /// `i64`, day VWAP, day open, average size `f64`), received `i64`.
    private static func appendAggregate(_ bar: OptionAggregate, to bytes: inout [UInt8]) {
        appendSymbol(bar.symbol, to: &bytes)
        bytes.append(bar.period == .second ? secondPeriod : minutePeriod)
        var presence: AggregatePresence = []
        if bar.dayVolume != nil { presence.insert(.dayVolume) }
        if bar.dayVWAP != nil { presence.insert(.dayVWAP) }
        if bar.dayOpen != nil { presence.insert(.dayOpen) }
        if bar.averageSize != nil { presence.insert(.averageSize) }
        bytes.append(presence.rawValue)
        append(UInt64(bitPattern: bar.startMs), to: &bytes)
        append(UInt64(bitPattern: bar.endMs), to: &bytes)
        append(bar.open.bitPattern, to: &bytes)
        append(bar.high.bitPattern, to: &bytes)
        append(bar.low.bitPattern, to: &bytes)
        append(bar.close.bitPattern, to: &bytes)
        append(UInt64(bitPattern: bar.volume), to: &bytes)
        append(bar.vwap.bitPattern, to: &bytes)
        if let dayVolume = bar.dayVolume { append(UInt64(bitPattern: dayVolume), to: &bytes) }
        if let dayVWAP = bar.dayVWAP { append(dayVWAP.bitPattern, to: &bytes) }
        if let dayOpen = bar.dayOpen { append(dayOpen.bitPattern, to: &bytes) }
        if let averageSize = bar.averageSize { append(averageSize.bitPattern, to: &bytes) }
        append(UInt64(bitPattern: bar.receivedAtMicros), to: &bytes)
    }

    /// Format 4: symbol, bid and ask exchange `u16`, bid and ask price `f64`,
    /// bid and ask size, timestamp, sequence, received `i64`.
    private static func appendQuote(_ quote: OptionQuote, to bytes: inout [UInt8]) {
        appendSymbol(quote.symbol, to: &bytes)
        append(UInt16(bitPattern: quote.bidExchange), to: &bytes)
        append(UInt16(bitPattern: quote.askExchange), to: &bytes)
        append(quote.bidPrice.bitPattern, to: &bytes)
        append(quote.askPrice.bitPattern, to: &bytes)
        append(UInt64(bitPattern: quote.bidSize), to: &bytes)
        append(UInt64(bitPattern: quote.askSize), to: &bytes)
        append(UInt64(bitPattern: quote.timestampMs), to: &bytes)
        append(UInt64(bitPattern: quote.sequence), to: &bytes)
        append(UInt64(bitPattern: quote.receivedAtMicros), to: &bytes)
    }

    /// Format 5: symbol, value `f64`, timestamp (ns), received `i64`.
    private static func appendFairValue(_ value: OptionFMV, to bytes: inout [UInt8]) {
        appendSymbol(value.symbol, to: &bytes)
        append(value.fmv.bitPattern, to: &bytes)
        append(UInt64(bitPattern: value.timestampNanos), to: &bytes)
        append(UInt64(bitPattern: value.receivedAtMicros), to: &bytes)
    }

    /// The version 1 trade form (16-bit lengths), for tests and the fuzz probe's
    /// round trip of version 1 input; `false`, with `bytes` as it was, when a
    /// count or length does not fit its field.
    static func encodeVersion1(_ trades: some Collection<OptionTrade>, into bytes: inout [UInt8]) -> Bool {
        guard let count = UInt32(exactly: trades.count) else { return false }
        let start = bytes.count
        bytes.append(version1)
        append(count, to: &bytes)
        for trade in trades {
            var symbol = trade.symbol.raw
            let fits: Bool = symbol.withUTF8 { utf8 in
                guard let length = UInt16(exactly: utf8.count) else { return false }
                append(length, to: &bytes)
                bytes.append(contentsOf: utf8)
                return true
            }
            guard fits, let conditionCount = UInt16(exactly: trade.conditions.count) else {
                bytes.removeSubrange(start...)
                return false
            }
            append(UInt16(bitPattern: trade.exchange), to: &bytes)
            append(trade.price.bitPattern, to: &bytes)
            append(UInt64(bitPattern: trade.size), to: &bytes)
            append(conditionCount, to: &bytes)
            for condition in trade.conditions { append(UInt16(bitPattern: condition), to: &bytes) }
            append(UInt64(bitPattern: trade.timestampMs), to: &bytes)
            append(UInt64(bitPattern: trade.sequence), to: &bytes)
            append(UInt64(bitPattern: trade.receivedAtMicros), to: &bytes)
        }
        return true
    }

    /// `nil` when the payload does not parse (a checksum collision or a bug: counted as corrupt).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> RecordBatch? {
        var decoder = Decoder()
        return decoder.decode(bytes)
    }

    /// Decodes payloads with the contracts and condition lists met so far
    /// shared between records, as the feed decoder does: a segment of 100 000
    /// trades on 2 000 contracts allocates 2 000 symbols, not 100 000 (docs/performance.md).
    struct Decoder {
        var symbols = SymbolTable()
        var conditionLists = ConditionLists()

        /// `nil` when the payload does not parse (a checksum collision or a bug:
        /// counted as corrupt), names a format this release does not know, or
        /// holds a record the feed decoder would have refused.
        mutating func decode(_ bytes: UnsafeRawBufferPointer) -> RecordBatch? {
            var reader = Reader(bytes: bytes)
            guard let byte = reader.byte(), let format = Format(rawValue: byte) else { return nil }
            let count = format == .tradesV1 ? reader.integer(UInt32.self).map(UInt64.init) : reader.varint()
            let batch: RecordBatch?
            switch format {
            case .tradesV1, .tradesV2:
                let wide = format == .tradesV2
                batch = records(count, &reader, minimumTradeBytes) { $0.trade(&$1, wide: wide) }.map(RecordBatch.trades)
            case .aggregatesV1:
                batch = records(count, &reader, minimumAggregateBytes) { $0.aggregate(&$1) }.map(RecordBatch.aggregates)
            case .quotesV1:
                batch = records(count, &reader, minimumQuoteBytes) { $0.quote(&$1) }.map(RecordBatch.quotes)
            case .fairValuesV1:
                batch = records(count, &reader, minimumFairValueBytes) { $0.fairValue(&$1) }.map(RecordBatch.fairValues)
            }
            return reader.isAtEnd ? batch : nil
        }

        /// `count` records read by `record`, each at least `minimumBytes` long; `nil` when one does not read.
        private mutating func records<Record>(
            _ count: UInt64?, _ reader: inout Reader, _ minimumBytes: Int, _ record: (inout Decoder, inout Reader) -> Record?
        ) -> [Record]? {
            guard var remaining = count else { return nil }
            var records: [Record] = []
            // The count is read from disk: reserve no more than the payload can hold.
            records.reserveCapacity(Int(min(remaining, UInt64(reader.remaining / minimumBytes))))
            while remaining > 0 {
                remaining -= 1
                guard let next = record(&self, &reader) else { return nil }
                records.append(next)
            }
            return records
        }

        private mutating func symbol(_ reader: inout Reader, wide: Bool = true) -> OptionSymbol? {
            guard let length = Self.length(&reader, wide: wide), let utf8 = reader.bytes(length) else { return nil }
            return symbols.symbol(utf8: utf8)
        }

        /// A length from disk: a varint, or in trade format 1 a `u16`.
        private static func length(_ reader: inout Reader, wide: Bool) -> Int? {
            if wide { return reader.varint().flatMap { Int(exactly: $0) } }
            return reader.integer(UInt16.self).map { Int($0) }
        }

        /// Counts and lengths are read from disk: each is checked against the bytes left before use.
        private mutating func trade(_ reader: inout Reader, wide: Bool) -> OptionTrade? {
            guard let symbol = symbol(&reader, wide: wide),
                let exchange = reader.integer(UInt16.self), let price = reader.integer(UInt64.self),
                let size = reader.integer(UInt64.self), let conditionCount = Self.length(&reader, wide: wide),
                conditionCount <= reader.remaining / 2
            else { return nil }
            var conditions = ConditionLists.Codes()
            for _ in 0..<conditionCount {
                guard let condition = reader.integer(UInt16.self) else { return nil }
                conditions.append(Int16(bitPattern: condition))
            }
            guard let timestamp = reader.integer(UInt64.self), let sequence = reader.integer(UInt64.self),
                let received = reader.integer(UInt64.self)
            else { return nil }
            let trade = OptionTrade(
                symbol: symbol, exchange: Int16(bitPattern: exchange), price: Double(bitPattern: price),
                size: Int64(bitPattern: size), conditions: conditionLists.list(conditions),
                timestampMs: Int64(bitPattern: timestamp), sequence: Int64(bitPattern: sequence),
                receivedAtMicros: Int64(bitPattern: received))
            // Only what the decoder could have produced: anything else would trap in the writers' arithmetic.
            return isPlausible(trade) ? trade : nil
        }

        private mutating func aggregate(_ reader: inout Reader) -> OptionAggregate? {
            guard let symbol = symbol(&reader), let periodByte = reader.byte(), let presenceByte = reader.byte() else { return nil }
            let period: OptionAggregate.Period
            switch periodByte {
            case secondPeriod: period = .second
            case minutePeriod: period = .minute
            default: return nil
            }
            let presence = AggregatePresence(rawValue: presenceByte)
            // A bit this format does not define: not written by this codec.
            guard AggregatePresence.all.isSuperset(of: presence) else { return nil }
            guard let start = reader.int64(), let end = reader.int64(), let open = reader.double(), let high = reader.double(),
                let low = reader.double(), let close = reader.double(), let volume = reader.int64(), let vwap = reader.double()
            else { return nil }
            var dayVolume: Int64?, dayVWAP: Double?, dayOpen: Double?, averageSize: Double?
            if presence.contains(.dayVolume) {
                guard let value = reader.int64() else { return nil }
                dayVolume = value
            }
            if presence.contains(.dayVWAP) {
                guard let value = reader.double() else { return nil }
                dayVWAP = value
            }
            if presence.contains(.dayOpen) {
                guard let value = reader.double() else { return nil }
                dayOpen = value
            }
            if presence.contains(.averageSize) {
                guard let value = reader.double() else { return nil }
                averageSize = value
            }
            guard let received = reader.int64() else { return nil }
            let bar = OptionAggregate(
                symbol: symbol, period: period, startMs: start, endMs: end, open: open, high: high, low: low, close: close,
                volume: volume, vwap: vwap, dayVolume: dayVolume, dayVWAP: dayVWAP, dayOpen: dayOpen, averageSize: averageSize,
                receivedAtMicros: received)
            return isPlausible(bar) ? bar : nil
        }

        private mutating func quote(_ reader: inout Reader) -> OptionQuote? {
            guard let symbol = symbol(&reader), let bidExchange = reader.integer(UInt16.self),
                let askExchange = reader.integer(UInt16.self), let bidPrice = reader.double(), let askPrice = reader.double(),
                let bidSize = reader.int64(), let askSize = reader.int64(), let timestamp = reader.int64(),
                let sequence = reader.int64(), let received = reader.int64()
            else { return nil }
            let quote = OptionQuote(
                symbol: symbol, bidExchange: Int16(bitPattern: bidExchange), askExchange: Int16(bitPattern: askExchange),
                bidPrice: bidPrice, askPrice: askPrice, bidSize: bidSize, askSize: askSize, timestampMs: timestamp,
                sequence: sequence, receivedAtMicros: received)
            return isPlausible(quote) ? quote : nil
        }

        private mutating func fairValue(_ reader: inout Reader) -> OptionFMV? {
            guard let symbol = symbol(&reader), let fmv = reader.double(), let nanos = reader.int64(), let received = reader.int64()
            else { return nil }
            let value = OptionFMV(symbol: symbol, fmv: fmv, timestampNanos: nanos, receivedAtMicros: received)
            return isPlausible(value) ? value : nil
        }
    }

    /// The smallest encoded trade (format 2): symbol length + an 18-byte
    /// symbol + the fixed fields; format 1 trades are 2 bytes longer.
    static let minimumTradeBytes = 1 + 18 + 2 + 8 + 8 + 1 + 8 + 8 + 8
    /// The smallest encoded aggregate: symbol, period, presence, 8 required fields, received.
    static let minimumAggregateBytes = 1 + 18 + 1 + 1 + 8 * 8 + 8
    /// The smallest encoded quote: symbol, 2 exchanges, 7 fields of 8 bytes.
    static let minimumQuoteBytes = 1 + 18 + 2 + 2 + 7 * 8
    /// The smallest encoded fair value: symbol, value, timestamp, received.
    static let minimumFairValueBytes = 1 + 18 + 3 * 8

    /// The receive times (Unix µs) a record may carry: 1970 up to the end of
    /// `OptionTrade.timestampRange`, so the µs arithmetic downstream stays in range.
    static let receivedRange: ClosedRange<Int64> = 0...OptionTrade.timestampRange.upperBound * 1000

    /// The checks the decoder made on the way in (price, size, timestamps), made
    /// again on bytes read back from disk.
    static func isPlausible(_ trade: OptionTrade) -> Bool {
        trade.price.isFinite && trade.price > 0 && trade.size > 0 && trade.notional.isFinite
            && OptionTrade.timestampRange.contains(trade.timestampMs)
            && receivedRange.contains(trade.receivedAtMicros)
    }

    /// The frame decoder's checks of a bar (`AggregateFields.aggregate`), made
    /// again on bytes read back from disk: positive finite prices with
    /// `low ≤ open, close ≤ high`, a positive volume, a start before the end,
    /// both within `OptionTrade.timestampRange`; the optional fields of their kind.
    static func isPlausible(_ bar: OptionAggregate) -> Bool {
        func isPrice(_ value: Double) -> Bool { value.isFinite && value > 0 }
        return isPrice(bar.open) && isPrice(bar.high) && isPrice(bar.low) && isPrice(bar.close) && isPrice(bar.vwap)
            && bar.volume > 0
            && OptionTrade.timestampRange.contains(bar.startMs) && OptionTrade.timestampRange.contains(bar.endMs)
            && bar.endMs > bar.startMs && bar.low <= bar.high
            && (bar.low...bar.high).contains(bar.open) && (bar.low...bar.high).contains(bar.close)
            && (bar.dayVolume.map { $0 >= 0 } ?? true) && (bar.dayOpen.map(isPrice) ?? true) && (bar.dayVWAP.map(isPrice) ?? true)
            && (bar.averageSize.map { $0.isFinite && $0 >= 0 } ?? true)
            && receivedRange.contains(bar.receivedAtMicros)
    }

    /// The frame decoder's checks of a quote (`QuoteFields.quote`), made again
    /// on bytes read back from disk: finite prices ≥ 0, sizes ≥ 0, exchanges
    /// ≥ 0, the timestamp within `OptionTrade.timestampRange`, a sequence ≥ 0.
    static func isPlausible(_ quote: OptionQuote) -> Bool {
        quote.bidPrice.isFinite && quote.askPrice.isFinite && quote.bidPrice >= 0 && quote.askPrice >= 0
            && quote.bidSize >= 0 && quote.askSize >= 0 && quote.bidExchange >= 0 && quote.askExchange >= 0
            && OptionTrade.timestampRange.contains(quote.timestampMs) && quote.sequence >= 0
            && receivedRange.contains(quote.receivedAtMicros)
    }

    /// The frame decoder's checks of a fair value (`FMVFields.value`), made
    /// again on bytes read back from disk: a finite value ≥ 0 and a timestamp
    /// within `OptionFMV.timestampRange`.
    static func isPlausible(_ value: OptionFMV) -> Bool {
        value.fmv.isFinite && value.fmv >= 0 && OptionFMV.timestampRange.contains(value.timestampNanos)
            && receivedRange.contains(value.receivedAtMicros)
    }

    /// Every record of the batch is plausible.
    static func isPlausible(_ batch: RecordBatch) -> Bool {
        switch batch {
        case .trades(let rows): rows.allSatisfy { isPlausible($0) }
        case .aggregates(let rows): rows.allSatisfy { isPlausible($0) }
        case .quotes(let rows): rows.allSatisfy { isPlausible($0) }
        case .fairValues(let rows): rows.allSatisfy { isPlausible($0) }
        }
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// LEB128: 7 bits a byte, low bits first, the high bit set on every byte but the last.
    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }
        var remaining: Int { bytes.count - offset }

        /// A LEB128 varint in its shortest form (the only one `appendVarint`
        /// writes); `nil` when it runs past the end, past 64 bits, or has a
        /// needless trailing zero byte.
        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = self.byte() {
                let bits = UInt64(byte & 0x7F)
                guard shift < 64, shift < 63 || bits <= 1 else { return nil }
                value |= bits << shift
                if byte & 0x80 == 0 { return byte == 0 && shift > 0 ? nil : value }
                shift += 7
            }
            return nil
        }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard offset + size <= bytes.count else { return nil }
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])) }
            offset += size
            return T(littleEndian: value)
        }

        mutating func int64() -> Int64? { integer(UInt64.self).map { Int64(bitPattern: $0) } }

        mutating func double() -> Double? { integer(UInt64.self).map { Double(bitPattern: $0) } }

        mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
            // `count` comes from disk: compared with what is left, never added to the offset first.
            guard count >= 0, count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }
    }
}

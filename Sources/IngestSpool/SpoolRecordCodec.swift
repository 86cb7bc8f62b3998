import OptionsFeed

/// The payload of one spool record: a batch of trades in a compact binary
/// form (little-endian), read back into the same `OptionTrade`s.
///
/// Version 2 (written now) stores the batch's trade count, each symbol's
/// length and each condition list's length as LEB128 varints, so every
/// trade that exists in memory can be encoded (version 1's 16-bit lengths
/// trapped on a symbol or condition list longer than 65 535), and a usual
/// trade takes 2 bytes less. Version 1 records, left by an earlier release,
/// are still read.
enum SpoolRecordCodec {
    static let version: UInt8 = 2
    static let version1: UInt8 = 1

    /// Encodes the batch in the current version; total: every trade fits.
    static func encode(_ trades: some Collection<OptionTrade>, into bytes: inout [UInt8]) {
        bytes.append(version)
        appendVarint(UInt64(trades.count), to: &bytes)
        for trade in trades {
            var symbol = trade.symbol.raw
            symbol.withUTF8 { utf8 in
                appendVarint(UInt64(utf8.count), to: &bytes)
                bytes.append(contentsOf: utf8)
            }
            append(UInt16(bitPattern: trade.exchange), to: &bytes)
            append(trade.price.bitPattern, to: &bytes)
            append(UInt64(bitPattern: trade.size), to: &bytes)
            appendVarint(UInt64(trade.conditions.count), to: &bytes)
            for condition in trade.conditions { append(UInt16(bitPattern: condition), to: &bytes) }
            append(UInt64(bitPattern: trade.timestampMs), to: &bytes)
            append(UInt64(bitPattern: trade.sequence), to: &bytes)
            append(UInt64(bitPattern: trade.receivedAtMicros), to: &bytes)
        }
    }

    /// The version 1 form (16-bit lengths), for tests and the fuzz probe's
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
    static func decode(_ bytes: UnsafeRawBufferPointer) -> [OptionTrade]? {
        var decoder = Decoder()
        return decoder.decode(bytes)
    }

    /// Decodes payloads with the contracts and condition lists met so far
    /// shared between trades, as the feed decoder does: a segment of 100 000
    /// trades on 2 000 contracts allocates 2 000 symbols, not 100 000 (docs/performance.md).
    struct Decoder {
        var symbols = SymbolTable()
        var conditionLists = ConditionLists()

        /// `nil` when the payload does not parse (a checksum collision or a bug: counted as corrupt).
        mutating func decode(_ bytes: UnsafeRawBufferPointer) -> [OptionTrade]? {
            var reader = Reader(bytes: bytes)
            guard let format = reader.byte(), format == version || format == version1 else { return nil }
            let wide = format == version
            // Counts and lengths are read from disk: each is checked against the bytes left before use.
            func length(_ reader: inout Reader) -> Int? {
                if wide { return reader.varint().flatMap { Int(exactly: $0) } }
                return reader.integer(UInt16.self).map { Int($0) }
            }
            guard let count = wide ? reader.varint() : reader.integer(UInt32.self).map({ UInt64($0) }) else { return nil }
            var trades: [OptionTrade] = []
            // Reserve no more than the payload can hold.
            trades.reserveCapacity(Int(min(count, UInt64(bytes.count / minimumTradeBytes))))
            var remaining = count
            while remaining > 0 {
                remaining -= 1
                guard let symbolLength = length(&reader), let symbolBytes = reader.bytes(symbolLength),
                    let symbol = symbols.symbol(utf8: symbolBytes),
                    let exchange = reader.integer(UInt16.self), let price = reader.integer(UInt64.self),
                    let size = reader.integer(UInt64.self), let conditionCount = length(&reader),
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
                guard isPlausible(trade) else { return nil }
                trades.append(trade)
            }
            return reader.isAtEnd ? trades : nil
        }
    }

    /// The smallest encoded trade (version 2): symbol length + an 18-byte
    /// symbol + the fixed fields; version 1 trades are 2 bytes longer.
    static let minimumTradeBytes = 1 + 18 + 2 + 8 + 8 + 1 + 8 + 8 + 8

    /// The checks the decoder made on the way in (price, size, timestamps), made
    /// again on bytes read back from disk.
    static func isPlausible(_ trade: OptionTrade) -> Bool {
        trade.price.isFinite && trade.price > 0 && trade.size > 0 && trade.notional.isFinite
            && OptionTrade.timestampRange.contains(trade.timestampMs)
            && (0...OptionTrade.timestampRange.upperBound * 1000).contains(trade.receivedAtMicros)
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

        mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
            // `count` comes from disk: compared with what is left, never added to the offset first.
            guard count >= 0, count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }
    }
}

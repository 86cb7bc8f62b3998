import OptionsFeed

/// The payload of one spool record: a batch of trades in a compact binary
/// form (little-endian), read back into the same `OptionTrade`s.
enum SpoolRecordCodec {
    static let version: UInt8 = 1

    static func encode(_ trades: some Collection<OptionTrade>, into bytes: inout [UInt8]) {
        bytes.append(version)
        append(UInt32(trades.count), to: &bytes)
        for trade in trades {
            var symbol = trade.symbol.raw
            symbol.withUTF8 { utf8 in
                append(UInt16(utf8.count), to: &bytes)
                bytes.append(contentsOf: utf8)
            }
            append(UInt16(bitPattern: trade.exchange), to: &bytes)
            append(trade.price.bitPattern, to: &bytes)
            append(UInt64(bitPattern: trade.size), to: &bytes)
            append(UInt16(trade.conditions.count), to: &bytes)
            for condition in trade.conditions { append(UInt16(bitPattern: condition), to: &bytes) }
            append(UInt64(bitPattern: trade.timestampMs), to: &bytes)
            append(UInt64(bitPattern: trade.sequence), to: &bytes)
            append(UInt64(bitPattern: trade.receivedAtMicros), to: &bytes)
        }
    }

    /// `nil` when the payload does not parse (a checksum collision or a bug: counted as corrupt).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> [OptionTrade]? {
        var decoder = Decoder()
        return decoder.decode(bytes)
    }

    /// Decodes payloads with the contracts and condition lists met so far
    /// shared between trades, as the feed decoder does: a segment of 100 000
    /// trades on 2 000 contracts allocates 2 000 symbols, not 100 000 (issue 8).
    struct Decoder {
        var symbols = SymbolTable()
        var conditionLists = ConditionLists()

        /// `nil` when the payload does not parse (a checksum collision or a bug: counted as corrupt).
        mutating func decode(_ bytes: UnsafeRawBufferPointer) -> [OptionTrade]? {
            var reader = Reader(bytes: bytes)
            guard reader.byte() == version, let count = reader.integer(UInt32.self) else { return nil }
            var trades: [OptionTrade] = []
            // The count is read from disk: reserve no more than the payload can hold.
            trades.reserveCapacity(min(Int(count), bytes.count / minimumTradeBytes))
            for _ in 0..<count {
                guard let length = reader.integer(UInt16.self), let symbolBytes = reader.bytes(Int(length)),
                    let symbol = symbols.symbol(utf8: symbolBytes),
                    let exchange = reader.integer(UInt16.self), let price = reader.integer(UInt64.self),
                    let size = reader.integer(UInt64.self), let conditionCount = reader.integer(UInt16.self)
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

    /// The smallest encoded trade: symbol length + an 18-byte symbol + the fixed fields.
    static let minimumTradeBytes = 2 + 18 + 2 + 8 + 8 + 2 + 8 + 8 + 8

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

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

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
            guard offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }
    }
}

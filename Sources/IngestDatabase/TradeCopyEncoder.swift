import OptionsFeed

/// Encodes trades in PostgreSQL's `COPY … (FORMAT binary)` format, in the
/// column order of `TradeCopyEncoder.columns`. Feed data never becomes SQL text.
public struct TradeCopyEncoder: Sendable {
    /// The `options_trades` columns, in the order each row is written.
    public static let columns = [
        "sym", "underlying", "expiry", "option_type", "strike", "exchange", "price", "size", "notional",
        "conditions", "ts", "seq", "received_at",
    ]

    /// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's timestamp epoch.
    static let postgresEpochOffsetMicros: Int64 = 946_684_800_000_000
    static let int2OID: Int32 = 21

    public init() {}

    /// Replaces `output` with the COPY stream (header, rows, trailer) for `trades`.
    public func encode(_ trades: some Sequence<OptionTrade>, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        // Signature "PGCOPY\n\377\r\n\0", flags, header extension length.
        // Room for the usual row (~150 bytes) up front: the appends below then never grow the array.
        output.reserveCapacity(19 + 160 * trades.underestimatedCount)
        output.append(contentsOf: [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00])
        output.appendInt32(0)
        output.appendInt32(0)
        for trade in trades {
            encodeRow(trade, into: &output)
        }
        output.appendInt16(-1)
    }

    func encodeRow(_ trade: OptionTrade, into output: inout [UInt8]) {
        output.appendInt16(Int16(Self.columns.count))
        output.appendText(trade.symbol.raw)
        output.appendText(trade.symbol.underlying)
        output.appendInt32(4)
        output.appendInt32(trade.symbol.expiry.daysSince2000)
        output.appendInt32(1)
        output.append(trade.symbol.type.rawValue)
        Self.appendNumeric(thousandths: trade.symbol.strikeThousandths, into: &output)
        output.appendInt32(2)
        output.appendInt16(trade.exchange)
        output.appendInt32(8)
        output.appendInt64(Int64(bitPattern: trade.price.bitPattern))
        output.appendInt32(8)
        output.appendInt64(trade.size)
        output.appendInt32(8)
        output.appendInt64(Int64(bitPattern: trade.notional.bitPattern))
        Self.appendInt2Array(trade.conditions, into: &output)
        output.appendInt32(8)
        output.appendInt64(trade.timestampMs * 1000 - Self.postgresEpochOffsetMicros)
        output.appendInt32(8)
        output.appendInt64(trade.sequence)
        output.appendInt32(8)
        output.appendInt64(trade.receivedAtMicros - Self.postgresEpochOffsetMicros)
    }

    /// `numeric` send format for a value given in thousandths (display scale 3):
    /// digit count, weight, sign, dscale, then base-10000 digits.
    static func appendNumeric(thousandths value: Int64, into output: inout [UInt8]) {
        let negative = value < 0
        let magnitude = value.magnitude
        let integerPart = magnitude / 1000
        let fraction = magnitude % 1000
        // At most 5 base-10000 integer groups (|Int64| / 1000 < 10^16) and one for the fraction:
        // on the stack, so a row costs no allocation.
        withUnsafeTemporaryAllocation(of: Int16.self, capacity: 6) { digits in
            var integerGroups = 0
            var rest = integerPart
            while rest > 0 {
                rest /= 10_000
                integerGroups += 1
            }
            rest = integerPart
            for index in stride(from: integerGroups - 1, through: 0, by: -1) {
                digits[index] = Int16(rest % 10_000)
                rest /= 10_000
            }
            var count = integerGroups
            var weight = Int16(integerGroups - 1)
            if fraction != 0 {
                if integerGroups == 0 { weight = -1 }
                digits[count] = Int16(fraction * 10)  // 3 decimals fill the first base-10000 group as ×10
                count += 1
            }
            while count > 0, digits[count - 1] == 0 { count -= 1 }
            if count == 0 { weight = 0 }
            output.appendInt32(Int32(8 + 2 * count))
            output.appendInt16(Int16(count))
            output.appendInt16(weight)
            output.appendUInt16(negative && count > 0 ? 0x4000 : 0x0000)
            output.appendInt16(3)
            for index in 0..<count { output.appendInt16(digits[index]) }
        }
    }

    /// One-dimensional `smallint[]` send format; an empty array has no dimensions.
    static func appendInt2Array(_ values: [Int16], into output: inout [UInt8]) {
        if values.isEmpty {
            output.appendInt32(12)
            output.appendInt32(0)  // dimensions
            output.appendInt32(0)  // has nulls
            output.appendInt32(int2OID)
            return
        }
        output.appendInt32(Int32(20 + 6 * values.count))
        output.appendInt32(1)
        output.appendInt32(0)
        output.appendInt32(int2OID)
        output.appendInt32(Int32(values.count))
        output.appendInt32(1)  // lower bound
        for value in values {
            output.appendInt32(2)
            output.appendInt16(value)
        }
    }
}

extension [UInt8] {
    @inline(__always) mutating func appendInt16(_ value: Int16) { appendUInt16(UInt16(bitPattern: value)) }

    @inline(__always) mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always) mutating func appendInt32(_ value: Int32) {
        let bits = UInt32(bitPattern: value)
        append(UInt8(truncatingIfNeeded: bits >> 24))
        append(UInt8(truncatingIfNeeded: bits >> 16))
        append(UInt8(truncatingIfNeeded: bits >> 8))
        append(UInt8(truncatingIfNeeded: bits))
    }

    @inline(__always) mutating func appendInt64(_ value: Int64) {
        appendInt32(Int32(truncatingIfNeeded: value >> 32))
        appendInt32(Int32(truncatingIfNeeded: value))
    }

    /// A text field: 32-bit length, then the UTF-8 bytes.
    mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            appendInt32(Int32(utf8.count))
            append(contentsOf: utf8)
        }
    }
}

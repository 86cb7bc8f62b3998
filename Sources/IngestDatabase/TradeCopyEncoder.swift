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
    /// Two passes: the rows' sizes first, then big-endian stores into memory
    /// sized once, so no byte is appended one at a time (docs/performance.md: ≥ 5M rows/s).
    public func encode(_ trades: [OptionTrade], into output: inout [UInt8]) {
        encode(trades[...], into: &output)
    }

    /// Not generic on purpose: a generic across the module boundary would walk
    /// the batch through protocol witnesses, unspecialized.
    public func encode(_ trades: ArraySlice<OptionTrade>, into output: inout [UInt8]) {
        encode(trades, ends: .both, into: &output)
    }

    /// One piece of a COPY stream: `trades`' rows, after the header if `ends` has it, before the
    /// trailer if it has that. `CopyStream.encode`'s loop, written out for trades (see there).
    func encode(_ trades: ArraySlice<OptionTrade>, ends: CopyStream.Ends, into output: inout [UInt8]) {
        trades.withUnsafeBufferPointer { rows in
            var total = (ends.header ? Self.header.count : 0) + (ends.trailer ? 2 : 0)
            for index in rows.indices { total += Self.rowSize(rows[index]) }
            output.removeAll(keepingCapacity: true)
            output.append(contentsOf: repeatElement(0, count: total))
            output.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                var cursor = CopyCursor(base)
                if ends.header { Self.header.withUnsafeBytes { cursor.bytes($0) } }
                for index in rows.indices { Self.writeRow(rows[index], to: &cursor) }
                if ends.trailer { cursor.int16(-1) }
                precondition(cursor.pointer == base + total, "COPY row size mismatch")
            }
        }
    }

    /// Signature "PGCOPY\n\377\r\n\0", flags (0), header extension length (0).
    static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]

    /// Bytes of one row: the field count, then each field's length and value.
    static func rowSize(_ trade: OptionTrade) -> Int {
        2 + ContractFields.copySize(trade.symbol) + (4 + 2) + 3 * (4 + 8) + int2ArraySize(trade.conditions.count) + 3 * (4 + 8)
    }

    @inline(__always)
    static func writeRow(_ trade: OptionTrade, to cursor: inout CopyCursor) {
        cursor.int16(Int16(Self.columns.count))
        ContractFields.write(trade.symbol, to: &cursor)
        cursor.int32(2)
        cursor.int16(trade.exchange)
        cursor.int32(8)
        cursor.int64(Int64(bitPattern: trade.price.bitPattern))
        cursor.int32(8)
        cursor.int64(trade.size)
        cursor.int32(8)
        cursor.int64(Int64(bitPattern: trade.notional.bitPattern))
        writeInt2Array(trade.conditions, to: &cursor)
        cursor.int32(8)
        cursor.int64(trade.timestampMs * 1000 - Self.postgresEpochOffsetMicros)
        cursor.int32(8)
        cursor.int64(trade.sequence)
        cursor.int32(8)
        cursor.int64(trade.receivedAtMicros - Self.postgresEpochOffsetMicros)
    }

    static func int2ArraySize(_ count: Int) -> Int {
        count == 0 ? 4 + 12 : 4 + 20 + 6 * count
    }

    /// An empty array has no dimensions; others one dimension from 1.
    static func writeInt2Array(_ values: [Int16], to cursor: inout CopyCursor) {
        cursor.int32(Int32(int2ArraySize(values.count) - 4))
        cursor.int32(values.isEmpty ? 0 : 1)  // dimensions
        cursor.int32(0)  // has nulls
        cursor.int32(int2OID)
        guard !values.isEmpty else { return }
        cursor.int32(Int32(values.count))
        cursor.int32(1)  // lower bound
        for value in values {
            cursor.int32(2)
            cursor.int16(value)
        }
    }
}

/// A value in thousandths as `numeric`'s base-10000 digits: at most 5 integer
/// groups (|Int64| / 1000 < 10^16) and one for the fraction, held inline.
struct NumericDigits {
    var digits = SIMD8<Int16>()
    var count = 0
    var weight: Int16 = 0
    var negative: Bool

    init(thousandths value: Int64) {
        negative = value < 0
        let magnitude = value.magnitude
        let integerPart = magnitude / 1000
        let fraction = magnitude % 1000
        var integerGroups = 0
        var rest = integerPart
        while rest > 0 {
            rest /= 10_000
            integerGroups += 1
        }
        rest = integerPart
        var index = integerGroups - 1
        while index >= 0 {
            digits[index] = Int16(rest % 10_000)
            rest /= 10_000
            index -= 1
        }
        count = integerGroups
        weight = Int16(integerGroups - 1)
        if fraction != 0 {
            if integerGroups == 0 { weight = -1 }
            digits[count] = Int16(fraction * 10)  // 3 decimals fill the first base-10000 group as ×10
            count += 1
        }
        while count > 0, digits[count - 1] == 0 { count -= 1 }
        if count == 0 { weight = 0 }
    }

    /// Length word included.
    var encodedSize: Int { Self.encodedSize(digitCount: count) }

    /// Length word, the four header words, the digits.
    private static func encodedSize(digitCount: Int) -> Int { 4 + 8 + 2 * digitCount }

    /// `NumericDigits(thousandths: value).encodedSize` without working out the
    /// digits: the first pass of the encoder only needs the size.
    static func encodedSize(thousandths value: Int64) -> Int {
        let magnitude = value.magnitude
        let fraction = magnitude % 1000
        var rest = magnitude / 1000
        // Without a fraction, trailing zero groups of the integer part are left out.
        if fraction == 0 { while rest > 0, rest % 10_000 == 0 { rest /= 10_000 } }
        var count = fraction == 0 ? 0 : 1
        while rest > 0 {
            rest /= 10_000
            count += 1
        }
        return encodedSize(digitCount: count)
    }

    /// Digit count, weight, sign, display scale 3, then the digits.
    func write(to cursor: inout CopyCursor) {
        cursor.int32(Int32(8 + 2 * count))
        cursor.int16(Int16(count))
        cursor.int16(weight)
        cursor.int16(negative && count > 0 ? 0x4000 : 0x0000)
        cursor.int16(3)
        for index in 0..<count { cursor.int16(digits[index]) }
    }
}

/// A COPY binary stream (header, rows, trailer), whole or in pieces: the
/// writer encodes and sends a batch `CopyStream.rowsPerPiece` rows at a time,
/// so that its buffer holds a piece, not the batch (docs/design.md §1.4).
enum CopyStream {
    /// Which ends of the stream a piece carries: the first has the header, the last the trailer.
    struct Ends: Equatable {
        var header: Bool
        var trailer: Bool
        static let both = Ends(header: true, trailer: true)
    }

    /// Rows per piece: ~40–80 KiB of trades or quotes, about what libpq is handed at a time (64 KiB).
    static let rowsPerPiece = 256

    /// A session's buffer above this after a batch is let go rather than kept for the next.
    static let largestKeptBuffer = 1 << 20

    /// Replaces `output` with `rows` (and the ends): the rows' sizes first, then
    /// big-endian stores into memory sized once, no allocation per row. The rows are
    /// read in place: a `for … in` would copy each, retaining its symbol and conditions.
    /// The event records' encoder. Trades keep a loop of their own, the same
    /// written out for `OptionTrade`: through this generic the trade encoder
    /// wrote ~8 % fewer rows a second (`Benchmarks/`, 6.5M against 7.1M).
    @inline(__always)
    static func encode<Row: CopyRow>(_ rows: ArraySlice<Row>, ends: Ends, into output: inout [UInt8]) {
        rows.withUnsafeBufferPointer { rows in
            var total = (ends.header ? TradeCopyEncoder.header.count : 0) + (ends.trailer ? 2 : 0)
            for index in rows.indices { total += Row.copyRowSize(rows[index]) }
            output.removeAll(keepingCapacity: true)
            output.append(contentsOf: repeatElement(0, count: total))
            output.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                var cursor = CopyCursor(base)
                if ends.header { TradeCopyEncoder.header.withUnsafeBytes { cursor.bytes($0) } }
                for index in rows.indices { Row.writeCopyRow(rows[index], to: &cursor) }
                if ends.trailer { cursor.int16(-1) }
                precondition(cursor.pointer == base + total, "COPY row size mismatch")
            }
        }
    }
}

/// A row of a COPY binary stream: its size, and how it is written (the field count first).
protocol CopyRow {
    /// Bytes of the row, its field count included.
    static func copyRowSize(_ row: Self) -> Int
    static func writeCopyRow(_ row: Self, to cursor: inout CopyCursor)
}

/// Big-endian stores at a cursor into memory the caller sized beforehand.
struct CopyCursor {
    var pointer: UnsafeMutableRawPointer

    init(_ pointer: UnsafeMutableRawPointer) {
        self.pointer = pointer
    }

    @inline(__always) mutating func byte(_ value: UInt8) {
        pointer.storeBytes(of: value, as: UInt8.self)
        pointer += 1
    }

    @inline(__always) mutating func int16(_ value: Int16) {
        pointer.storeBytes(of: value.bigEndian, as: Int16.self)
        pointer += 2
    }

    @inline(__always) mutating func int32(_ value: Int32) {
        pointer.storeBytes(of: value.bigEndian, as: Int32.self)
        pointer += 4
    }

    @inline(__always) mutating func int64(_ value: Int64) {
        pointer.storeBytes(of: value.bigEndian, as: Int64.self)
        pointer += 8
    }

    @inline(__always) mutating func bytes(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        pointer.copyMemory(from: base, byteCount: bytes.count)
        pointer += bytes.count
    }

    /// A text field: 32-bit length, then the UTF-8 bytes.
    @inline(__always) mutating func text(_ text: String) {
        // Borrowed, not copied into a `var` for `withUTF8`: that cost a retain and a release per field.
        if text.utf8.withContiguousStorageIfAvailable({ field($0) }) == nil {
            var text = text
            text.withUTF8 { field($0) }
        }
    }

    @inline(__always) private mutating func field(_ utf8: UnsafeBufferPointer<UInt8>) {
        int32(Int32(utf8.count))
        bytes(UnsafeRawBufferPointer(utf8))
    }
}

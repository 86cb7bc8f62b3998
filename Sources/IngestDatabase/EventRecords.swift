import OptionsFeed

// The other event types as stored records (docs/design.md §4.4): each says
// how its row looks in its table (`migrations/0008_event_tables.sql`,
// `migrations/questdb/0005_event_tables.sql`); `EventRecord` holds what the
// three share, so that the COPY stream, the INSERT statements and the
// parameters are written once.

extension OptionAggregate: EventRecord {
    static let kind = RecordKind.aggregate
    static let columns = [
        "sym", "underlying", "expiry", "option_type", "strike", "period", "start_ts", "end_ts", "open", "high", "low", "close",
        "volume", "vwap", "day_volume", "day_vwap", "day_open", "avg_size", "received_at",
    ]
    static let conflictKey = "(sym, period, start_ts)"
    /// 19 parameters a row: 9 500 a statement, far below the protocol's 65 535.
    static let rowsPerStatement = 500
    static let statements = EventInsertStatements(
        table: kind.table, columns: columns,
        types: [
            .text, .text, .date, .text, .numeric, .text, .timestamp, .timestamp, .float8, .float8, .float8, .float8,
            .bigint, .float8, .bigint, .float8, .float8, .float8, .timestamp,
        ],
        conflictKey: conflictKey, rowsPerStatement: rowsPerStatement)

    var partitionMs: Int64 { startMs }
    var eventType: String { channel }

    @inline(__always) static func copySize(_ row: OptionAggregate) -> Int {
        ContractFields.copySize(row.symbol) + 4 + row.period.rawValue.utf8.count + 2 * (4 + 8) + 6 * (4 + 8)
            + (row.dayVolume == nil ? 4 : 12) + (row.dayVWAP == nil ? 4 : 12) + (row.dayOpen == nil ? 4 : 12)
            + (row.averageSize == nil ? 4 : 12) + (4 + 8)
    }

    @inline(__always) static func writeCopy(_ row: OptionAggregate, to cursor: inout CopyCursor) {
        ContractFields.write(row.symbol, to: &cursor)
        cursor.text(row.period.rawValue)
        cursor.timestamptz(micros: row.startMs * 1000)
        cursor.timestamptz(micros: row.endMs * 1000)
        cursor.float8(row.open)
        cursor.float8(row.high)
        cursor.float8(row.low)
        cursor.float8(row.close)
        cursor.bigint(row.volume)
        cursor.float8(row.vwap)
        cursor.bigint(row.dayVolume)
        cursor.float8(row.dayVWAP)
        cursor.float8(row.dayOpen)
        cursor.float8(row.averageSize)
        cursor.timestamptz(micros: row.receivedAtMicros)
    }

    static func appendParameters(_ row: OptionAggregate, flavor: DatabaseFlavor, to parameters: inout [String?]) {
        ContractFields.appendParameters(row.symbol, flavor: flavor, to: &parameters)
        parameters.append(row.period.rawValue)
        parameters.append(flavor.timestampParameter(micros: row.startMs * 1000))
        parameters.append(flavor.timestampParameter(micros: row.endMs * 1000))
        parameters += [
            "\(row.open)", "\(row.high)", "\(row.low)", "\(row.close)", String(row.volume), "\(row.vwap)",
            row.dayVolume.map { String($0) }, row.dayVWAP.map { "\($0)" }, row.dayOpen.map { "\($0)" }, row.averageSize.map { "\($0)" },
        ]
        parameters.append(flavor.timestampParameter(micros: row.receivedAtMicros))
    }
}

extension OptionQuote: EventRecord {
    static let kind = RecordKind.quote
    static let columns = [
        "sym", "underlying", "expiry", "option_type", "strike", "bid_exchange", "ask_exchange", "bid_price", "ask_price",
        "bid_size", "ask_size", "ts", "seq", "received_at",
    ]
    static let conflictKey = "(sym, ts, seq)"
    /// 14 parameters a row: 7 000 a statement.
    static let rowsPerStatement = 500
    static let statements = EventInsertStatements(
        table: kind.table, columns: columns,
        types: [.text, .text, .date, .text, .numeric, .smallint, .smallint, .float8, .float8, .bigint, .bigint, .timestamp, .bigint, .timestamp],
        conflictKey: conflictKey, rowsPerStatement: rowsPerStatement)

    var partitionMs: Int64 { timestampMs }
    var eventType: String { "Q" }

    @inline(__always) static func copySize(_ row: OptionQuote) -> Int {
        ContractFields.copySize(row.symbol) + 2 * (4 + 2) + 7 * (4 + 8)
    }

    @inline(__always) static func writeCopy(_ row: OptionQuote, to cursor: inout CopyCursor) {
        ContractFields.write(row.symbol, to: &cursor)
        cursor.smallint(row.bidExchange)
        cursor.smallint(row.askExchange)
        cursor.float8(row.bidPrice)
        cursor.float8(row.askPrice)
        cursor.bigint(row.bidSize)
        cursor.bigint(row.askSize)
        cursor.timestamptz(micros: row.timestampMs * 1000)
        cursor.bigint(row.sequence)
        cursor.timestamptz(micros: row.receivedAtMicros)
    }

    static func appendParameters(_ row: OptionQuote, flavor: DatabaseFlavor, to parameters: inout [String?]) {
        ContractFields.appendParameters(row.symbol, flavor: flavor, to: &parameters)
        parameters += [
            String(row.bidExchange), String(row.askExchange), "\(row.bidPrice)", "\(row.askPrice)", String(row.bidSize),
            String(row.askSize), flavor.timestampParameter(micros: row.timestampMs * 1000), String(row.sequence),
            flavor.timestampParameter(micros: row.receivedAtMicros),
        ]
    }
}

extension OptionFMV: EventRecord {
    static let kind = RecordKind.fmv
    static let columns = ["sym", "underlying", "expiry", "option_type", "strike", "fmv", "ts", "received_at"]
    static let conflictKey = "(sym, ts)"
    /// 8 parameters a row: 4 000 a statement.
    static let rowsPerStatement = 500
    static let statements = EventInsertStatements(
        table: kind.table, columns: columns, types: [.text, .text, .date, .text, .numeric, .float8, .timestamp, .timestamp],
        conflictKey: conflictKey, rowsPerStatement: rowsPerStatement)

    /// The event's ns as ms: the same UTC day as the µs `ts` stores.
    var partitionMs: Int64 { timestampNanos / 1_000_000 }
    var eventType: String { "FMV" }

    @inline(__always) static func copySize(_ row: OptionFMV) -> Int {
        ContractFields.copySize(row.symbol) + 3 * (4 + 8)
    }

    @inline(__always) static func writeCopy(_ row: OptionFMV, to cursor: inout CopyCursor) {
        ContractFields.write(row.symbol, to: &cursor)
        cursor.float8(row.fmv)
        cursor.timestamptz(micros: row.timestampMicros)
        cursor.timestamptz(micros: row.receivedAtMicros)
    }

    static func appendParameters(_ row: OptionFMV, flavor: DatabaseFlavor, to parameters: inout [String?]) {
        ContractFields.appendParameters(row.symbol, flavor: flavor, to: &parameters)
        parameters += [
            "\(row.fmv)", flavor.timestampParameter(micros: row.timestampMicros), flavor.timestampParameter(micros: row.receivedAtMicros),
        ]
    }
}

/// A record of one of the other event tables (docs/design.md §4.4): it says
/// how one row is sized and written in COPY binary and bound as parameters;
/// the stream, the statements and the batch's parameters are this
/// protocol's, the same for every such table. Its functions are static on
/// purpose: the encoder's loop calls them on the concrete type, specialised.
protocol EventRecord: StoredRecord, CopyRow {
    /// The table's INSERT statements, the full-size ones built once.
    static var statements: EventInsertStatements { get }
    /// Bytes of the row's fields in a COPY stream, the field count not included.
    static func copySize(_ row: Self) -> Int
    /// Writes the row's fields (not the field count) in the order of `columns`.
    static func writeCopy(_ row: Self, to cursor: inout CopyCursor)
    /// Appends the row's parameters, one per column, as text (`nil` for NULL).
    static func appendParameters(_ row: Self, flavor: DatabaseFlavor, to parameters: inout [String?])
}

extension EventRecord {
    /// A piece of the COPY stream, as `TradeCopyEncoder` writes trades (`CopyStream.encode`).
    static func encodeCopy(_ rows: ArraySlice<Self>, ends: CopyStream.Ends, into output: inout [UInt8]) {
        CopyStream.encode(rows, ends: ends, into: &output)
    }

    @inline(__always) static func copyRowSize(_ row: Self) -> Int { 2 + copySize(row) }

    @inline(__always) static func writeCopyRow(_ row: Self, to cursor: inout CopyCursor) {
        cursor.int16(Int16(columns.count))
        writeCopy(row, to: &cursor)
    }

    static func insertStatement(rows: Int, flavor: DatabaseFlavor) -> String {
        statements.sql(rows: rows, flavor: flavor)
    }

    static func insertParameters(_ rows: ArraySlice<Self>, flavor: DatabaseFlavor) -> [String?] {
        var parameters: [String?] = []
        parameters.reserveCapacity(rows.count * columns.count)
        for row in rows { appendParameters(row, flavor: flavor, to: &parameters) }
        return parameters
    }
}

/// The five columns every record table starts with (`options_trades`
/// included), the contract's parsed symbol: `sym`, `underlying`, `expiry`,
/// `option_type` (`C`/`P`), `strike`.
enum ContractFields {
    @inline(__always) static func copySize(_ symbol: OptionSymbol) -> Int {
        4 + symbol.raw.utf8.count + 4 + symbol.underlying.utf8.count + (4 + 4) + (4 + 1)
            + NumericDigits.encodedSize(thousandths: symbol.strikeThousandths)
    }

    @inline(__always) static func write(_ symbol: OptionSymbol, to cursor: inout CopyCursor) {
        cursor.text(symbol.raw)
        cursor.text(symbol.underlying)
        cursor.int32(4)
        cursor.int32(symbol.expiry.daysSince2000)
        cursor.int32(1)
        cursor.byte(symbol.type.rawValue)
        NumericDigits(thousandths: symbol.strikeThousandths).write(to: &cursor)
    }

    /// The strike as exact decimal text on PostgreSQL (`numeric`), as a
    /// `DOUBLE` on QuestDB, like the trades' parameters.
    static func appendParameters(_ symbol: OptionSymbol, flavor: DatabaseFlavor, to parameters: inout [String?]) {
        let strike = symbol.strikeThousandths
        let strikeText: String
        switch flavor {
        case .postgres:
            let fraction = String(strike % 1000)
            strikeText = "\(strike / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        case .questdb:
            strikeText = "\(Double(strike) / 1000)"
        }
        parameters += [symbol.raw, symbol.underlying, symbol.expiry.description, symbol.type.code, strikeText]
    }
}

extension DatabaseFlavor {
    /// A time parameter: Unix µs on PostgreSQL (the statement makes it a
    /// `timestamptz`), ISO-8601 text with µs on QuestDB.
    func timestampParameter(micros: Int64) -> String {
        self == .postgres ? String(micros) : CivilTime.isoTimestamp(micros: micros)
    }
}

/// Whole fields, length word and value, named after the PostgreSQL type they
/// hold (the bare `int16`/`int32`/`int64` store only the bytes).
extension CopyCursor {
    @inline(__always) mutating func smallint(_ value: Int16) {
        int32(2)
        int16(value)
    }

    @inline(__always) mutating func bigint(_ value: Int64) {
        int32(8)
        int64(value)
    }

    /// A `bigint` field, or NULL (length -1, no value) for `nil`.
    @inline(__always) mutating func bigint(_ value: Int64?) {
        if let value { bigint(value) } else { int32(-1) }
    }

    @inline(__always) mutating func float8(_ value: Double) {
        int32(8)
        int64(Int64(bitPattern: value.bitPattern))
    }

    /// A `double precision` field, or NULL for `nil`.
    @inline(__always) mutating func float8(_ value: Double?) {
        if let value { float8(value) } else { int32(-1) }
    }

    /// A `timestamptz` field from Unix µs: µs since PostgreSQL's epoch, 2000-01-01.
    @inline(__always) mutating func timestamptz(micros: Int64) {
        int32(8)
        int64(micros - TradeCopyEncoder.postgresEpochOffsetMicros)
    }
}

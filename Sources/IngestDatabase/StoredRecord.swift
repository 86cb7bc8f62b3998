import OptionsFeed

/// What the writer needs to know of a record type to write it (docs/design.md
/// §4.4, §5.3): its table and columns, its natural key, its COPY binary rows,
/// its bound multi-row INSERT on each server, and the time whose UTC day picks
/// its partition. `BatchStrategy` is written once over this protocol; each
/// type only says how its rows look. Internal, so that every use is
/// specialised for the concrete type within the module.
protocol StoredRecord: Sendable {
    static var kind: RecordKind { get }
    /// The table's columns, in the order `encodeCopy` writes a row and the INSERT binds it.
    static var columns: [String] { get }
    /// The natural key, as an `ON CONFLICT` target: the trades' `(sym, ts, seq)`, the bars' `(sym, period, start_ts)`, …
    static var conflictKey: String { get }
    /// Replaces `output` with a piece of the COPY binary stream: the rows, after the header
    /// and before the trailer where `ends` says (`CopyStream`).
    static func encodeCopy(_ rows: ArraySlice<Self>, ends: CopyStream.Ends, into output: inout [UInt8])
    /// Rows per bound multi-row INSERT: the parameters stay far below the protocol's 65 535.
    static var rowsPerStatement: Int { get }
    /// `INSERT INTO table (columns) VALUES …` for `rows` rows, every value a
    /// bound parameter; on PostgreSQL `ON CONFLICT conflictKey DO NOTHING`,
    /// on QuestDB none (its DEDUP UPSERT KEYS store a row written twice once).
    static func insertStatement(rows: Int, flavor: DatabaseFlavor) -> String
    /// The parameters of `rows` for `insertStatement`, row after row, as text.
    static func insertParameters(_ rows: ArraySlice<Self>, flavor: DatabaseFlavor) -> [String?]

    /// The time, Unix ms, whose UTC day is the record's partition (docs/design.md §4.3).
    var partitionMs: Int64 { get }
    var receivedAtMicros: Int64 { get }
    /// The statement that ends a batch's transaction: `COMMIT`, after whatever
    /// moves with the rows (the trades raise `ingest_state`, `IngestState`).
    static func commitBatch(_ rows: ArraySlice<Self>, nowMicros: Int64) -> String

    /// The record as the feed's event, for its dead letter.
    var polygonJSON: String { get }
    /// The feed's channel of the record (`T`, `A`, `AM`, `Q`, `FMV`): a dead letter's `event_type`.
    var eventType: String { get }
}

extension StoredRecord {
    /// The whole COPY binary stream (header, rows, trailer) of `rows`.
    static func encodeCopy(_ rows: ArraySlice<Self>, into output: inout [UInt8]) {
        encodeCopy(rows, ends: .both, into: &output)
    }

    static func commitBatch(_ rows: ArraySlice<Self>, nowMicros: Int64) -> String { "COMMIT" }
}

extension OptionTrade: StoredRecord {
    static let kind = RecordKind.trade
    static var columns: [String] { TradeCopyEncoder.columns }
    static let conflictKey = "(sym, ts, seq)"
    static let rowsPerStatement = TradeInsertStatement.rowsPerStatement

    static func encodeCopy(_ rows: ArraySlice<OptionTrade>, ends: CopyStream.Ends, into output: inout [UInt8]) {
        TradeCopyEncoder().encode(rows, ends: ends, into: &output)
    }

    static func insertStatement(rows: Int, flavor: DatabaseFlavor) -> String {
        flavor.dialect.insertTrades(rows: rows)
    }

    static func insertParameters(_ rows: ArraySlice<OptionTrade>, flavor: DatabaseFlavor) -> [String?] {
        flavor.dialect.parameters(rows)
    }

    /// The newest receive time (on the database's clock) and feed time move
    /// with the rows, in the same transaction (`IngestState`): the restart gap
    /// and the backfill are about trades, so only trades move them.
    static func commitBatch(_ rows: ArraySlice<OptionTrade>, nowMicros: Int64) -> String {
        var lastReceived = rows.first?.receivedAtMicros ?? 0
        var lastTradeT = rows.first?.timestampMs ?? 0
        for trade in rows {
            lastReceived = max(lastReceived, trade.receivedAtMicros)
            lastTradeT = max(lastTradeT, trade.timestampMs)
        }
        return PostgresDialect.commitBatch(lastReceivedAgeMicros: nowMicros - lastReceived, lastTradeT: lastTradeT)
    }

    var partitionMs: Int64 { timestampMs }
    var eventType: String { "T" }
}

/// The record types the pipeline carries, one per table (docs/design.md §4.4,
/// §5.2): every stage from the buffer to the writer handles them with one
/// implementation, and a batch always holds one type.
public enum RecordKind: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    case trade = 0
    case aggregate = 1
    case quote = 2
    case fmv = 3

    /// The label of this kind in logs, the health report and `/metrics`.
    public var name: String {
        switch self {
        case .trade: "trade"
        case .aggregate: "aggregate"
        case .quote: "quote"
        case .fmv: "fmv"
        }
    }

    /// The table its records are written to.
    public var table: String {
        switch self {
        case .trade: "options_trades"
        case .aggregate: "options_aggregates"
        case .quote: "options_quotes"
        case .fmv: "options_fmv"
        }
    }

    public static func < (lhs: RecordKind, rhs: RecordKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A batch of records of one type: what the buffer hands the flusher, the
/// spool stores as one record and the writer writes in one transaction.
public enum RecordBatch: Sendable, Hashable {
    case trades([OptionTrade])
    case aggregates([OptionAggregate])
    case quotes([OptionQuote])
    case fairValues([OptionFMV])

    /// An empty batch of `kind`.
    public static func empty(_ kind: RecordKind) -> RecordBatch {
        switch kind {
        case .trade: .trades([])
        case .aggregate: .aggregates([])
        case .quote: .quotes([])
        case .fmv: .fairValues([])
        }
    }

    public var kind: RecordKind {
        switch self {
        case .trades: .trade
        case .aggregates: .aggregate
        case .quotes: .quote
        case .fairValues: .fmv
        }
    }

    public var count: Int {
        switch self {
        case .trades(let rows): rows.count
        case .aggregates(let rows): rows.count
        case .quotes(let rows): rows.count
        case .fairValues(let rows): rows.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// The trades, when this is a batch of trades; otherwise empty.
    public var trades: [OptionTrade] {
        if case .trades(let rows) = self { return rows }
        return []
    }

    /// Each record's receive time (Unix µs), in batch order.
    public var receivedAtMicros: [Int64] {
        switch self {
        case .trades(let rows): rows.map(\.receivedAtMicros)
        case .aggregates(let rows): rows.map(\.receivedAtMicros)
        case .quotes(let rows): rows.map(\.receivedAtMicros)
        case .fairValues(let rows): rows.map(\.receivedAtMicros)
        }
    }

    /// Batches of `batches` joined, one per kind that has records, in kind order.
    public static func grouped(_ batches: [RecordBatch]) -> [RecordBatch] {
        var trades: [OptionTrade] = [], aggregates: [OptionAggregate] = [], quotes: [OptionQuote] = [], fairValues: [OptionFMV] = []
        for batch in batches {
            switch batch {
            case .trades(let rows): trades += rows
            case .aggregates(let rows): aggregates += rows
            case .quotes(let rows): quotes += rows
            case .fairValues(let rows): fairValues += rows
            }
        }
        return [RecordBatch.trades(trades), .aggregates(aggregates), .quotes(quotes), .fairValues(fairValues)].filter { !$0.isEmpty }
    }
}

extension OptionAggregate {
    /// The feed's channel of this bar: `A` (second) or `AM` (minute).
    public var channel: String { period == .second ? "A" : "AM" }
}

extension RecordBatch {
    /// The batch without its first `count` records.
    public func dropFirst(_ count: Int) -> RecordBatch {
        switch self {
        case .trades(let rows): .trades(Array(rows.dropFirst(count)))
        case .aggregates(let rows): .aggregates(Array(rows.dropFirst(count)))
        case .quotes(let rows): .quotes(Array(rows.dropFirst(count)))
        case .fairValues(let rows): .fairValues(Array(rows.dropFirst(count)))
        }
    }
}

extension FeedSubscriptions.Channel {
    /// The record type, and so the table, of this channel's events.
    public var recordKind: RecordKind {
        switch self {
        case .trades: .trade
        case .secondAggregates, .minuteAggregates: .aggregate
        case .quotes: .quote
        case .fairMarketValue: .fmv
        }
    }
}

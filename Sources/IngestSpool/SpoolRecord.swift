import OptionsFeed

/// A record type the spool stores: how its rows are found in a `RecordBatch`,
/// so that the segment reader joins records of one kind into a batch with one
/// implementation for every kind.
protocol SpoolRecord {
    /// The rows of `batch` when it holds this type; `nil` for a batch of another kind.
    static func rows(of batch: RecordBatch) -> [Self]?
}

extension OptionTrade: SpoolRecord {
    static func rows(of batch: RecordBatch) -> [OptionTrade]? {
        if case .trades(let rows) = batch { return rows }
        return nil
    }
}

extension OptionAggregate: SpoolRecord {
    static func rows(of batch: RecordBatch) -> [OptionAggregate]? {
        if case .aggregates(let rows) = batch { return rows }
        return nil
    }
}

extension OptionQuote: SpoolRecord {
    static func rows(of batch: RecordBatch) -> [OptionQuote]? {
        if case .quotes(let rows) = batch { return rows }
        return nil
    }
}

extension OptionFMV: SpoolRecord {
    static func rows(of batch: RecordBatch) -> [OptionFMV]? {
        if case .fairValues(let rows) = batch { return rows }
        return nil
    }
}

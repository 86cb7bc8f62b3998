import OptionsFeed

/// The rows one backfill of one contract and window inserts (docs/design.md §5.8.1):
/// the multiset surplus of the REST trades over the stored rows.
///
/// Trades are counted per content key (t ms, price, size, exchange,
/// conditions; the contract is fixed): the stored rows of the window,
/// streamed (`seq` ≥ 0) and backfilled before (`seq` < 0) alike, and the REST
/// trades. For a key with n REST trades and m stored rows, n > m, the rows
/// of ranks m … n−1 are inserted, each with its `SyntheticSequence`; nothing
/// else. A rank whose `(t, seq)` a stored row already holds (a row deleted
/// from a run of ranks, or two contents whose hashes collide in that
/// millisecond) is passed over for the next, so no insert is lost to a key conflict. The result depends on the multisets only, not on page order, and a
/// second merge over the stored rows plus the first one's inserts inserts nothing.
///
/// Prices are compared by bit pattern. The feed's `p` and the REST `price`
/// print the same decimal for one trade, and both decoders round a decimal
/// correctly to the nearest `Double`, so one trade gives one bit pattern on
/// both paths; `double precision` stores that pattern exactly.
public struct BackfillMerge: Sendable, Equatable {
    /// The rows to insert, by `t` then `seq`.
    public var inserts: [OptionTrade]
    /// REST trades given.
    public var restTrades = 0
    /// REST trades outside the window's milliseconds, ignored.
    public var outsideWindow = 0
    /// REST trades that a stored row of the same key already stands for.
    public var matched = 0
    /// REST trades not inserted because their rank reached `SyntheticSequence.rankLimit`.
    public var overRankLimit = 0

    /// Rows inserted; `restTrades` = `outsideWindow` + `matched` + `inserted` + `overRankLimit`.
    public var inserted: Int { inserts.count }

    public init(inserts: [OptionTrade] = [], restTrades: Int = 0, outsideWindow: Int = 0, matched: Int = 0, overRankLimit: Int = 0) {
        self.inserts = inserts
        self.restTrades = restTrades
        self.outsideWindow = outsideWindow
        self.matched = matched
        self.overRankLimit = overRankLimit
    }

    /// A ticker that is no option symbol (docs/design.md §4.2): nothing can be stored for it.
    public struct BadTicker: Error, Sendable, Hashable, CustomStringConvertible {
        public var ticker: String
        public var description: String { "not an option ticker: \(ticker)" }
    }

    /// Merges the REST trades of `ticker` in `window` into its stored rows.
    /// `stored` are the rows the table holds for the contract in the window
    /// (rows of another symbol or outside the window are not counted);
    /// `receivedAtMicros` is the inserted rows' `received_at` (now).
    public init(
        ticker: String, window: BackfillWindow, stored: [OptionTrade], rest: [RESTTrade], receivedAtMicros: Int64
    ) throws(BadTicker) {
        guard let symbol = OptionSymbol(ticker) else { throw BadTicker(ticker: ticker) }
        self.init(symbol: symbol, window: window, stored: stored, rest: rest, receivedAtMicros: receivedAtMicros)
    }

    /// The same for a contract already parsed.
    public init(symbol: OptionSymbol, window: BackfillWindow, stored: [OptionTrade], rest: [RESTTrade], receivedAtMicros: Int64) {
        var storedCounts: [ContentKey: Int] = [:]
        // The (t, seq) keys stored rows already hold: a rank whose key is taken is skipped.
        var taken = Set<RowKey>()
        for row in stored where row.symbol == symbol && window.contains(ms: row.timestampMs) {
            let key = ContentKey(
                timestampMs: row.timestampMs, priceBits: row.price.bitPattern, size: row.size, exchange: row.exchange,
                conditions: row.conditions)
            storedCounts[key, default: 0] += 1
            taken.insert(RowKey(timestampMs: row.timestampMs, sequence: row.sequence))
        }
        var restCounts: [ContentKey: Int] = [:]
        var outside = 0
        for trade in rest {
            guard window.contains(ms: trade.timestampMs) else {
                outside += 1
                continue
            }
            let key = ContentKey(
                timestampMs: trade.timestampMs, priceBits: trade.price.bitPattern, size: trade.size, exchange: trade.exchange,
                conditions: trade.conditions)
            restCounts[key, default: 0] += 1
        }
        var inserts: [OptionTrade] = []
        var matched = 0
        var overLimit = 0
        // In key order, not the dictionary's: which content gets a contested rank must not depend on the process.
        for key in restCounts.keys.sorted() {
            let count = restCounts[key] ?? 0
            let have = storedCounts[key] ?? 0
            matched += min(have, count)
            var missing = count - have
            var rank = have
            while missing > 0 {
                guard
                    let sequence = SyntheticSequence.sequence(
                        price: key.price, size: key.size, exchange: key.exchange, conditions: key.conditions, rank: rank)
                else {
                    overLimit += missing
                    break
                }
                rank += 1
                // Taken only by a stored row with a gap in its ranks or a 52-bit hash collision in this ms.
                guard taken.insert(RowKey(timestampMs: key.timestampMs, sequence: sequence)).inserted else { continue }
                inserts.append(
                    OptionTrade(
                        symbol: symbol, exchange: key.exchange, price: key.price, size: key.size, conditions: key.conditions,
                        timestampMs: key.timestampMs, sequence: sequence, receivedAtMicros: receivedAtMicros))
                missing -= 1
            }
        }
        inserts.sort { ($0.timestampMs, $0.sequence) < ($1.timestampMs, $1.sequence) }
        self.init(inserts: inserts, restTrades: rest.count, outsideWindow: outside, matched: matched, overRankLimit: overLimit)
    }

    /// What makes two trades of one contract the same trade for the merge.
    private struct ContentKey: Hashable, Comparable {
        var timestampMs: Int64
        var priceBits: UInt64
        var size: Int64
        var exchange: Int16
        var conditions: [Int16]

        var price: Double { Double(bitPattern: priceBits) }

        static func < (lhs: ContentKey, rhs: ContentKey) -> Bool {
            if (lhs.timestampMs, lhs.priceBits, lhs.size, lhs.exchange) != (rhs.timestampMs, rhs.priceBits, rhs.size, rhs.exchange) {
                return (lhs.timestampMs, lhs.priceBits, lhs.size, lhs.exchange) < (rhs.timestampMs, rhs.priceBits, rhs.size, rhs.exchange)
            }
            return lhs.conditions.lexicographicallyPrecedes(rhs.conditions)
        }
    }

    /// A row's place in the table's key `(sym, ts, seq)`, the contract being fixed.
    private struct RowKey: Hashable {
        var timestampMs: Int64
        var sequence: Int64
    }
}

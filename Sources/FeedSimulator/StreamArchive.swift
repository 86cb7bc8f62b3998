/// One valid trade of the stream as the REST API serves it (docs/feed-sim.md, "REST API").
public struct ArchivedTrade: Sendable, Equatable {
    /// The feed's `q`: unique within a run, the tie-break of equal timestamps.
    public var q: Int64
    /// The feed's `t` (Unix ms).
    public var t: Int64
    public var priceCents: Int64
    public var size: Int64
    public var exchange: Int
    /// Up to four condition codes below 65 535, 16 bits each (code + 1, 0 = none):
    /// the generator writes at most two, so a trade costs no array of its own.
    var packedConditions: UInt64

    public init(_ trade: SimTrade) {
        q = trade.q
        t = trade.t ?? 0
        priceCents = trade.priceCents
        size = trade.size
        exchange = trade.x
        var packed: UInt64 = 0
        for (slot, code) in trade.conditions.prefix(4).enumerated() where (0..<0xFFFF).contains(code) {
            packed |= UInt64(code + 1) << (16 * UInt64(slot))
        }
        packedConditions = packed
    }

    public var conditions: [Int] {
        var codes: [Int] = []
        var packed = packedConditions
        while packed != 0 {
            let slot = Int(packed & 0xFFFF)
            if slot != 0 { codes.append(slot - 1) }
            packed >>= 16
        }
        return codes
    }

    /// The SIP time in ns: `t` ms plus a sub-millisecond part drawn from `q`, so
    /// `sipTimestamp / 1_000_000 == t` and the same run gives the same value.
    public var sipTimestamp: Int64 { t &* 1_000_000 + Self.subMillisecond(q: q) }

    /// The participant's time: 20–200 µs before the SIP time, from `q` too.
    public var participantTimestamp: Int64 { sipTimestamp - 20_000 - Self.subMillisecond(q: q) % 180_000 }

    /// Where the trade sorts in its contract: SIP time, then `q`.
    public var key: ArchiveKey { ArchiveKey(sip: sipTimestamp, q: q) }

    static func subMillisecond(q: Int64) -> Int64 {
        Int64(((UInt64(bitPattern: q) &* 0x9E37_79B9_7F4A_7C15) >> 40) % 1_000_000)
    }
}

/// A trade's place in its contract's order: SIP time, then `q` (unique).
public struct ArchiveKey: Sendable, Hashable, Comparable {
    public var sip: Int64
    public var q: Int64

    public init(sip: Int64, q: Int64) {
        self.sip = sip
        self.q = q
    }

    public static func < (a: ArchiveKey, b: ArchiveKey) -> Bool { (a.sip, a.q) < (b.sip, b.q) }
}

/// What the chain snapshot shows of one contract.
public struct ContractSummary: Sendable, Equatable {
    public var ticker: String
    /// Sum of the sizes of every valid trade of the contract in the stream, forgotten ones included.
    public var volume: Int64
    /// The contract's newest trade (highest key).
    public var lastTrade: ArchivedTrade
}

/// Every valid trade the stream produced, sent or skipped, per contract in
/// SIP-time order, for the REST API. Bounded: past `capacity` trades the
/// oldest are forgotten (`forgotten` counts them); the contract summaries are
/// never forgotten. Pure value type, no I/O.
public struct StreamArchive: Sendable {
    /// The default bound: about 2 million trades (some 100 MB), half an hour at 1000 trades/s.
    public static let defaultCapacity = 2_000_000

    struct Contract {
        var ticker: String
        /// Sorted by key; `trades[head...]` are still held.
        var trades: [ArchivedTrade] = []
        var head = 0
        var volume: Int64 = 0
        var last: ArchivedTrade?

        var held: ArraySlice<ArchivedTrade> { trades[head...] }
    }

    public let capacity: Int
    private var contracts: [Contract] = []
    private var index: [String: Int] = [:]
    /// Contract of each held trade in arrival order: the front is forgotten first.
    private var arrivals: [Int32] = []
    private var arrivalsHead = 0
    public private(set) var count = 0
    /// Trades forgotten because the archive was full.
    public private(set) var forgotten = 0

    public init(capacity: Int = Self.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Adds a trade of the stream; invalid trades (not real trades) are left out.
    public mutating func append(_ trade: SimTrade) {
        guard trade.isValid else { return }
        let archived = ArchivedTrade(trade)
        let slot: Int
        if let known = index[trade.sym] {
            slot = known
        } else {
            slot = contracts.count
            index[trade.sym] = slot
            contracts.append(Contract(ticker: trade.sym))
        }
        contracts[slot].volume += archived.size
        if let last = contracts[slot].last, archived.key < last.key {
            // A batch written after a later one (two clients): insert in order.
            let position = Self.firstIndex(in: contracts[slot].held) { $0.key >= archived.key }
            contracts[slot].trades.insert(archived, at: position)
        } else {
            contracts[slot].last = archived
            contracts[slot].trades.append(archived)
        }
        arrivals.append(Int32(slot))
        count += 1
        if count > capacity { forgetOldest() }
    }

    private mutating func forgetOldest() {
        let slot = Int(arrivals[arrivalsHead])
        arrivalsHead += 1
        contracts[slot].head += 1
        count -= 1
        forgotten += 1
        if contracts[slot].head >= 1024, contracts[slot].head * 2 >= contracts[slot].trades.count {
            contracts[slot].trades.removeFirst(contracts[slot].head)
            contracts[slot].head = 0
        }
        if arrivalsHead >= 4096, arrivalsHead * 2 >= arrivals.count {
            arrivals.removeFirst(arrivalsHead)
            arrivalsHead = 0
        }
    }

    /// One page of a contract's trades within `lower...upper` (SIP ns, inclusive),
    /// after `cursor` in the page order; `more` tells whether a next page has any.
    public func trades(
        of ticker: String, lower: Int64?, upper: Int64?, ascending: Bool, after cursor: ArchiveKey?, limit: Int
    ) -> (page: [ArchivedTrade], more: Bool) {
        guard let slot = index[ticker] else { return ([], false) }
        let held = contracts[slot].held
        let low = lower ?? .min
        let high = upper ?? .max
        guard low <= high else { return ([], false) }
        var page: [ArchivedTrade] = []
        page.reserveCapacity(min(limit, 1024))
        if ascending {
            var position = Self.firstIndex(in: held) { $0.sipTimestamp >= low }
            if let cursor { position = max(position, Self.firstIndex(in: held) { $0.key > cursor }) }
            while position < held.endIndex, held[position].sipTimestamp <= high {
                if page.count == limit { return (page, true) }
                page.append(held[position])
                position += 1
            }
        } else {
            var end = Self.firstIndex(in: held) { $0.sipTimestamp > high }
            if let cursor { end = min(end, Self.firstIndex(in: held) { $0.key >= cursor }) }
            while end > held.startIndex, held[end - 1].sipTimestamp >= low {
                if page.count == limit { return (page, true) }
                page.append(held[end - 1])
                end -= 1
            }
        }
        return (page, false)
    }

    /// The contracts of `underlying` seen in the stream, by ticker, after `cursor` (a ticker).
    public func snapshot(of underlying: String, after cursor: String?, limit: Int) -> (page: [ContractSummary], more: Bool) {
        let tickers = contracts.lazy
            .filter { Self.underlying(of: $0.ticker) == underlying[...] && $0.ticker > (cursor ?? "") }
            .map(\.ticker)
            .sorted()
        let page = tickers.prefix(limit).compactMap { ticker -> ContractSummary? in
            guard let contract = index[ticker].map({ contracts[$0] }), let last = contract.last else { return nil }
            return ContractSummary(ticker: ticker, volume: contract.volume, lastTrade: last)
        }
        return (page, tickers.count > limit)
    }

    /// `SPY` of `O:SPY251219C00650000`: what stands before the 15 characters of
    /// expiry, type and strike.
    public static func underlying(of ticker: String) -> Substring? {
        guard ticker.hasPrefix("O:"), ticker.utf8.count > 2 + 15 else { return nil }
        return ticker.dropFirst(2).dropLast(15)
    }

    /// The first index of the sorted `slice` where `isAtOrPast` holds (binary search).
    static func firstIndex(in slice: ArraySlice<ArchivedTrade>, where isAtOrPast: (ArchivedTrade) -> Bool) -> Int {
        var low = slice.startIndex
        var high = slice.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if isAtOrPast(slice[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

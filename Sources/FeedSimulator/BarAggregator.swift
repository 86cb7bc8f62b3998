/// The `A` (per second) and `AM` (per minute) bars of the stream's own valid
/// trades, and each contract's day so far (docs/feed-sim.md, "Other event types").
///
/// Every trade the generator draws comes through here once, in the order
/// drawn, whether it is then written to a client or skipped in a gap: bars are
/// the market's, not one client's. Invalid trades are not trades and count for
/// nothing. The generator's `t` never goes back, so a period is over once a
/// valid trade at or after its end arrives: that trade closes every open bar
/// (seconds first, then minutes), before it is counted itself. The stream's
/// "day" is the run: `av`, `op` and `a` count from the first trade.
///
/// Also what the quotes and fair values are priced from: each contract's
/// last trade price, and the stream's newest `t`. Pure value type.
public struct BarAggregator: Sendable {
    struct OpenBar: Sendable {
        var start: Int64
        var open: Int64
        var high: Int64
        var low: Int64
        var close: Int64
        var volume: Int64
        var notional: Int64
        var count: Int64

        init(start: Int64, priceCents: Int64, size: Int64) {
            self.start = start
            (open, high, low, close) = (priceCents, priceCents, priceCents, priceCents)
            (volume, notional, count) = (size, priceCents * size, 1)
        }

        mutating func add(priceCents: Int64, size: Int64) {
            high = max(high, priceCents)
            low = min(low, priceCents)
            close = priceCents
            volume += size
            notional += priceCents * size
            count += 1
        }
    }

    struct Contract: Sendable {
        var sym: String
        var dayVolume: Int64 = 0
        var dayNotional: Int64 = 0
        var dayOpen: Int64 = 0
        var last: Int64 = 0
        var second: OpenBar?
        var minute: OpenBar?
    }

    private var index: [String: Int] = [:]
    private var contracts: [Contract] = []
    /// Contracts with an open bar in the current second / minute, in the order of their first trade in it.
    private var openSeconds: [Int] = []
    private var openMinutes: [Int] = []
    private var secondStart = Int64.min
    private var minuteStart = Int64.min
    /// The newest `t` of a valid trade (Unix ms); before the first, the stream's start.
    public private(set) var newestT: Int64

    /// `startMs`: the stream's time before its first trade (the generator's start).
    public init(startMs: Int64) {
        newestT = startMs
    }

    /// Counts `trade`, appending to `closed` the bars it closes first: the
    /// per-second ones only if `wanted.seconds`, the per-minute ones only if
    /// `wanted.minutes` (a bar no connection is subscribed to is closed
    /// without being built: flat out that was ~1.6M bars per 2M trades, half
    /// of feed-sim's CPU with no bar subscriber).
    public mutating func add(_ trade: SimTrade, closing closed: inout [SimBar], wanted: (seconds: Bool, minutes: Bool) = (true, true)) {
        guard trade.isValid, let t = trade.t else { return }
        newestT = max(newestT, t)
        let second = SimBar.Period.second.start(of: t)
        if second > secondStart {
            close(.second, into: &closed, building: wanted.seconds)
            secondStart = second
        }
        let minute = SimBar.Period.minute.start(of: t)
        if minute > minuteStart {
            close(.minute, into: &closed, building: wanted.minutes)
            minuteStart = minute
        }
        let slot: Int
        if let known = index[trade.sym] {
            slot = known
        } else {
            slot = contracts.count
            index[trade.sym] = slot
            contracts.append(Contract(sym: trade.sym, dayOpen: trade.priceCents))
        }
        let (price, size) = (trade.priceCents, trade.size)
        contracts[slot].dayVolume += size
        contracts[slot].dayNotional += price * size
        contracts[slot].last = price
        if contracts[slot].second == nil {
            contracts[slot].second = OpenBar(start: secondStart, priceCents: price, size: size)
            openSeconds.append(slot)
        } else {
            contracts[slot].second!.add(priceCents: price, size: size)
        }
        if contracts[slot].minute == nil {
            contracts[slot].minute = OpenBar(start: minuteStart, priceCents: price, size: size)
            openMinutes.append(slot)
        } else {
            contracts[slot].minute!.add(priceCents: price, size: size)
        }
    }

    private mutating func close(_ period: SimBar.Period, into closed: inout [SimBar], building: Bool) {
        let open = period == .second ? openSeconds : openMinutes
        for slot in open {
            let contract = contracts[slot]
            guard building, let bar = period == .second ? contract.second : contract.minute else {
                if period == .second { contracts[slot].second = nil } else { contracts[slot].minute = nil }
                continue
            }
            closed.append(
                SimBar(
                    period: period, sym: contract.sym, start: bar.start, openCents: bar.open, highCents: bar.high,
                    lowCents: bar.low, closeCents: bar.close, volume: bar.volume, notionalCents: bar.notional,
                    tradeCount: bar.count, dayVolume: contract.dayVolume, dayOpenCents: contract.dayOpen,
                    dayNotionalCents: contract.dayNotional))
            if period == .second { contracts[slot].second = nil } else { contracts[slot].minute = nil }
        }
        if period == .second { openSeconds.removeAll(keepingCapacity: true) } else { openMinutes.removeAll(keepingCapacity: true) }
    }

    /// The contract's last valid trade price in cents; `nil` before its first trade.
    public func lastPriceCents(of sym: String) -> Int64? {
        index[sym].map { contracts[$0].last }
    }

    /// What a contract without trades is priced at (quotes, fair values):
    /// 0.05–50.00, drawn from the symbol itself (FNV-1a), so every run and
    /// machine agrees.
    public static func referencePriceCents(for sym: String) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in sym.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return 5 + Int64(hash % 4_996)
    }
}

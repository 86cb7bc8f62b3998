/// One aggregate bar, per second (`A`) or per minute (`AM`), of one contract's
/// valid trades in the simulated stream (docs/feed-sim.md, "Other event types").
/// Prices are in cents, as in `SimTrade`, so the JSON and the event ledger
/// print the same decimals.
public struct SimBar: Sendable, Hashable {
    /// How long a bar lasts.
    public enum Period: String, Sendable, CaseIterable {
        /// `A`: one second.
        case second = "A"
        /// `AM`: one minute.
        case minute = "AM"

        public var milliseconds: Int64 { self == .second ? 1_000 : 60_000 }

        /// The start (Unix ms) of the period holding `t`.
        public func start(of t: Int64) -> Int64 { t - ((t % milliseconds) + milliseconds) % milliseconds }
    }

    public var period: Period
    public var sym: String
    /// Start of the bar, Unix ms (`s`); it ends at `start + period.milliseconds` (`e`).
    public var start: Int64
    public var openCents: Int64
    public var highCents: Int64
    public var lowCents: Int64
    public var closeCents: Int64
    /// Sum of the trades' sizes (`v`).
    public var volume: Int64
    /// Sum of price × size, cents × contracts: `vw` is this over `volume`.
    public var notionalCents: Int64
    /// Trades in the bar: `z` is `volume` over this.
    public var tradeCount: Int64
    /// The contract's volume since the stream began, this bar included (`av`).
    public var dayVolume: Int64
    /// The contract's first trade price of the stream, its "official open" (`op`).
    public var dayOpenCents: Int64
    /// Sum of price × size since the stream began, this bar included: `a` is this over `dayVolume`.
    public var dayNotionalCents: Int64

    public init(
        period: Period, sym: String, start: Int64, openCents: Int64, highCents: Int64, lowCents: Int64, closeCents: Int64,
        volume: Int64, notionalCents: Int64, tradeCount: Int64, dayVolume: Int64, dayOpenCents: Int64, dayNotionalCents: Int64
    ) {
        (self.period, self.sym, self.start) = (period, sym, start)
        (self.openCents, self.highCents, self.lowCents, self.closeCents) = (openCents, highCents, lowCents, closeCents)
        (self.volume, self.notionalCents, self.tradeCount) = (volume, notionalCents, tradeCount)
        (self.dayVolume, self.dayOpenCents, self.dayNotionalCents) = (dayVolume, dayOpenCents, dayNotionalCents)
    }

    public var end: Int64 { start + period.milliseconds }

    /// The bar's VWAP (`vw`) in units of 0.0001, rounded half up.
    public var vwapTicks: Int64 { Self.ticks(notionalCents: notionalCents, volume: volume) }
    /// The day's VWAP (`a`) in units of 0.0001, rounded half up.
    public var dayVWAPTicks: Int64 { Self.ticks(notionalCents: dayNotionalCents, volume: dayVolume) }
    /// The average trade size (`z`), rounded half up to a whole contract.
    public var averageSize: Int64 { tradeCount > 0 ? (2 * volume + tradeCount) / (2 * tradeCount) : 0 }

    /// The event as the feed writes it, keys in the order of the feed's documentation.
    public var json: String {
        #"{"ev":"\#(period.rawValue)","sym":"\#(sym)","v":\#(volume),"av":\#(dayVolume),"op":\#(SimTrade.priceText(cents: dayOpenCents)),"#
            + #""vw":\#(Self.decimalText(ticks: vwapTicks)),"o":\#(SimTrade.priceText(cents: openCents)),"#
            + #""c":\#(SimTrade.priceText(cents: closeCents)),"h":\#(SimTrade.priceText(cents: highCents)),"#
            + #""l":\#(SimTrade.priceText(cents: lowCents)),"a":\#(Self.decimalText(ticks: dayVWAPTicks)),"#
            + #""z":\#(averageSize),"s":\#(start),"e":\#(end)}"#
    }

    /// The event ledger's line: `ev,sym,s,e,o,h,l,c,v,vw,z,av,op,a`.
    public var ledgerLine: String {
        "\(period.rawValue),\(sym),\(start),\(end),\(SimTrade.priceText(cents: openCents)),\(SimTrade.priceText(cents: highCents)),"
            + "\(SimTrade.priceText(cents: lowCents)),\(SimTrade.priceText(cents: closeCents)),\(volume),"
            + "\(Self.decimalText(ticks: vwapTicks)),\(averageSize),\(dayVolume),\(SimTrade.priceText(cents: dayOpenCents)),"
            + Self.decimalText(ticks: dayVWAPTicks)
    }

    /// Cents × size over size, in units of 0.0001 (a hundredth of a cent), rounded half up.
    static func ticks(notionalCents: Int64, volume: Int64) -> Int64 {
        guard volume > 0 else { return 0 }
        return (notionalCents * 200 + volume) / (2 * volume)
    }

    /// Units of 0.0001 as a decimal with four places: `12345` → `1.2345`.
    public static func decimalText(ticks: Int64) -> String {
        let sign = ticks < 0 ? "-" : ""
        let magnitude = ticks.magnitude
        let fraction = String(magnitude % 10_000)
        return "\(sign)\(magnitude / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }
}

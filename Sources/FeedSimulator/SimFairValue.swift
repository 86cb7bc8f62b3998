/// One fair market value (`FMV`) of an option contract, from the business
/// feed (docs/feed-sim.md, "Other event types").
public struct SimFairValue: Sendable, Hashable {
    public var sym: String
    /// Unix **nanoseconds**, unlike the other events' ms: strictly rising over the run.
    public var t: Int64
    /// The value in units of 0.0001.
    public var valueTicks: Int64

    /// The event as the feed writes it.
    public var json: String {
        #"{"ev":"FMV","sym":"\#(sym)","fmv":\#(SimBar.decimalText(ticks: valueTicks)),"t":\#(t)}"#
    }

    /// The event ledger's line: `FMV,sym,t,fmv`.
    public var ledgerLine: String { "FMV,\(sym),\(t),\(SimBar.decimalText(ticks: valueTicks))" }

    /// A value within ±0.5 % of `priceCents` (at least 0.0001), drawn from `random`.
    static func near(priceCents: Int64, sym: String, t: Int64, using random: inout SeededRandom) -> SimFairValue {
        let base = priceCents * 100
        let jitter = max(1, base / 200)
        let value = max(1, base + Int64(random.next() % UInt64(2 * jitter + 1)) - jitter)
        return SimFairValue(sym: sym, t: t, valueTicks: value)
    }
}

/// One quote (`Q`) of an option contract (docs/feed-sim.md, "Other event
/// types"): the best bid and ask, prices in cents as in `SimTrade`.
public struct SimQuote: Sendable, Hashable {
    public var sym: String
    /// Unix ms: the stream's newest trade time when the quote was made.
    public var t: Int64
    /// Counts the run's quotes, every contract and connection, from 1.
    public var q: Int64
    public var bidExchange: Int
    public var askExchange: Int
    public var bidCents: Int64
    public var askCents: Int64
    public var bidSize: Int64
    public var askSize: Int64

    /// The event as the feed writes it.
    public var json: String {
        #"{"ev":"Q","sym":"\#(sym)","bx":\#(bidExchange),"ax":\#(askExchange),"bp":\#(SimTrade.priceText(cents: bidCents)),"#
            + #""ap":\#(SimTrade.priceText(cents: askCents)),"bs":\#(bidSize),"as":\#(askSize),"t":\#(t),"q":\#(q)}"#
    }

    /// The event ledger's line: `Q,sym,t,q,bx,bp,bs,ax,ap,as`.
    public var ledgerLine: String {
        "Q,\(sym),\(t),\(q),\(bidExchange),\(SimTrade.priceText(cents: bidCents)),\(bidSize),"
            + "\(askExchange),\(SimTrade.priceText(cents: askCents)),\(askSize)"
    }

    /// A quote around `midCents` with the draws of `random`: a spread of about
    /// 1–2.5 % (at least a cent), bid at least 0.01 and below the ask, sizes 1–500,
    /// exchanges 300–324 like the trades'.
    static func around(
        midCents: Int64, sym: String, t: Int64, q: Int64, using random: inout SeededRandom
    ) -> SimQuote {
        let jitter = max(1, midCents / 100)
        let mid = max(1, midCents + Int64(random.next() % UInt64(2 * jitter + 1)) - jitter)
        let spread = 1 + Int64(random.next() % UInt64(max(1, mid / 40)))
        let bid = max(1, mid - spread / 2)
        return SimQuote(
            sym: sym, t: t, q: q, bidExchange: 300 + Int(random.next() % 25), askExchange: 300 + Int(random.next() % 25),
            bidCents: bid, askCents: bid + spread, bidSize: 1 + Int64(random.next() % 500), askSize: 1 + Int64(random.next() % 500))
    }
}

/// The options feed's events besides trades (docs/design.md §4.4): per-second
/// and per-minute aggregates, quotes and fair market value, decoded on the
/// frame decoder's fast path like trades.

/// An `A` (per-second) or `AM` (per-minute) aggregate bar of one contract.
public struct OptionAggregate: Sendable, Hashable {
    public enum Period: String, Sendable, Hashable {
        case second
        case minute
    }

    public var symbol: OptionSymbol
    public var period: Period
    /// `s` and `e`: the bar's start and end, Unix ms.
    public var startMs: Int64
    public var endMs: Int64
    /// `o`, `h`, `l`, `c`.
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    /// `v`: contracts traded in the bar.
    public var volume: Int64
    /// `vw`: the bar's volume-weighted average price.
    public var vwap: Double
    /// `av`, `a`, `op`: today's accumulated volume, VWAP and official open; `nil` when the event leaves them out.
    public var dayVolume: Int64?
    public var dayVWAP: Double?
    public var dayOpen: Double?
    /// `z`: the bar's average trade size; `nil` when left out.
    public var averageSize: Double?
    public var receivedAtMicros: Int64

    public init(
        symbol: OptionSymbol, period: Period, startMs: Int64, endMs: Int64, open: Double, high: Double, low: Double, close: Double,
        volume: Int64, vwap: Double, dayVolume: Int64? = nil, dayVWAP: Double? = nil, dayOpen: Double? = nil, averageSize: Double? = nil,
        receivedAtMicros: Int64
    ) {
        self.symbol = symbol
        self.period = period
        self.startMs = startMs
        self.endMs = endMs
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.vwap = vwap
        self.dayVolume = dayVolume
        self.dayVWAP = dayVWAP
        self.dayOpen = dayOpen
        self.averageSize = averageSize
        self.receivedAtMicros = receivedAtMicros
    }

    /// The bar as the feed's `A`/`AM` event, for dead letters and recordings.
    public var polygonJSON: String {
        var text = #"{"ev":"\#(period == .second ? "A" : "AM")","sym":"\#(symbol.raw)","v":\#(volume)"#
        if let dayVolume { text += #","av":\#(dayVolume)"# }
        if let dayOpen { text += #","op":\#(dayOpen)"# }
        text += #","vw":\#(vwap),"o":\#(open),"c":\#(close),"h":\#(high),"l":\#(low)"#
        if let dayVWAP { text += #","a":\#(dayVWAP)"# }
        if let averageSize { text += #","z":\#(averageSize)"# }
        return text + #","s":\#(startMs),"e":\#(endMs)}"#
    }
}

/// A `Q` quote: the best bid and ask of one contract.
public struct OptionQuote: Sendable, Hashable {
    public var symbol: OptionSymbol
    /// `bx`, `ax`: the exchanges.
    public var bidExchange: Int16
    public var askExchange: Int16
    /// `bp`, `ap`: prices; a bid of 0 is a real quote (no bid).
    public var bidPrice: Double
    public var askPrice: Double
    /// `bs`, `as`: sizes.
    public var bidSize: Int64
    public var askSize: Int64
    /// `t`: Unix ms.
    public var timestampMs: Int64
    /// `q`: the quote's sequence number.
    public var sequence: Int64
    public var receivedAtMicros: Int64

    public init(
        symbol: OptionSymbol, bidExchange: Int16, askExchange: Int16, bidPrice: Double, askPrice: Double, bidSize: Int64,
        askSize: Int64, timestampMs: Int64, sequence: Int64, receivedAtMicros: Int64
    ) {
        self.symbol = symbol
        self.bidExchange = bidExchange
        self.askExchange = askExchange
        self.bidPrice = bidPrice
        self.askPrice = askPrice
        self.bidSize = bidSize
        self.askSize = askSize
        self.timestampMs = timestampMs
        self.sequence = sequence
        self.receivedAtMicros = receivedAtMicros
    }

    public var polygonJSON: String {
        #"{"ev":"Q","sym":"\#(symbol.raw)","bx":\#(bidExchange),"ax":\#(askExchange),"bp":\#(bidPrice),"ap":\#(askPrice),"bs":\#(bidSize),"as":\#(askSize),"t":\#(timestampMs),"q":\#(sequence)}"#
    }
}

/// An `FMV` event: the fair market value of one contract.
public struct OptionFMV: Sendable, Hashable {
    public var symbol: OptionSymbol
    public var fmv: Double
    /// `t`: Unix **nanoseconds** (the other events' times are milliseconds).
    public var timestampNanos: Int64
    public var receivedAtMicros: Int64

    public init(symbol: OptionSymbol, fmv: Double, timestampNanos: Int64, receivedAtMicros: Int64) {
        self.symbol = symbol
        self.fmv = fmv
        self.timestampNanos = timestampNanos
        self.receivedAtMicros = receivedAtMicros
    }

    /// The µs the table stores (`options_fmv.ts` is at the µs).
    public var timestampMicros: Int64 { timestampNanos / 1000 }

    /// Unix ns from 1970 up to 2262-04-11, where an Int64 of ns ends.
    public static let timestampRange: ClosedRange<Int64> = 1...Int64.max

    public var polygonJSON: String {
        #"{"ev":"FMV","sym":"\#(symbol.raw)","fmv":\#(fmv),"t":\#(timestampNanos)}"#
    }
}

/// An event of one of the other channels that failed validation, with its channel.
public struct InvalidEvent: Sendable, Hashable {
    public var channel: FeedSubscriptions.Channel
    public var reason: InvalidTradeReason
    /// As `InvalidTrade.raw`: at most `InvalidTrade.maximumRawBytes`.
    public var raw: String

    public init(channel: FeedSubscriptions.Channel, reason: InvalidTradeReason, raw: String) {
        self.channel = channel
        self.reason = reason
        self.raw = raw
    }
}

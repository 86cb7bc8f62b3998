import OptionsFeed

/// One trade of the REST API's `GET /v3/trades/{optionsTicker}` (docs/design.md §5.8.1),
/// validated like a feed trade. It has no sequence number and no id: only its
/// content and time tell it apart, which is why backfill merges by content.
public struct RESTTrade: Sendable, Hashable {
    /// `sip_timestamp`, Unix nanoseconds: the time the feed's `t` is in milliseconds.
    public var sipTimestampNs: Int64
    /// `participant_timestamp`, Unix nanoseconds; `nil` when absent.
    public var participantTimestampNs: Int64?
    /// `price`, parsed like the feed's `p` (correctly rounded), > 0.
    public var price: Double
    /// `size`, > 0.
    public var size: Int64
    /// `exchange`; 0 when absent, as on the feed.
    public var exchange: Int16
    /// `conditions`; empty when absent.
    public var conditions: [Int16]
    /// `correction`; `nil` when absent.
    public var correction: Int16?

    public init(
        sipTimestampNs: Int64, participantTimestampNs: Int64? = nil, price: Double, size: Int64,
        exchange: Int16 = 0, conditions: [Int16] = [], correction: Int16? = nil
    ) {
        self.sipTimestampNs = sipTimestampNs
        self.participantTimestampNs = participantTimestampNs
        self.price = price
        self.size = size
        self.exchange = exchange
        self.conditions = conditions
        self.correction = correction
    }

    /// The feed's `t` for this trade: the SIP time in whole milliseconds, floored.
    public var timestampMs: Int64 {
        sipTimestampNs >= 0 ? sipTimestampNs / 1_000_000 : (sipTimestampNs - 999_999) / 1_000_000
    }

    /// Why this trade could not be stored, by the feed's rules (docs/design.md §4.2); `nil` when it can.
    public var invalidReason: InvalidTradeReason? {
        guard price.isFinite, price > 0 else { return .nonPositivePrice }
        guard size > 0 else { return .nonPositiveSize }
        guard (price * Double(size) * 100).isFinite else { return .badField }
        guard OptionTrade.timestampRange.contains(timestampMs) else { return .timestampOutOfRange }
        guard exchange >= 0 else { return .badField }
        guard conditions.count <= OptionTrade.maximumConditions else { return .tooManyConditions }
        return nil
    }
}

/// An event of the stream besides trades, as one connection receives it
/// (docs/feed-sim.md, "Other event types").
public enum SimEvent: Sendable, Hashable {
    case bar(SimBar)
    case quote(SimQuote)
    case fairValue(SimFairValue)

    public var sym: String {
        switch self {
        case .bar(let bar): bar.sym
        case .quote(let quote): quote.sym
        case .fairValue(let value): value.sym
        }
    }

    public var json: String {
        switch self {
        case .bar(let bar): bar.json
        case .quote(let quote): quote.json
        case .fairValue(let value): value.json
        }
    }

    /// The event ledger's line (`--event-ledger`): the event type first, then its key fields.
    public var ledgerLine: String {
        switch self {
        case .bar(let bar): bar.ledgerLine
        case .quote(let quote): quote.ledgerLine
        case .fairValue(let value): value.ledgerLine
        }
    }

    /// One frame: the hostile events (when `hostileFrom` is set), the trades,
    /// then the other events. Without other events it is exactly the frame a
    /// trades-only client always got (`TradeGenerator.frame`, `HostileTrades.frame`).
    public static func frame(hostileFrom hostile: Int64?, trades: [SimTrade], events: [SimEvent]) -> String {
        guard let hostile else { return TradeGenerator.frame(trades, then: events.map(\.json)) }
        guard !events.isEmpty else { return HostileTrades.frame(hostileFrom: hostile, trades: trades) }
        var parts = HostileTrades.events(from: hostile)
        parts.reserveCapacity(parts.count + trades.count + events.count)
        parts += trades.map(\.json)
        parts += events.map(\.json)
        return "[" + parts.joined(separator: ",") + "]"
    }
}

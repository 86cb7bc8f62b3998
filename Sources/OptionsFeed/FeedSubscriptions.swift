/// `POLYGON_SUBSCRIPTIONS` checked before connecting (docs/design.md §5.1):
/// the options cluster's channels and what each takes. Pure.
public struct FeedSubscriptions: Sendable, Equatable {
    /// An options event channel, by its subscription prefix (the event's `ev`).
    public enum Channel: String, Sendable, CaseIterable {
        case trades = "T"
        case secondAggregates = "A"
        case minuteAggregates = "AM"
        case quotes = "Q"
        case fairMarketValue = "FMV"

        /// Quotes and fair market value are per contract: the feed refuses a wildcard for them.
        public var allowsWildcard: Bool { self == .trades || self == .secondAggregates || self == .minuteAggregates }
    }

    /// The most quote contracts one connection may subscribe (the feed's limit).
    public static let maximumQuoteContracts = 1_000

    /// The subscriptions in the order given, each once (`T.*`, `Q.O:SPY251219C00650000`, …).
    public let items: [String]
    /// The channels subscribed to.
    public let channels: Set<Channel>

    /// Parses a comma-separated list; the error says what is wrong, in one line.
    public init(_ text: String) throws(SubscriptionError) {
        var items: [String] = []
        var seen: Set<String> = []
        var channels: Set<Channel> = []
        var quoteContracts = 0
        for piece in text.split(separator: ",") {
            let item = String(piece.drop(while: Self.isBlank).reversed().drop(while: Self.isBlank).reversed())
            guard !item.isEmpty else { continue }
            guard let dot = item.firstIndex(of: "."), dot != item.startIndex else { throw .malformed(item) }
            let prefix = String(item[..<dot]), target = item[item.index(after: dot)...]
            guard let channel = Channel(rawValue: prefix) else { throw .unknownChannel(item) }
            guard !target.isEmpty, !target.contains(where: Self.isBlank) else { throw .malformed(item) }
            if !channel.allowsWildcard {
                guard !target.contains("*") else { throw .wildcardRefused(item) }
                guard OptionSymbol(String(target)) != nil else { throw .notAContract(item) }
            }
            guard seen.insert(item).inserted else { continue }
            if channel == .quotes {
                quoteContracts += 1
                guard quoteContracts <= Self.maximumQuoteContracts else { throw .tooManyQuoteContracts(quoteContracts) }
            }
            channels.insert(channel)
            items.append(item)
        }
        guard !items.isEmpty else { throw .empty }
        self.items = items
        self.channels = channels
    }

    private static func isBlank(_ character: Character) -> Bool { character == " " || character == "\t" }

    /// The `params` of the subscribe message.
    public var params: String { items.joined(separator: ",") }
}

public enum SubscriptionError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case malformed(String)
    case unknownChannel(String)
    case wildcardRefused(String)
    case notAContract(String)
    case tooManyQuoteContracts(Int)

    public var description: String {
        switch self {
        case .empty:
            "needs at least one subscription, e.g. T.*"
        case .malformed(let item):
            "\"\(item)\" is not CHANNEL.TARGET (e.g. T.*, AM.*, Q.O:SPY251219C00650000)"
        case .unknownChannel(let item):
            "\"\(item)\": the options feed's channels are T, A, AM, Q and FMV"
        case .wildcardRefused(let item):
            "\"\(item)\": quotes and FMV take named contracts only (the feed refuses a wildcard for them), e.g. Q.O:SPY251219C00650000"
        case .notAContract(let item):
            "\"\(item)\": quotes and FMV take option contracts (O:…)"
        case .tooManyQuoteContracts:
            "more than \(FeedSubscriptions.maximumQuoteContracts) quote contracts: the feed takes at most that many per connection"
        }
    }
}

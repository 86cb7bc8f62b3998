import OptionsFeed

/// What one connection subscribed to, channel by channel, as the options
/// feed takes a `subscribe` message's `params` (docs/feed-sim.md, "Other
/// event types"): comma-separated `CHANNEL.TARGET` items, where the channel is
/// `T`, `A`, `AM`, `Q` or `FMV` and the target `*` (every contract), a
/// prefix ending in `*` (`O:SPY*`) or one contract (`O:SPY251219C00650000`).
///
/// Quotes take named contracts only, at most `maximumQuoteContracts` per
/// connection over all its subscribe messages: a message breaking either rule
/// is refused whole, as the real feed refuses it. Items of an unknown channel
/// are acknowledged and carry nothing, as before. Pure value type.
public struct FeedSubscription: Sendable, Equatable {
    /// An options event channel, by its subscription prefix (the event's `ev`): the ingester's own.
    public typealias Channel = FeedSubscriptions.Channel

    /// Which contracts of one channel a connection wants.
    public struct Targets: Sendable, Equatable {
        /// `*`: every contract.
        public private(set) var all = false
        /// Targets ending in `*` (`O:SPY*`), without the `*`.
        public private(set) var prefixes: [String] = []
        /// Named contracts, in the order first subscribed.
        public private(set) var contracts: [String] = []
        private var named: Set<String> = []

        public init() {}

        public var isEmpty: Bool { !all && prefixes.isEmpty && contracts.isEmpty }

        public func contains(_ symbol: String) -> Bool {
            if all || named.contains(symbol) { return true }
            return prefixes.contains { symbol.hasPrefix($0) }
        }

        mutating func add(_ target: String) {
            if target == "*" {
                all = true
            } else if target.hasSuffix("*") {
                let prefix = String(target.dropLast())
                if !prefixes.contains(prefix) { prefixes.append(prefix) }
            } else if named.insert(target).inserted {
                contracts.append(target)
            }
        }

        mutating func remove(_ target: String) {
            if target == "*" {
                all = false
            } else if target.hasSuffix("*") {
                prefixes.removeAll { $0 == target.dropLast() }
            } else if named.remove(target) != nil {
                contracts.removeAll { $0 == target }
            }
        }
    }

    /// Why a subscribe message was refused: the connection gets an `error`
    /// status with `message`, then a close frame.
    public enum Refusal: Error, Sendable, Equatable {
        /// `Q.*` or `Q.O:SPY*`: quotes take named contracts only.
        case quoteWildcard(String)
        /// The connection would hold this many quote contracts, more than `maximumQuoteContracts`.
        case tooManyQuoteContracts(Int)

        /// Worded like the real feed's refusals (docs/feed-sim.md, "Other event types").
        public var message: String {
            switch self {
            case .quoteWildcard(let item):
                "Wildcard subscriptions are not allowed for options quotes (\(item)): subscribe to option contracts by name, at most 1,000 per connection."
            case .tooManyQuoteContracts(let count):
                "You're only allowed to subscribe to 1,000 option contracts per connection for quotes (this subscription would make \(count))."
            }
        }
    }

    /// The most quote contracts one connection may hold, as on the real feed
    /// (docs/feed-sim.md, "Other event types").
    public static let maximumQuoteContracts = 1_000

    public private(set) var trades = Targets()
    public private(set) var secondBars = Targets()
    public private(set) var minuteBars = Targets()
    public private(set) var quotes = Targets()
    public private(set) var fairValues = Targets()

    public init() {}

    public subscript(channel: Channel) -> Targets {
        get {
            switch channel {
            case .trades: trades
            case .secondAggregates: secondBars
            case .minuteAggregates: minuteBars
            case .quotes: quotes
            case .fairMarketValue: fairValues
            }
        }
        set {
            switch channel {
            case .trades: trades = newValue
            case .secondAggregates: secondBars = newValue
            case .minuteAggregates: minuteBars = newValue
            case .quotes: quotes = newValue
            case .fairMarketValue: fairValues = newValue
            }
        }
    }

    /// Anything besides trades: bars, quotes or fair values.
    public var wantsEvents: Bool { !secondBars.isEmpty || !minuteBars.isEmpty || !quotes.isEmpty || !fairValues.isEmpty }

    /// Adds a subscribe message's items; a refused message changes nothing.
    public mutating func subscribe(_ params: String) throws(Refusal) {
        var next = self
        for (channel, target, item) in Self.items(params) {
            guard let channel else { continue }
            if channel == .quotes, target.contains("*") { throw .quoteWildcard(item) }
            next[channel].add(target)
        }
        guard next.quotes.contracts.count <= Self.maximumQuoteContracts else {
            throw .tooManyQuoteContracts(next.quotes.contracts.count)
        }
        self = next
    }

    /// Removes an unsubscribe message's items (those not subscribed change nothing).
    public mutating func unsubscribe(_ params: String) {
        for (channel, target, _) in Self.items(params) {
            guard let channel else { continue }
            self[channel].remove(target)
        }
    }

    /// `T.*, Q.O:SPY…` → (channel, target, item) per item; the channel is `nil` when unknown.
    static func items(_ params: String) -> [(channel: Channel?, target: String, item: String)] {
        params.split(separator: ",").compactMap { piece -> (channel: Channel?, target: String, item: String)? in
            let item = piece.trimmingSpaces
            guard !item.isEmpty else { return nil }
            guard let dot = item.firstIndex(of: ".") else { return (nil, "", item) }
            return (Channel(rawValue: String(item[..<dot])), String(item[item.index(after: dot)...]), item)
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}

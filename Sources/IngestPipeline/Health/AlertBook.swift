/// The open alerts and the open/resolve events between them (docs/design.md §5.4:
/// alerts are logged as open and resolve events, and the health report lists
/// the active ones with their `since`). The caller re-states each condition
/// on every check; the book turns that level into edges, so an alert is
/// opened at most once while it stays active and resolved exactly once.
/// `Name` says which alert (the service's `AlertName`); ties in the listing go by it.
public struct AlertBook<Name: Hashable & Comparable & Sendable, Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct ActiveAlert: Sendable, Equatable {
        public var name: Name
        /// When the alert opened; unchanged by later updates while it stays open.
        public var since: Instant
        /// The latest figures reported with the condition, e.g. `buffer_items`.
        public var values: [String: String]

        public init(name: Name, since: Instant, values: [String: String]) {
            self.name = name
            self.since = since
            self.values = values
        }
    }

    public enum Event: Sendable, Equatable {
        /// The condition became active at `since`.
        case opened(name: Name, since: Instant, values: [String: String])
        /// The condition, active since `since`, is over. `values` are the
        /// figures given with the resolving update, or the last figures it
        /// had while open when none were given.
        case resolved(name: Name, since: Instant, values: [String: String])
    }

    public private(set) var active: [Name: ActiveAlert] = [:]

    public init() {}

    /// Reports whether the alert `name` applies at `now`. Returns `.opened`
    /// when it becomes active, `.resolved` when it stops, and `nil` while
    /// nothing changes (an open alert's `values` are refreshed silently).
    public mutating func update(_ name: Name, isActive: Bool, values: [String: String] = [:], now: Instant) -> Event? {
        if isActive {
            if active[name] != nil {
                active[name]!.values = values
                return nil
            }
            active[name] = ActiveAlert(name: name, since: now, values: values)
            return .opened(name: name, since: now, values: values)
        }
        guard let alert = active.removeValue(forKey: name) else { return nil }
        return .resolved(name: name, since: alert.since, values: values.isEmpty ? alert.values : values)
    }

    /// The open alerts, oldest first (ties by name), for the report's `alerts`.
    public var activeAlerts: [ActiveAlert] {
        active.values.sorted { ($0.since, $0.name) < ($1.since, $1.name) }
    }
}

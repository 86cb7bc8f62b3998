/// The live authenticated connections per API key, oldest first, and who must
/// go when a key exceeds its limit.
///
/// The real feed allows one connection per key and cluster: a new one makes
/// the server send `max_connections` to the older one and close it
/// (docs/feed-sim.md, "Why the faults look so"). `--max-connections` sets
/// the limit here; `nil` = unlimited.
/// Pure value type: the server performs the evictions it returns.
public struct ConnectionRegistry<Connection: Sendable>: Sendable {
    public let limit: Int?
    private var live: [String: [(id: Int, connection: Connection)]] = [:]

    public init(limit: Int?) {
        self.limit = limit.map { max(1, $0) }
    }

    /// Connection `id` authenticated with `key`; returns the connections it
    /// displaces, oldest first. They no longer count towards the limit.
    public mutating func authenticated(_ id: Int, key: String, connection: Connection) -> [Connection] {
        var entries = live[key, default: []]
        if entries.contains(where: { $0.id == id }) { return [] }
        entries.append((id, connection))
        var evicted: [Connection] = []
        if let limit {
            while entries.count > limit { evicted.append(entries.removeFirst().connection) }
        }
        live[key] = entries
        return evicted
    }

    /// Connection `id` ended; it no longer counts.
    public mutating func ended(_ id: Int) {
        for (key, entries) in live where entries.contains(where: { $0.id == id }) {
            let remaining = entries.filter { $0.id != id }
            live[key] = remaining.isEmpty ? nil : remaining
        }
    }

    /// Live connections authenticated with `key`.
    public func count(for key: String) -> Int {
        live[key]?.count ?? 0
    }
}

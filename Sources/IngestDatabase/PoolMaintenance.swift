/// Decides, for a pool of database connections, which idle ones to health-check
/// and which to close (docs/design.md §5.3: a health query every 60 s on idle
/// connections; idle ones beyond the minimum closed after 30 min). Pure: the
/// pool feeds it its slots and the time, and performs the actions (docs/design.md §1.4).
public struct PoolMaintenance<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// docs/design.md §5.3: 60 s. `DB_HEALTH_CHECK_MS`.
        public var healthCheckInterval: Duration
        /// docs/design.md §5.3: 30 min. `DB_IDLE_CLOSE_MS`.
        public var idleTimeout: Duration
        /// Connections kept open however idle: the one the flusher uses most.
        public var minimumConnections: Int

        public init(healthCheckInterval: Duration = .seconds(60), idleTimeout: Duration = .seconds(1800), minimumConnections: Int = 1) {
            self.healthCheckInterval = healthCheckInterval
            self.idleTimeout = idleTimeout
            self.minimumConnections = max(0, minimumConnections)
        }
    }

    /// What the pool knows of one connection slot.
    public struct Slot: Sendable, Equatable {
        /// In use by a write: never touched by maintenance.
        public var busy: Bool
        /// Holds an open connection (a closed slot reconnects on its next use).
        public var connected: Bool
        /// When a write last finished on it.
        public var lastUsed: Instant
        /// When it last answered a health query (or was last used).
        public var lastChecked: Instant

        public init(busy: Bool = false, connected: Bool, lastUsed: Instant, lastChecked: Instant) {
            self.busy = busy
            self.connected = connected
            self.lastUsed = lastUsed
            self.lastChecked = lastChecked
        }
    }

    public enum Action: Sendable, Equatable {
        /// Run `SELECT 1` on this idle slot; on failure drop its connection (the next use replaces it).
        case check(Int)
        /// Close this idle slot's connection: unused for the idle timeout, beyond the minimum.
        case close(Int)
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The actions due at `now`. Highest slots close first: the pool hands
    /// out the lowest idle slot, so the high ones are the ones not needed.
    public func actions(for slots: [Slot], now: Instant) -> [Action] {
        var actions: [Action] = []
        var open = slots.filter(\.connected).count
        for index in slots.indices.reversed() {
            let slot = slots[index]
            guard slot.connected, !slot.busy else { continue }
            if open > configuration.minimumConnections, slot.lastUsed.advanced(by: configuration.idleTimeout) <= now {
                actions.append(.close(index))
                open -= 1
            } else if slot.lastChecked.advanced(by: configuration.healthCheckInterval) <= now {
                actions.append(.check(index))
            }
        }
        return actions.reversed()
    }
}

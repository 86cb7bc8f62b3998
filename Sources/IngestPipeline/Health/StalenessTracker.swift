import OptionsFeed

/// Per-symbol staleness (docs/design.md §5.4): how long
/// each watched symbol has gone without a trade, classified as healthy,
/// degraded, stale or critical, with the state changes since the last check.
///
/// The watched symbols are either the configured list (`WATCH_SYMBOLS`:
/// contracts such as `O:SPY251219C00650000` or underlyings such as `SPY`,
/// the latter matching any of its contracts) or, when none is configured,
/// the `mostActiveCount` underlyings with the most trades seen.
///
/// Pure value type: `record` is called for every accepted trade, `evaluate`
/// periodically; both are given the time. Memory is bounded: with a
/// configured list only those symbols are tracked; otherwise underlyings
/// idle for `evictIdleAfter` are evicted at each `evaluate` unless currently
/// watched, and there are never more than `maxTracked` entries (a new one
/// first evicts the least recently traded unwatched entries).
///
/// Bounded in bytes too, not only in entries: without a configured list the
/// keys are underlyings, and one longer than `maximumKeyBytes` (the decoder's
/// `OptionSymbol.maximumUnderlyingLength`, 10) is never tracked, as no
/// decoded trade has one. A key that short is held inline in its `String`
/// (Swift stores up to 15 UTF-8 bytes without a heap allocation), so the
/// tracker holds at most `maxTracked` fixed-size slots and index entries
/// (≈ 1 MB at the default 10 000), whatever the feed sends; `keyBytes` says
/// how much key text is held.
///
/// Market hours: while the market is closed `evaluate` classifies nothing
/// and reports nothing, and the "last seen" times are left as they are
/// rather than shifted over the closed period. So at the next open a
/// symbol is measured from its last real trade, and may be reported
/// critical until it trades again. That is the simple, honest reading of
/// "time since the last trade"; holidays are the caller's `MarketHours`.
public struct StalenessTracker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The thresholds and the watch list (one type for every instant).
    public typealias Configuration = StalenessConfiguration

    /// A watched symbol changed state (a row for `symbol_health_history`).
    public struct Transition: Sendable, Equatable {
        public var symbol: String
        public var from: StalenessState
        public var to: StalenessState
        /// Time since the symbol's last trade at `at`.
        public var staleness: Duration
        /// Trades seen for the symbol since it was first tracked.
        public var updateCount: Int
        public var at: Instant

        public init(symbol: String, from: StalenessState, to: StalenessState, staleness: Duration, updateCount: Int, at: Instant) {
            self.symbol = symbol
            self.from = from
            self.to = to
            self.staleness = staleness
            self.updateCount = updateCount
            self.at = at
        }
    }

    /// A watched symbol as the health report shows it.
    public struct Entry: Sendable, Equatable {
        public var symbol: String
        public var state: StalenessState
        public var staleness: Duration
        public var updateCount: Int

        public init(symbol: String, state: StalenessState, staleness: Duration, updateCount: Int) {
            self.symbol = symbol
            self.state = state
            self.staleness = staleness
            self.updateCount = updateCount
        }
    }

    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var symbol: String
        /// `nil`: a configured symbol not seen yet (measured from creation).
        @usableFromInline var lastSeen: Instant?
        @usableFromInline var updateCount: Int
        /// The state last reported by `evaluate`.
        @usableFromInline var state: StalenessState

        @usableFromInline
        init(symbol: String, lastSeen: Instant?, updateCount: Int, state: StalenessState) {
            self.symbol = symbol
            self.lastSeen = lastSeen
            self.updateCount = updateCount
            self.state = state
        }
    }

    public let configuration: Configuration
    /// Configured symbols occupy `slots[0..<configuredCount]` for good.
    // `record` is inlined into the caller's module (`@inlinable`) so that it runs
    // specialized for the caller's clock: per trade, unspecialized generic code
    // costs more than the look-up itself (docs/performance.md).
    @usableFromInline var slots: [Slot] = []
    @usableFromInline var index: [String: Int] = [:]
    @usableFromInline let configuredCount: Int
    /// What a configured symbol never seen is measured from: the `now` given
    /// to the initialiser, or else the first `record` or `evaluate`.
    @usableFromInline var createdAt: Instant?

    public init(configuration: Configuration) {
        self.configuration = configuration
        for symbol in configuration.watched where !symbol.isEmpty && index[symbol] == nil {
            index[symbol] = slots.count
            slots.append(Slot(symbol: symbol, lastSeen: nil, updateCount: 0, state: .healthy))
        }
        configuredCount = slots.count
    }

    /// As `init(configuration:)`, with the creation time given: configured
    /// symbols never seen are measured from `now`.
    public init(configuration: Configuration, now: Instant) {
        self.init(configuration: configuration)
        createdAt = now
    }

    /// Entries held (configured symbols included).
    public var trackedCount: Int { slots.count }

    /// The longest underlying tracked, in UTF-8 bytes: the decoder accepts no
    /// longer one, and at most 15 bytes a key is stored inline in its `String`.
    public static var maximumKeyBytes: Int { OptionSymbol.maximumUnderlyingLength }

    /// UTF-8 bytes of the keys held (configured symbols included).
    public var keyBytes: Int { slots.reduce(0) { $0 + $1.symbol.utf8.count } }

    /// Notes a trade. Hot path: one or two hash lookups and an in-place
    /// update; it allocates only when a new underlying is first seen.
    @inlinable
    public mutating func record(contract: String, underlying: String, now: Instant) {
        if createdAt == nil { createdAt = now }
        if configuredCount > 0 {
            if let slot = index[contract] { touch(slot, now: now) }
            if let slot = index[underlying] { touch(slot, now: now) }
            return
        }
        if let slot = index[underlying] {
            touch(slot, now: now)
        } else if underlying.utf8.count <= Self.maximumKeyBytes {
            insert(underlying, now: now)
        }
    }

    /// Classifies the watched symbols and returns their state changes since
    /// the last evaluation, in watch order (configured order, or most active
    /// first). With the market closed nothing is classified or returned.
    /// Then evicts unwatched entries idle for `evictIdleAfter`. A symbol that
    /// drops out of the most-active set keeps its last state unreported
    /// until it is watched again.
    public mutating func evaluate(now: Instant, marketOpen: Bool) -> [Transition] {
        if createdAt == nil { createdAt = now }
        let watched = watchedSlots()
        var transitions: [Transition] = []
        if marketOpen {
            for slot in watched {
                let staleness = staleness(of: slots[slot], now: now)
                let state = configuration.state(after: staleness)
                guard state != slots[slot].state else { continue }
                transitions.append(
                    Transition(
                        symbol: slots[slot].symbol, from: slots[slot].state, to: state, staleness: staleness,
                        updateCount: slots[slot].updateCount, at: now))
                slots[slot].state = state
            }
        }
        evictIdle(now: now, keeping: Set(watched))
        return transitions
    }

    /// The watched symbols classified at `now`, worst first (then longest
    /// without a trade, then by name). Regardless of market hours: callers
    /// that report these while closed should say so.
    public func watchedEntries(now: Instant) -> [Entry] {
        watchedSlots().map { slot in
            let staleness = staleness(of: slots[slot], now: now)
            return Entry(
                symbol: slots[slot].symbol, state: configuration.state(after: staleness), staleness: staleness,
                updateCount: slots[slot].updateCount)
        }
        .sorted { ($1.state, $1.staleness, $0.symbol) < ($0.state, $0.staleness, $1.symbol) }
    }

    /// How many watched symbols are in each state at `now` (every state present).
    public func counts(now: Instant) -> [StalenessState: Int] {
        var counts = Dictionary(uniqueKeysWithValues: StalenessState.allCases.map { ($0, 0) })
        for slot in watchedSlots() {
            counts[configuration.state(after: staleness(of: slots[slot], now: now)), default: 0] += 1
        }
        return counts
    }

    // MARK: - Internals

    @inlinable
    mutating func touch(_ slot: Int, now: Instant) {
        slots[slot].lastSeen = now
        slots[slot].updateCount += 1
    }

    private func staleness(of slot: Slot, now: Instant) -> Duration {
        guard let since = slot.lastSeen ?? createdAt else { return .zero }
        let age = since.duration(to: now)
        return age > .zero ? age : .zero
    }

    /// The configured slots, or the `mostActiveCount` with the most trades
    /// (ties by name, so the choice is stable).
    private func watchedSlots() -> [Int] {
        if configuredCount > 0 { return Array(0..<configuredCount) }
        let limit = configuration.mostActiveCount
        guard limit > 0 else { return [] }
        var top: [Int] = []
        top.reserveCapacity(limit + 1)
        for candidate in slots.indices {
            if top.count == limit, !isMoreActive(candidate, than: top[limit - 1]) { continue }
            let position = top.firstIndex { isMoreActive(candidate, than: $0) } ?? top.count
            top.insert(candidate, at: position)
            if top.count > limit { top.removeLast() }
        }
        return top
    }

    private func isMoreActive(_ a: Int, than b: Int) -> Bool {
        let (left, right) = (slots[a], slots[b])
        return left.updateCount != right.updateCount ? left.updateCount > right.updateCount : left.symbol < right.symbol
    }

    @usableFromInline
    mutating func insert(_ symbol: String, now: Instant) {
        if slots.count >= configuration.maxTracked {
            // Make room for a tenth more at once, so the O(n) eviction runs
            // once per many new symbols rather than on every one.
            let target = configuration.maxTracked - max(1, configuration.maxTracked / 10)
            evictLeastRecent(downTo: target, keeping: Set(watchedSlots()))
            guard slots.count < configuration.maxTracked else { return }
        }
        index[symbol] = slots.count
        slots.append(Slot(symbol: symbol, lastSeen: now, updateCount: 1, state: .healthy))
    }

    private mutating func evictIdle(now: Instant, keeping watched: Set<Int>) {
        var evict: Set<Int> = []
        for slot in configuredCount..<slots.count where !watched.contains(slot) {
            if let lastSeen = slots[slot].lastSeen, lastSeen.duration(to: now) >= configuration.evictIdleAfter {
                evict.insert(slot)
            }
        }
        remove(evict)
    }

    private mutating func evictLeastRecent(downTo target: Int, keeping watched: Set<Int>) {
        let excess = slots.count - max(0, target)
        guard excess > 0 else { return }
        let candidates = (configuredCount..<slots.count).filter { !watched.contains($0) }
        // Unconfigured entries always have a `lastSeen`: they exist because of a trade.
        let oldestFirst = candidates.sorted { a, b in
            guard let left = slots[a].lastSeen, let right = slots[b].lastSeen, left != right else { return a < b }
            return left < right
        }
        remove(Set(oldestFirst.prefix(excess)))
    }

    private mutating func remove(_ evict: Set<Int>) {
        guard !evict.isEmpty else { return }
        var kept: [Slot] = []
        kept.reserveCapacity(slots.count - evict.count)
        for (slot, value) in slots.enumerated() where !evict.contains(slot) { kept.append(value) }
        slots = kept
        index.removeAll(keepingCapacity: true)
        for (slot, value) in slots.enumerated() { index[value.symbol] = slot }
    }
}

/// What `StalenessTracker` watches and when a symbol is degraded, stale or critical.
public struct StalenessConfiguration: Sendable, Equatable {
    /// `WATCH_SYMBOLS`: contracts like "O:SPY251219C00650000" or underlyings
    /// like "SPY"; empty = the `mostActiveCount` most active underlyings seen.
    public var watched: [String]
    /// How many underlyings are watched when no list is configured (20:
    /// enough for the index and mega-cap names that carry most volume).
    public var mostActiveCount: Int
    /// Degraded from this long without a trade (docs/design.md §5.4: 180 s).
    public var degradedAfter: Duration
    /// Stale beyond this long without a trade (docs/design.md §5.4: > 300 s).
    public var staleAfter: Duration
    /// Critical beyond this long without a trade (docs/design.md §5.4: > 1 hour).
    public var criticalAfter: Duration
    /// Unwatched entries idle this long are evicted (docs/design.md §5.4: 30 min).
    public var evictIdleAfter: Duration
    /// Most entries kept, whatever the feed sends (10 000: above the
    /// ~6 000 US optionable underlyings, a few MB at most).
    public var maxTracked: Int

    public init(
        watched: [String] = [], mostActiveCount: Int = 20, degradedAfter: Duration = .seconds(180),
        staleAfter: Duration = .seconds(300), criticalAfter: Duration = .seconds(3600),
        evictIdleAfter: Duration = .seconds(1800), maxTracked: Int = 10_000
    ) {
        self.watched = watched
        self.mostActiveCount = mostActiveCount
        self.degradedAfter = degradedAfter
        self.staleAfter = staleAfter
        self.criticalAfter = criticalAfter
        self.evictIdleAfter = evictIdleAfter
        self.maxTracked = maxTracked
    }

    /// The state for a time since the last trade: healthy below
    /// `degradedAfter`, degraded up to and including `staleAfter`, stale
    /// beyond it, critical beyond `criticalAfter`.
    public func state(after staleness: Duration) -> StalenessState {
        if staleness > criticalAfter { return .critical }
        if staleness > staleAfter { return .stale }
        if staleness >= degradedAfter { return .degraded }
        return .healthy
    }
}

/// The service's overall health, worst last so that `max` of several is the
/// overall verdict (docs/design.md §5.4: `status` is healthy | degraded | unhealthy).
public enum HealthStatus: String, Sendable, Codable, Comparable, CaseIterable {
    case healthy, degraded, unhealthy

    private var severity: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .unhealthy: 2
        }
    }

    public static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool { lhs.severity < rhs.severity }
}

/// What the status rules look at, gathered by the health reporter at one
/// instant. Durations are measured by the caller so the rules stay pure.
public struct HealthConditions: Sendable, Equatable {
    /// The feed session is in its streaming phase.
    public var feedStreaming: Bool
    /// How long the feed has not been streaming; `nil` while it streams.
    public var feedNotStreamingFor: Duration?
    /// The feed client is between attempts (backoff) or handshaking again.
    public var feedReconnecting: Bool
    /// Where the database breaker is.
    public var databaseBreaker: BreakerPhase
    /// How long the breaker has been out of `closed` (open or half-open
    /// since it last opened); `nil` while closed.
    public var databaseBreakerOpenFor: Duration?
    /// Trades were dropped (buffer and spool both full) since the last report.
    public var tradesDroppedRecently: Bool
    /// Items waiting in the trade buffer.
    public var bufferItems: Int
    /// Watched symbols currently stale or critical (`StalenessTracker`).
    public var staleWatchedSymbols: Int
    /// Resident set size of the process.
    public var rssBytes: Int
    /// A standby of an active/standby pair (docs/design.md §5.5): it does not connect to
    /// the feed on purpose, so the feed rules do not apply to it.
    public var standby: Bool

    public init(
        feedStreaming: Bool, feedNotStreamingFor: Duration?, feedReconnecting: Bool,
        databaseBreaker: BreakerPhase, databaseBreakerOpenFor: Duration?, tradesDroppedRecently: Bool,
        bufferItems: Int, staleWatchedSymbols: Int, rssBytes: Int, standby: Bool = false
    ) {
        self.standby = standby
        self.feedStreaming = feedStreaming
        self.feedNotStreamingFor = feedNotStreamingFor
        self.feedReconnecting = feedReconnecting
        self.databaseBreaker = databaseBreaker
        self.databaseBreakerOpenFor = databaseBreakerOpenFor
        self.tradesDroppedRecently = tradesDroppedRecently
        self.bufferItems = bufferItems
        self.staleWatchedSymbols = staleWatchedSymbols
        self.rssBytes = rssBytes
    }
}

/// The status rules of docs/design.md §5.4 as one pure function:
/// - **unhealthy** if the feed has not been streaming for > 2 min, the DB
///   breaker has been open for > 2 min, or trades are being dropped;
/// - **degraded** if the feed is reconnecting, the breaker is open or
///   half-open, the buffer holds > 1000 items, any watched symbol is stale,
///   or RSS > 500 MB;
/// - **healthy** otherwise.
///
/// A standby (docs/design.md §5.5) is judged without the feed rules: it is healthy while
/// its database side is.
///
/// `reasons` names each condition that applies, once, in its most severe
/// form: a feed down for over 2 min gives `feed_down_over_2m`, not also
/// `feed_reconnecting`; likewise `db_breaker_open_over_2m` replaces
/// `db_breaker_open`/`db_breaker_half_open`. Unhealthy reasons come first.
/// The numbers in the names follow the thresholds (`buffer_over_1000` with
/// the defaults).
public struct HealthRules: Sendable, Equatable {
    public struct Thresholds: Sendable, Equatable {
        /// Feed not streaming longer than this is unhealthy (docs/design.md §5.4: 2 min).
        public var feedDownUnhealthyAfter: Duration
        /// DB breaker out of `closed` longer than this is unhealthy (docs/design.md §5.4: 2 min).
        public var breakerOpenUnhealthyAfter: Duration
        /// More buffered items than this is degraded (docs/design.md §5.4: 1000).
        public var bufferDegradedAbove: Int
        /// More resident memory than this is degraded (docs/design.md §5.4: 500 MB, as MiB).
        public var rssDegradedAboveBytes: Int

        public init(
            feedDownUnhealthyAfter: Duration = .seconds(120), breakerOpenUnhealthyAfter: Duration = .seconds(120),
            bufferDegradedAbove: Int = 1000, rssDegradedAboveBytes: Int = 500 * 1024 * 1024
        ) {
            self.feedDownUnhealthyAfter = feedDownUnhealthyAfter
            self.breakerOpenUnhealthyAfter = breakerOpenUnhealthyAfter
            self.bufferDegradedAbove = bufferDegradedAbove
            self.rssDegradedAboveBytes = rssDegradedAboveBytes
        }
    }

    public var thresholds: Thresholds

    public init(thresholds: Thresholds = .init()) {
        self.thresholds = thresholds
    }

    public func evaluate(_ conditions: HealthConditions) -> (status: HealthStatus, reasons: [String]) {
        var unhealthy: [String] = []
        var degraded: [String] = []

        let feedDownLong = !conditions.feedStreaming && (conditions.feedNotStreamingFor.map { $0 > thresholds.feedDownUnhealthyAfter } ?? false)
        if conditions.standby {
            // Not streaming is what a standby is for.
        } else if feedDownLong {
            unhealthy.append("feed_down_over_\(Self.label(thresholds.feedDownUnhealthyAfter))")
        } else if !conditions.feedStreaming || conditions.feedReconnecting {
            degraded.append("feed_reconnecting")
        }

        if conditions.databaseBreaker != .closed {
            if let openFor = conditions.databaseBreakerOpenFor, openFor > thresholds.breakerOpenUnhealthyAfter {
                unhealthy.append("db_breaker_open_over_\(Self.label(thresholds.breakerOpenUnhealthyAfter))")
            } else if conditions.databaseBreaker == .halfOpen {
                degraded.append("db_breaker_half_open")
            } else {
                degraded.append("db_breaker_open")
            }
        }

        if conditions.tradesDroppedRecently { unhealthy.append("trades_dropped") }
        if conditions.bufferItems > thresholds.bufferDegradedAbove { degraded.append("buffer_over_\(thresholds.bufferDegradedAbove)") }
        if conditions.staleWatchedSymbols > 0 { degraded.append("stale_symbols") }
        if conditions.rssBytes > thresholds.rssDegradedAboveBytes {
            degraded.append("rss_over_\(thresholds.rssDegradedAboveBytes / (1024 * 1024))mb")
        }

        let status: HealthStatus = !unhealthy.isEmpty ? .unhealthy : !degraded.isEmpty ? .degraded : .healthy
        return (status, unhealthy + degraded)
    }

    /// "2m" for 120 s, "90s" for 90 s: short enough for a reason code.
    private static func label(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }
}

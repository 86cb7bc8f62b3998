/// How long a watched symbol has gone without a trade (docs/design.md §5.4,
/// "Per-symbol staleness"): healthy under 180 s, degraded
/// 180–300 s, stale over 300 s, critical over an hour. Ordered by severity,
/// so `max` is the worst. The raw values are the `status` column of
/// `symbol_health_history`.
public enum StalenessState: String, Sendable, Codable, CaseIterable, Comparable {
    case healthy, degraded, stale, critical

    private var severity: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .stale: 2
        case .critical: 3
        }
    }

    public static func < (lhs: StalenessState, rhs: StalenessState) -> Bool { lhs.severity < rhs.severity }
}

/// A row for the health tables of docs/design.md §4.1 and §5.4: per-
/// symbol staleness transitions and connection events. Written through the
/// same guarded path as trades, kept in memory while the database is down.
public enum HealthEvent: Sendable, Equatable {
    /// `symbol_health_history`: a watched symbol changed staleness state.
    case symbolHealth(symbol: String, atMicros: Int64, status: String, stalenessSeconds: Double, updateCount: Int)
    /// `price_staleness_alerts`: a watched symbol became stale (`warning`) or critical (`critical`).
    case stalenessAlert(symbol: String, atMicros: Int64, stalenessSeconds: Double, level: String)
    /// Every open `price_staleness_alerts` row of the symbol is resolved: it is healthy again.
    case stalenessResolved(symbol: String, atMicros: Int64)
    /// `websocket_health_logs`: a feed connection event (state change, status message).
    case connection(atMicros: Int64, component: String, message: String, statusCode: Int?, metadataJSON: String?)
}

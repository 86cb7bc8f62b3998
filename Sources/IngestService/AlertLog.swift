import Logging

/// The alerts the service raises, by the name its `ALERT` log lines and the
/// health report's `alerts` carry (docs/operations.md §1, docs/design.md §5.4).
public enum AlertName: String, Sendable, CaseIterable, Codable, Comparable {
    case feedDisconnected = "feed_disconnected"
    case feedStale = "feed_stale"
    case noMessages = "no_messages"
    case authenticationError = "authentication_error"
    case dbConnectionLost = "db_connection_lost"
    case bufferHigh = "buffer_high"
    case rssHigh = "rss_high"
    /// More faults (network, rate limit, authentication, database errors: `ErrorClass.isFault`) than
    /// `ALERT_ERRORS_PER_MINUTE` in the last minute; invalid feed data does not count (docs/operations.md §1).
    case errorRateHigh = "error_rate_high"
    /// More than `ALERT_INVALID_TRADES_PERCENT` of the last minute's trades were invalid (`InvalidTradeShare`).
    case invalidTradesHigh = "invalid_trades_high"
    case tradesDropped = "trades_dropped"
    case feedSlowConsumer = "feed_slow_consumer"
    case spoolFailing = "spool_failing"
    case recordingFailed = "recording_failed"
    /// A gap has waited longer than `ALERT_BACKFILL_LAG_MS` for its backfill (docs/design.md §5.8.1).
    case backfillLagging = "backfill_lagging"

    /// By name, as the report lists alerts that opened at the same time.
    public static func < (lhs: AlertName, rhs: AlertName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Whether an `ALERT` line opens its alert or resolves it.
public enum AlertState: String, Sendable, CaseIterable {
    case open, resolved
}

extension Logger {
    /// Writes one alert line, `{"msg":"ALERT","alert":…,"state":"open"|"resolved",…}`
    /// (docs/operations.md §1): the only place that shape is written. `metadata`
    /// adds the alert's figures; `alert` and `state` are always the ones given here.
    func alert(
        _ name: AlertName, _ state: AlertState, level: Logger.Level, metadata: Logger.Metadata = [:],
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        var fields = metadata
        fields["alert"] = .string(name.rawValue)
        fields["state"] = .string(state.rawValue)
        log(level: level, "ALERT", metadata: fields, file: file, function: function, line: line)
    }
}

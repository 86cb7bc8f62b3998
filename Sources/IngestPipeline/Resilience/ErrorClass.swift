/// The error classes the health report counts (docs/design.md §5.4: `errors` by class:
/// network, rate_limit, authentication, data, database). The raw values are
/// the report's keys (`CodingKeyRepresentable`: a dictionary by class encodes as an object).
public enum ErrorClass: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable {
    /// Connection refused/reset, DNS, TLS, timeouts, dropped sockets.
    case network
    /// The feed or an upstream refused us for going too fast.
    case rateLimit = "rate_limit"
    /// Rejected API key or database credentials.
    case authentication
    /// Malformed frames and invalid trades.
    case data
    /// Failed database operations.
    case database
}

import OptionsFeed

/// `--rest-rate-limit N`: a token bucket of N requests, refilled at N per
/// second, so a client may send N at once and then N a second; one more gets
/// HTTP 429 with `Retry-After: 1`. Pure value type: every instant comes in as a parameter.
public struct RequestRateLimiter: Sendable {
    public let perSecond: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant?

    public init(perSecond: Double) {
        self.perSecond = max(0, perSecond)
        self.tokens = max(1, perSecond)
    }

    /// Whether a request arriving at `now` may be answered; takes its token if so.
    public mutating func admit(at now: ContinuousClock.Instant) -> Bool {
        let capacity = max(1, perSecond)
        if let updated, updated < now {
            tokens = min(capacity, tokens + (now - updated).seconds * perSecond)
        }
        if updated.map({ $0 < now }) ?? true { updated = now }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

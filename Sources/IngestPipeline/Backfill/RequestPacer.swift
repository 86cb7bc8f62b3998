/// Paces REST requests (docs/design.md §5.8.1: `BACKFILL_REQUESTS_PER_S`,
/// default 10): a token bucket kept as the next free slot (GCRA), so a
/// reservation is O(1) and time only ever comes in as `now`.
///
/// The burst defaults to 1: requests are spaced 1/N s apart, so no window
/// of one second, wherever it starts, holds more than N of them (a burst of
/// N after an idle second followed by N spaced ones would put 2N in one).
/// A 429's `Retry-After` blocks every request until then (`blocked(until:)`),
/// after which they resume one slot at a time, not as a burst.
public struct RequestPacer<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Requests per second; 0 or less (or not finite) paces nothing.
    public let requestsPerSecond: Double
    /// Requests that may go at once after an idle time, ≥ 1.
    public let burst: Int
    /// Time between two slots, 1/`requestsPerSecond`.
    public let interval: Duration

    /// When the next request may go at the earliest, were there no burst allowance.
    private var nextSlot: Instant?
    private var blockedUntil: Instant?

    /// The default rate (docs/design.md §5.8.1: `BACKFILL_REQUESTS_PER_S` 10).
    public static var defaultRequestsPerSecond: Double { 10 }

    public init(requestsPerSecond: Double = RequestPacer.defaultRequestsPerSecond, burst: Int = 1) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = max(1, burst)
        let paced = requestsPerSecond.isFinite && requestsPerSecond > 0
        self.interval = paced ? .nanoseconds(Int64((1e9 / requestsPerSecond).rounded())) : .zero
    }

    /// Reserves the next slot for a request wanted at `now` and returns how
    /// long to wait before sending it (zero: send now). Every call takes a
    /// slot, so callers wait the returned time and then send, without asking again.
    public mutating func reserve(now: Instant) -> Duration {
        let allowance = interval * (burst - 1)
        var slot = nextSlot.map { max(now, $0.advanced(by: .zero - allowance)) } ?? now
        if let blockedUntil, slot < blockedUntil { slot = blockedUntil }
        let base = nextSlot.map { max($0, slot) } ?? slot
        nextSlot = base.advanced(by: interval)
        return now.duration(to: slot)
    }

    /// No request before `until` (a 429's `Retry-After`); an earlier `until`
    /// than one already set changes nothing. The slots after it are spaced
    /// again from `until`.
    public mutating func blocked(until: Instant) {
        guard blockedUntil.map({ until > $0 }) ?? true else { return }
        blockedUntil = until
        let allowance = interval * (burst - 1)
        // The first slot at `until`, the next one interval later: no burst after a refusal.
        let resume = until.advanced(by: allowance)
        if nextSlot.map({ resume > $0 }) ?? true { nextSlot = resume }
    }
}

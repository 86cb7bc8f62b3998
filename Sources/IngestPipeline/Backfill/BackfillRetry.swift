/// What to do after one REST request (docs/design.md §5.8.1), pure: the
/// wiring reports what happened (`Outcome`) and how many attempts have been
/// made, and gets back whether to use the body, wait and try again, or give
/// the contract up with a reason. 429 and 5xx, timeouts, dropped connections
/// and cut bodies are retried with the shared backoff (`RetrySchedule`,
/// 1 s doubling to 30 s, no jitter: the pacer already spaces requests); a 429
/// waits at least its `Retry-After`. 401/403/404 and other 4xx give up at once.
public struct BackfillRetry: Sendable, Equatable {
    /// What one attempt gave.
    public enum Outcome: Sendable, Equatable {
        /// An HTTP response, with its `Retry-After` if it carried one in seconds.
        case response(status: Int, retryAfter: Duration?)
        /// No response in time.
        case timeout
        /// The connection failed or dropped before a whole response (reset, refused, DNS, TLS).
        case connectionFailed
        /// A 200 whose body did not parse (`RESTPageError`).
        case badBody(RESTPageError)
    }

    /// What to do next.
    public enum Decision: Sendable, Equatable {
        /// Use the response.
        case success
        /// Wait `after`, then send the request again. `blocksAll`: a 429, so
        /// every other request waits too (`RequestPacer.blocked(until:)`).
        case retry(after: Duration, blocksAll: Bool, reason: String, errorClass: ErrorClass)
        /// Give this contract up for this window: the gap becomes `failed` or `partial`.
        case fail(reason: String, errorClass: ErrorClass)
    }

    /// The most attempts per request, first one included (default 5).
    public var maxAttempts: Int
    public var schedule: RetrySchedule

    public init(maxAttempts: Int = 5, initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(30)) {
        self.maxAttempts = max(1, maxAttempts)
        self.schedule = RetrySchedule(maxRetries: self.maxAttempts - 1, initialDelay: initialDelay, maximumDelay: maximumDelay)
    }

    /// The decision after attempt number `attempt` (1 for the first) ended with `outcome`.
    public func decision(after outcome: Outcome, attempt: Int) -> Decision {
        let transient: (reason: String, errorClass: ErrorClass, floor: Duration?)
        switch outcome {
        case .response(let status, _) where (200..<300).contains(status):
            return .success
        case .response(429, let retryAfter):
            transient = ("rate limited (429)", .rateLimit, retryAfter)
        case .response(let status, _) where status >= 500 || status == 408:
            transient = ("server error (\(status))", .network, nil)
        case .response(401, _):
            return .fail(reason: "API key rejected (401)", errorClass: .authentication)
        case .response(403, _):
            return .fail(reason: "not authorized for this data (403)", errorClass: .authentication)
        case .response(404, _):
            return .fail(reason: "not found (404)", errorClass: .data)
        case .response(let status, _):
            return .fail(reason: "unexpected HTTP status \(status)", errorClass: .data)
        case .timeout:
            transient = ("timed out", .network, nil)
        case .connectionFailed:
            transient = ("connection failed", .network, nil)
        case .badBody(.apiError(let status, let message)):
            return .fail(reason: "API error \(status): \(message)", errorClass: .data)
        case .badBody(let error):
            transient = ("\(error)", .data, nil)
        }
        guard attempt < maxAttempts else {
            return .fail(reason: "gave up after \(attempt) attempts: \(transient.reason)", errorClass: transient.errorClass)
        }
        let backoff = schedule.delay(forRetry: max(attempt - 1, 0))
        let wait = transient.floor.map { max($0, backoff) } ?? backoff
        return .retry(
            after: wait, blocksAll: transient.errorClass == .rateLimit, reason: transient.reason, errorClass: transient.errorClass)
    }

    /// A `Retry-After` header's delay: whole seconds (what the API sends);
    /// `nil` for an HTTP date or anything else, which falls back to the backoff.
    public static func retryAfter(header: String) -> Duration? {
        let text = header.trimmingPrefix(while: { $0 == " " })
        guard let seconds = Int64(text.prefix(while: { $0 != " " })), seconds >= 0, seconds <= 86_400 else { return nil }
        return .seconds(seconds)
    }
}

import Testing

@testable import IngestPipeline

/// What happens after each REST outcome (docs/design.md §5.8.1).
@Suite("Backfill retry decisions")
struct BackfillRetryTests {
    let retry = BackfillRetry(maxAttempts: 5, initialDelay: .seconds(1), maximumDelay: .seconds(30))

    typealias Outcome = BackfillRetry.Outcome

    @Test(
        "the decision per outcome on the first attempt",
        arguments: [
            (Outcome.response(status: 200, retryAfter: nil), BackfillRetry.Decision.success),
            (
                .response(status: 429, retryAfter: .seconds(12)),
                .retry(after: .seconds(12), blocksAll: true, reason: "rate limited (429)", errorClass: .rateLimit)
            ),
            (
                .response(status: 429, retryAfter: nil),
                .retry(after: .seconds(1), blocksAll: true, reason: "rate limited (429)", errorClass: .rateLimit)
            ),
            (
                .response(status: 503, retryAfter: nil),
                .retry(after: .seconds(1), blocksAll: false, reason: "server error (503)", errorClass: .network)
            ),
            (
                .response(status: 500, retryAfter: nil),
                .retry(after: .seconds(1), blocksAll: false, reason: "server error (500)", errorClass: .network)
            ),
            (.timeout, .retry(after: .seconds(1), blocksAll: false, reason: "timed out", errorClass: .network)),
            (.connectionFailed, .retry(after: .seconds(1), blocksAll: false, reason: "connection failed", errorClass: .network)),
            (
                .badBody(.truncated(offset: 7)),
                .retry(after: .seconds(1), blocksAll: false, reason: "truncated response body at byte 7", errorClass: .data)
            ),
            (.response(status: 401, retryAfter: nil), .fail(reason: "API key rejected (401)", errorClass: .authentication)),
            (.response(status: 403, retryAfter: nil), .fail(reason: "not authorized for this data (403)", errorClass: .authentication)),
            (.response(status: 404, retryAfter: nil), .fail(reason: "not found (404)", errorClass: .data)),
            (.response(status: 400, retryAfter: .seconds(3)), .fail(reason: "unexpected HTTP status 400", errorClass: .data)),
            (.badBody(.apiError(status: "ERROR", message: "bad ticker")), .fail(reason: "API error ERROR: bad ticker", errorClass: .data)),
        ])
    func firstAttempt(outcome: Outcome, expected: BackfillRetry.Decision) {
        #expect(retry.decision(after: outcome, attempt: 1) == expected)
    }

    @Test("retries back off 1, 2, 4, 8 s and give up after the fifth attempt")
    func backoffAndGiveUp() {
        let waits = (1...4).map { attempt -> Duration? in
            if case .retry(let after, _, _, _) = retry.decision(after: .response(status: 502, retryAfter: nil), attempt: attempt) {
                return after
            }
            return nil
        }
        #expect(waits == [.seconds(1), .seconds(2), .seconds(4), .seconds(8)])
        #expect(
            retry.decision(after: .response(status: 502, retryAfter: nil), attempt: 5)
                == .fail(reason: "gave up after 5 attempts: server error (502)", errorClass: .network))
    }

    @Test("a 429 waits the longer of its Retry-After and the backoff")
    func retryAfterFloor() {
        #expect(
            retry.decision(after: .response(status: 429, retryAfter: .seconds(1)), attempt: 4)
                == .retry(after: .seconds(8), blocksAll: true, reason: "rate limited (429)", errorClass: .rateLimit))
    }

    @Test(
        "Retry-After in seconds parses; a date or junk does not",
        arguments: [
            ("12", Duration?.some(.seconds(12))), (" 0", .some(.zero)), ("Wed, 21 Oct 2015 07:28:00 GMT", nil), ("-1", nil), ("", nil),
            ("1e3", nil),
        ])
    func retryAfterHeader(header: String, expected: Duration?) {
        #expect(BackfillRetry.retryAfter(header: header) == expected)
    }
}

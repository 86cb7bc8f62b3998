import Foundation
import IngestPipeline
@testable import IngestStatus
import Testing

@testable import IngestService

/// What the feed session, the error log and the status server do with
/// secrets: masked wherever text is shown, compared without a timing tell.
@Suite("Secret masking")
struct SecretMaskTests {
    static let url = "wss://user:hunter22@feed.example.com/options?apiKey=KEY-in-query-123&cluster=x"

    @Test("a failure reason that echoes the feed URL shows it masked: no user info, no query value, no key")
    func reasonEchoingTheURL() {
        let configuration = FeedSessionConfiguration(
            url: Self.url, apiKey: "the-api-key-987", subscriptions: ["T.*"], maxFrameBytes: 1 << 20, pingInterval: .seconds(10),
            watchdog: .init())
        let mask = configuration.mask
        #expect(configuration.maskedURL == "wss://feed.example.com/options?***")
        #expect(mask("upgrade of \(Self.url) failed: 401") == "upgrade of wss://feed.example.com/options?*** failed: 401")
        #expect(mask("GET /options?apiKey=KEY-in-query-123 refused") == "GET /options?apiKey=*** refused")
        #expect(mask("GET /options?apiKey%3DKEY-in-query-123") == "GET /options?apiKey%3D***")
        #expect(mask("auth as user hunter22 with the-api-key-987") == "auth as *** *** with ***")
        #expect(!"\(configuration)".contains("KEY-in-query-123") && !"\(configuration)".contains("the-api-key-987"))
    }

    @Test("every end of a feed attempt is masked before it is kept: connection, taken over, rejected")
    func attemptEndsMasked() {
        let mask = SecretMask(secrets: ["the-api-key-987"], urls: [Self.url])
        for failure: FeedSession.Failure in [
            .connection("closed by the server (1008: bad key the-api-key-987)"), .takenOver("max_connections for KEY-in-query-123"),
            .rejected("auth_failed: the-api-key-987"),
        ] {
            let attempt = FeedSession.Attempt(watchdog: .init(configuration: .init(), now: .now), mask: mask)
            attempt.end(failure)
            let kept = attempt.failure?.reason ?? ""
            #expect(kept.contains("***") && !kept.contains("the-api-key-987") && !kept.contains("KEY-in-query-123"), "\(kept)")
        }
    }

    @Test("the error log masks URL secrets as well as the listed ones; short values are left alone")
    func errorLogMasks() {
        let errors = ErrorLog(secrets: ["Sup3r-pw", "abc"], urls: [Self.url])
        errors.record(.network, message: "failed: \(Self.url) with Sup3r-pw, abc")
        #expect(errors.snapshot()[.network]?.lastMessage == "failed: wss://feed.example.com/options?*** with ***, abc")
    }

    @Test("status tokens match only when equal: a prefix, a longer one, one byte off or empty do not", arguments: [
        ("s3cret-status-token", true), ("s3cret-status-toke", false), ("s3cret-status-token!", false), ("t3cret-status-token", false),
        ("s3cret-status-tokeN", false), ("", false),
    ])
    func tokenComparison(_ presented: String, _ matches: Bool) {
        #expect(StatusServer.tokenMatches(presented, "s3cret-status-token") == matches)
    }
}

import FeedSimulator
import Foundation
import IngestPipeline
import IngestService
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

/// The backfill's REST client (docs/design.md §5.8.1) against feed-sim's REST
/// API over a real socket: paging to the ledger's full set, the chain
/// snapshot, and every failure the API can answer with: 401, 429 with
/// `Retry-After`, 500s, truncated bodies, slow answers, a server that never
/// gives up failing.
@Suite("REST client against feed-sim's REST API")
struct RESTClientTests {
    static let everything = BackfillWindow(fromMs: 0, toMs: BackfillWindow.latestMs - 1)

    static func client(
        port: Int, key: String = "sekrit", requestsPerSecond: Double = 0, retry: BackfillRetry = .init(maxAttempts: 5, initialDelay: .milliseconds(20)),
        requestTimeout: Duration = .seconds(10), tradesPageLimit: Int = 7, snapshotPageLimit: Int = 3, progress: BackfillProgress? = nil
    ) throws -> RESTClient {
        var logger = Logger(label: "rest-client-test")
        logger.logLevel = .critical
        return RESTClient(
            endpoint: try #require(RESTEndpoint("http://127.0.0.1:\(port)")), apiKey: key, requestsPerSecond: requestsPerSecond,
            retry: retry, requestTimeout: requestTimeout, tradesPageLimit: tradesPageLimit, snapshotPageLimit: snapshotPageLimit,
            progress: progress, logger: logger)
    }

    /// Every valid trade of `sym` in the stream ledger, in the API's order.
    static func expected(_ truth: [RestAPITests.Truth], _ sym: String) -> [RestAPITests.Truth] {
        truth.filter { $0.sym == sym }.sorted { ($0.sip, $0.q) < ($1.sip, $1.q) }
    }

    @Test("every trade of a contract, skipped ones included, across pages by next_url; a window's bounds in ns")
    func tradesAcrossPages() async throws {
        try await RestAPITests.withRest { port, _, truth in
            let client = try Self.client(port: port)
            defer { Task { await client.shutdown() } }
            var skipped = 0
            for sym in Set(truth.map(\.sym)).sorted().prefix(3) {
                let expected = Self.expected(truth, sym)
                let fetch = try await client.trades(ticker: sym, window: Self.everything)
                #expect(fetch.trades.map(\.sipTimestampNs) == expected.map(\.sip))
                #expect(fetch.trades.map(\.size) == expected.map(\.size))
                #expect(fetch.requests == max(1, (expected.count + 6) / 7), "one request per page of 7")
                skipped += expected.count { !$0.sent }
                // A window of whole milliseconds: every ns of its first and last ms is in, nothing outside.
                let middle = expected[expected.count / 4...(3 * expected.count / 4)]
                let window = BackfillWindow(fromMs: middle.first!.sip / 1_000_000, toMs: middle.last!.sip / 1_000_000)
                let inWindow = expected.filter { window.contains(ms: $0.sip / 1_000_000) }
                #expect(try await client.trades(ticker: sym, window: window).trades.map(\.sipTimestampNs) == inWindow.map(\.sip))
            }
            #expect(skipped > 0, "trades no client was sent are served too")
        }
    }

    @Test("the chain snapshot of an underlying, across pages: every contract of it in the stream")
    func snapshotAcrossPages() async throws {
        try await RestAPITests.withRest { port, _, truth in
            let client = try Self.client(port: port)
            defer { Task { await client.shutdown() } }
            let first = try #require(truth.first?.sym)
            let underlying = try #require(OptionSymbol(first)?.underlying)
            let contracts = Set(truth.map(\.sym).filter { OptionSymbol($0)?.underlying == underlying })
            let fetch = try await client.snapshot(underlying: underlying)
            #expect(Set(fetch.entries.map(\.ticker)) == contracts)
            #expect(fetch.entries.count == contracts.count)
            #expect(fetch.requests == max(1, (contracts.count + 2) / 3))
            for entry in fetch.entries {
                #expect(entry.lastTradeSipNs == Self.expected(truth, entry.ticker).map(\.sip).max())
            }
        }
    }

    @Test("500s and truncated bodies are retried until the page comes whole")
    func transientFailures() async throws {
        try await RestAPITests.withRest { port, server, truth in
            let client = try Self.client(port: port, tradesPageLimit: 50_000)
            defer { Task { await client.shutdown() } }
            let sym = try #require(truth.first?.sym)
            server.rest.inject(.error, count: 2, delay: .zero)
            let afterErrors = try await client.trades(ticker: sym, window: Self.everything)
            #expect(afterErrors.trades.map(\.sipTimestampNs) == Self.expected(truth, sym).map(\.sip))
            #expect(afterErrors.requests == 3)
            server.rest.inject(.truncate, count: 2, delay: .zero)
            let afterTruncation = try await client.trades(ticker: sym, window: Self.everything)
            #expect(afterTruncation.trades == afterErrors.trades)
            #expect(afterTruncation.requests == 3)
        }
    }

    @Test("a slow answer times out and is sent again")
    func slowAnswer() async throws {
        try await RestAPITests.withRest { port, server, truth in
            let client = try Self.client(port: port, requestTimeout: .milliseconds(500), tradesPageLimit: 50_000)
            defer { Task { await client.shutdown() } }
            let sym = try #require(truth.first?.sym)
            server.rest.inject(.slow, count: 1, delay: .seconds(3))
            let fetch = try await client.trades(ticker: sym, window: Self.everything)
            #expect(fetch.trades.map(\.sipTimestampNs) == Self.expected(truth, sym).map(\.sip))
            #expect(fetch.requests == 2)
        }
    }

    @Test("429 with Retry-After: every request waits, then all pages arrive; the 429s are counted")
    func rateLimited() async throws {
        try await RestAPITests.withRest({ $0.restRateLimit = 2 }) { port, _, truth in
            let progress = BackfillProgress(enabled: true)
            let client = try Self.client(port: port, retry: .init(maxAttempts: 10, initialDelay: .milliseconds(20)), progress: progress)
            defer { Task { await client.shutdown() } }
            let sym = try #require(truth.first?.sym)
            let expected = Self.expected(truth, sym)
            #expect(expected.count > 28, "more pages than the limit lets through in one second")
            let fetch = try await client.trades(ticker: sym, window: Self.everything)
            #expect(fetch.trades.map(\.sipTimestampNs) == expected.map(\.sip))
            #expect(client.rateLimited > 0)
            #expect(progress.snapshot.rateLimited == client.rateLimited)
            #expect(fetch.requests == (expected.count + 6) / 7 + client.rateLimited)
        }
    }

    @Test("a rejected key fails at once as authentication, and the reason carries no key")
    func rejectedKey() async throws {
        try await RestAPITests.withRest { port, _, truth in
            let client = try Self.client(port: port, key: "wrong-key-4242")
            defer { Task { await client.shutdown() } }
            let sym = try #require(truth.first?.sym)
            do {
                _ = try await client.trades(ticker: sym, window: Self.everything)
                Issue.record("a wrong key was accepted")
            } catch let error as BackfillFailure {
                #expect(error.errorClass == .authentication)
                #expect(error.requests == 1)
                #expect(!error.reason.contains("wrong-key-4242"))
            }
        }
    }

    @Test("a server that keeps failing: the contract gives up after the set attempts, with the reason")
    func givesUp() async throws {
        try await RestAPITests.withRest { port, server, truth in
            let client = try Self.client(port: port, retry: .init(maxAttempts: 3, initialDelay: .milliseconds(10)))
            defer { Task { await client.shutdown() } }
            let sym = try #require(truth.first?.sym)
            server.rest.inject(.error, count: 10, delay: .zero)
            do {
                _ = try await client.trades(ticker: sym, window: Self.everything)
                Issue.record("three 500s in a row were not a failure")
            } catch let error as BackfillFailure {
                #expect(error.requests == 3)
                #expect(error.reason.contains("gave up after 3 attempts"))
                #expect(error.errorClass == .network)
            }
        }
    }

    @Test("nothing listening: connection failures are retried, then the contract fails as a network error")
    func nothingListening() async throws {
        let port = try freePort()
        let client = try Self.client(port: port, retry: .init(maxAttempts: 2, initialDelay: .milliseconds(10)), requestTimeout: .seconds(1))
        defer { Task { await client.shutdown() } }
        do {
            _ = try await client.snapshot(underlying: "SPY")
            Issue.record("a closed port answered")
        } catch {
            #expect(error.requests == 2)
            #expect(error.errorClass == .network)
        }
    }
}

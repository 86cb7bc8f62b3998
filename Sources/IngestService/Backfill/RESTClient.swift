import AsyncHTTPClient
import IngestPipeline
import Logging
import NIOCore
import NIOHTTP1
import OptionsFeed
import Synchronization

/// Why one contract's (or one underlying's) REST work gave up: a reason that
/// holds no URL with a key and no key (docs/design.md §5.8.1), its error
/// class, and the requests it took.
public struct BackfillFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var errorClass: ErrorClass
    /// Requests sent before giving up, retries included.
    public var requests: Int

    public init(reason: String, errorClass: ErrorClass, requests: Int) {
        self.reason = reason
        self.errorClass = errorClass
        self.requests = requests
    }

    public var description: String { reason }
}

/// Every trade of one contract in one window, all pages read.
public struct RESTTradesFetch: Sendable, Equatable {
    public var trades: [RESTTrade]
    /// Requests sent, retries included.
    public var requests: Int
    /// Results left out by the feed's rules (`RESTTradesPage.rejected`).
    public var rejected: Int
}

/// Every contract of one underlying's chain snapshot, all pages read.
public struct RESTSnapshotFetch: Sendable, Equatable {
    public var entries: [RESTSnapshotPage.Entry]
    public var requests: Int
}

/// The REST API client of the gap backfill (docs/design.md §5.8.1), on
/// async-http-client: TLS for `https`, connect and read timeouts, one
/// connection pool reused by every request. Every request is paced
/// (`RequestPacer`, `BACKFILL_REQUESTS_PER_S`), retried as `BackfillRetry`
/// decides (429 and 5xx, timeouts, dropped connections, cut bodies; a 429
/// holds every request until its `Retry-After`), and followed page by page
/// through `next_url` on the same origin only.
///
/// The key travels in the `Authorization: Bearer` header, never in a URL,
/// so no URL this client logs or reports carries it.
public final class RESTClient: Sendable {
    private let endpoint: RESTEndpoint
    private let apiKey: String
    private let retry: BackfillRetry
    private let requestTimeout: Duration
    private let maximumBodyBytes: Int
    private let maximumPages: Int
    private let tradesPageLimit: Int
    private let snapshotPageLimit: Int
    private let logger: Logger
    private let http: HTTPClient
    private let pacer: Mutex<RequestPacer<ContinuousClock.Instant>>
    private let clock = ContinuousClock()
    private let refused = Atomic<Int>(0)
    private let progress: BackfillProgress?

    /// - Parameters:
    ///   - requestTimeout: the whole of one request, body included (30 s); connecting times out after 10 s, or this if shorter.
    ///   - maximumBodyBytes: a larger body fails the contract (64 MiB: a 50 000-trade page is about 10 MiB).
    ///   - maximumPages: pages followed for one contract or underlying before giving up (10 000), so a
    ///     server that hands back its own cursor cannot hold the backfill for ever.
    ///   - tradesPageLimit, snapshotPageLimit: `limit` of each page (the API's largest, 50 000 and 250).
    ///   - progress: where 429 answers are counted, if anywhere.
    public init(
        endpoint: RESTEndpoint, apiKey: String, requestsPerSecond: Double = RequestPacer<ContinuousClock.Instant>.defaultRequestsPerSecond,
        retry: BackfillRetry = .init(), requestTimeout: Duration = .seconds(30), maximumBodyBytes: Int = 64 << 20,
        maximumPages: Int = 10_000, tradesPageLimit: Int = RESTRequest.maximumTradesLimit,
        snapshotPageLimit: Int = RESTRequest.maximumSnapshotLimit, progress: BackfillProgress? = nil, logger: Logger
    ) {
        self.tradesPageLimit = tradesPageLimit
        self.snapshotPageLimit = snapshotPageLimit
        self.endpoint = endpoint
        self.apiKey = apiKey
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumPages = max(1, maximumPages)
        self.progress = progress
        self.logger = logger
        self.pacer = Mutex(RequestPacer(requestsPerSecond: requestsPerSecond))
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(min(requestTimeout, .seconds(10)).milliseconds), read: .milliseconds(requestTimeout.milliseconds)),
            connectionPool: .init(idleTimeout: .seconds(60)))
        configuration.httpVersion = .automatic
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// HTTP 429 answers so far.
    public var rateLimited: Int { refused.load(ordering: .relaxed) }

    /// Every trade of `ticker` in `window`, oldest first as the API sends
    /// them (the merge does not depend on the order).
    public func trades(ticker: String, window: BackfillWindow) async throws(BackfillFailure) -> RESTTradesFetch {
        var fetch = RESTTradesFetch(trades: [], requests: 0, rejected: 0)
        try await pages(
            from: .trades(ticker: ticker, window: window, endpoint: endpoint, limit: tradesPageLimit), requests: &fetch.requests,
            parse: { bytes throws(RESTPageError) in try RESTTradesPage(json: bytes) }
        ) { page in
            fetch.trades += page.results
            fetch.rejected += page.rejected
            return page.nextURL
        }
        return fetch
    }

    /// Every contract of `underlying`'s chain snapshot.
    public func snapshot(underlying: String) async throws(BackfillFailure) -> RESTSnapshotFetch {
        var fetch = RESTSnapshotFetch(entries: [], requests: 0)
        try await pages(
            from: .snapshot(underlying: underlying, endpoint: endpoint, limit: snapshotPageLimit), requests: &fetch.requests,
            parse: { bytes throws(RESTPageError) in try RESTSnapshotPage(json: bytes) }
        ) { page in
            fetch.entries += page.results
            return page.nextURL
        }
        return fetch
    }

    /// Closes the connections; the client is not used after.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// Reads `first` and every page its `next_url`s lead to; `take` keeps a
    /// page's results and returns its `next_url`.
    private func pages<Page>(
        from first: RESTRequest, requests: inout Int, parse: (UnsafeRawBufferPointer) throws(RESTPageError) -> Page,
        take: (Page) -> String?
    ) async throws(BackfillFailure) {
        var request = first
        for _ in 0..<maximumPages {
            let page = try await fetch(request, requests: &requests, parse: parse)
            guard let next = take(page) else { return }
            guard let following = RESTRequest.following(nextURL: next, endpoint: endpoint) else {
                throw BackfillFailure(reason: "next_url leaves the API's origin; not followed", errorClass: .data, requests: requests)
            }
            request = following
        }
        throw BackfillFailure(reason: "more than \(maximumPages) pages; gave up", errorClass: .data, requests: requests)
    }

    /// One request, paced and retried until it gives a 2xx body that parses.
    private func fetch<Page>(
        _ request: RESTRequest, requests: inout Int, parse: (UnsafeRawBufferPointer) throws(RESTPageError) -> Page
    ) async throws(BackfillFailure) -> Page {
        var attempt = 1
        while true {
            let wait = pacer.withLock { $0.reserve(now: clock.now) }
            if wait > .zero { try? await Task.sleep(for: wait) }
            if Task.isCancelled { throw BackfillFailure(reason: "cancelled", errorClass: .network, requests: requests) }
            requests += 1
            let outcome: BackfillRetry.Outcome
            switch await send(request) {
            case .body(let body):
                let parsed = body.withUnsafeReadableBytes { bytes in Result { () throws(RESTPageError) in try parse(bytes) } }
                switch parsed {
                case .success(let page): return page
                case .failure(let error): outcome = .badBody(error)
                }
            case .outcome(let other):
                outcome = other
            case .tooLarge:
                throw BackfillFailure(reason: "response body over \(maximumBodyBytes) bytes", errorClass: .data, requests: requests)
            }
            switch retry.decision(after: outcome, attempt: attempt) {
            case .success:
                // Only a 2xx whose body parsed succeeds, and that returned above.
                throw BackfillFailure(reason: "unexpected success without a page", errorClass: .data, requests: requests)
            case .retry(let after, let blocksAll, let reason, _):
                if blocksAll {
                    refused.add(1, ordering: .relaxed)
                    progress?.update { $0.rateLimited += 1 }
                    let until = clock.now.advanced(by: after)
                    pacer.withLock { $0.blocked(until: until) }
                } else {
                    try? await Task.sleep(for: after)
                }
                logger.debug(
                    "REST request retried",
                    metadata: [
                        "request": "\(request.redacted)", "reason": "\(reason)", "attempt": "\(attempt)", "wait_ms": "\(after.milliseconds)",
                    ])
                attempt += 1
            case .fail(let reason, let errorClass):
                throw BackfillFailure(reason: reason, errorClass: errorClass, requests: requests)
            }
        }
    }

    private enum Sent {
        case body(ByteBuffer)
        case outcome(BackfillRetry.Outcome)
        case tooLarge
    }

    /// One HTTP exchange; never throws: every failure is an outcome for `BackfillRetry`.
    private func send(_ request: RESTRequest) async -> Sent {
        var http = HTTPClientRequest(url: request.url(on: endpoint))
        http.method = .GET
        http.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "User-Agent", value: "ingest-options")
        do {
            let response = try await self.http.execute(http, timeout: .milliseconds(requestTimeout.milliseconds), logger: nil)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(BackfillRetry.retryAfter(header:))
                // Read (and drop) a small error body, so the connection can be reused.
                _ = try? await response.body.collect(upTo: 1 << 16)
                return .outcome(.response(status: status, retryAfter: retryAfter))
            }
            return .body(try await response.body.collect(upTo: maximumBodyBytes))
        } catch is NIOTooManyBytesError {
            return .tooLarge
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout || error == .writeTimeout
        {
            return .outcome(.timeout)
        } catch {
            return .outcome(.connectionFailed)
        }
    }
}

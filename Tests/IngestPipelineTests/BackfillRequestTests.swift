import Testing

@testable import IngestPipeline

/// The REST requests (docs/design.md §5.8.1): paths, queries, next_url, and no key in anything logged.
@Suite("Backfill REST requests")
struct BackfillRequestTests {
    let endpoint = RESTEndpoint("https://api.polygon.io")!

    @Test("a trades request covers the window's ns, oldest first, 50 000 per page")
    func trades() {
        let request = RESTRequest.trades(
            ticker: "O:SPY251219C00650000", window: BackfillWindow(fromMs: 1000, toMs: 2000), endpoint: endpoint)
        #expect(
            request.pathAndQuery
                == "/v3/trades/O:SPY251219C00650000?timestamp.gte=1000000000&timestamp.lt=2001000000&order=asc&sort=timestamp&limit=50000")
        #expect(request.url(on: endpoint) == "https://api.polygon.io" + request.pathAndQuery)
        let open = RESTRequest.trades(
            ticker: "O:SPY251219C00650000", window: BackfillWindow(fromMs: 1000, toMs: nil), endpoint: endpoint, limit: 10)
        #expect(open.query == "timestamp.gte=1000000000&order=asc&sort=timestamp&limit=10")
    }

    @Test("the ticker is percent-encoded as a path segment: : and . stay, / ? # % space do not")
    func encoding() {
        let request = RESTRequest.trades(ticker: "O:BRK.B/x?y#z% w", window: BackfillWindow(fromMs: 0, toMs: 0), endpoint: endpoint)
        #expect(request.path == "/v3/trades/O:BRK.B%2Fx%3Fy%23z%25%20w")
        #expect(RESTRequest.snapshot(underlying: "SPY", endpoint: endpoint).pathAndQuery == "/v3/snapshot/options/SPY?limit=250")
        #expect(RESTRequest.snapshot(underlying: "SPY", endpoint: endpoint, limit: 1000).query == "limit=250")
    }

    @Test("a next_url on the same origin is followed with its cursor, any apiKey dropped")
    func following() {
        let next = RESTRequest.following(
            nextURL: "https://API.polygon.io:443/v3/trades/O:SPY251219C00650000?cursor=YWJj&apiKey=SECRET&limit=50000", endpoint: endpoint)
        #expect(next?.pathAndQuery == "/v3/trades/O:SPY251219C00650000?cursor=YWJj&limit=50000")
        #expect(RESTRequest.following(nextURL: "https://api.polygon.io/v3/x?api_key=S", endpoint: endpoint)?.query == "")
    }

    @Test(
        "a next_url to another host, scheme, port or path prefix, or with user info, is not followed",
        arguments: [
            "https://evil.example/v3/trades/O:X?cursor=1", "http://api.polygon.io/v3/trades?cursor=1",
            "https://api.polygon.io:8443/v3/trades",
            "https://user:pw@api.polygon.io/v3/trades", "https://api.polygon.io.evil.example/v3", "/v3/trades?cursor=1", "",
        ])
    func notFollowed(url: String) {
        #expect(RESTRequest.following(nextURL: url, endpoint: endpoint) == nil)
    }

    @Test("a base path prefixes every request and bounds next_url")
    func basePath() {
        let proxied = RESTEndpoint("http://localhost:8080/polygon/")!
        #expect(proxied.origin == "http://localhost:8080" && proxied.basePath == "/polygon")
        #expect(
            RESTRequest.snapshot(underlying: "SPY", endpoint: proxied).url(on: proxied)
                == "http://localhost:8080/polygon/v3/snapshot/options/SPY?limit=250")
        #expect(RESTRequest.following(nextURL: "http://localhost:8080/v3/trades?cursor=1", endpoint: proxied) == nil)
        #expect(RESTEndpoint("ftp://x") == nil && RESTEndpoint("https://") == nil && RESTEndpoint("https://a:b@h") == nil)
        #expect(RESTEndpoint("https://h:99999") == nil && RESTEndpoint("https://h/?apiKey=1") == nil)
    }

    @Test("the key is only in target(apiKey:), and redacted never shows one")
    func noKeyInLogs() {
        let request = RESTRequest.trades(ticker: "O:SPY251219C00650000", window: BackfillWindow(fromMs: 0, toMs: 0), endpoint: endpoint)
        let target = request.target(apiKey: "k3y&x=1")
        #expect(target.hasSuffix("&limit=50000&apiKey=k3y%26x%3D1"))
        #expect(!request.redacted.contains("k3y") && !request.description.contains("k3y") && !request.pathAndQuery.contains("k3y"))
        let handMade = RESTRequest(path: "/v3/x", query: "cursor=1&apiKey=SECRET&ApiKey=S2")
        #expect(handMade.redacted == "/v3/x?cursor=1&apiKey=***&ApiKey=***")
    }
}

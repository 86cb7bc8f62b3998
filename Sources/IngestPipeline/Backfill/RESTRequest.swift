/// One REST request as path and query (docs/design.md §5.8.1), never with the
/// API key in it: the client sends the key as `Authorization: Bearer KEY`
/// (or adds it with `target(apiKey:)` for a server that only takes
/// `apiKey=`), so `pathAndQuery` and `redacted` can be logged as they are.
public struct RESTRequest: Sendable, Hashable, CustomStringConvertible {
    /// The path, percent-encoded, e.g. `/v3/trades/O:SPY251219C00650000`.
    public let path: String
    /// The query without `?`, percent-encoded; never an `apiKey`.
    public let query: String

    /// The REST API's largest trades page (docs/design.md §5.8.1: `limit` ≤ 50 000).
    public static let maximumTradesLimit = 50_000
    /// The chain snapshot's largest page (`limit` ≤ 250).
    public static let maximumSnapshotLimit = 250

    init(path: String, query: String) {
        self.path = path
        self.query = query
    }

    /// The trades of one contract in `window`, oldest first:
    /// `/v3/trades/{ticker}?timestamp.gte=…&timestamp.lt=…&order=asc&sort=timestamp&limit=50000`
    /// (no `timestamp.lt` for a window without end).
    public static func trades(
        ticker: String, window: BackfillWindow, endpoint: RESTEndpoint, limit: Int = RESTRequest.maximumTradesLimit
    ) -> RESTRequest {
        var items = [("timestamp.gte", String(window.timestampGteNs))]
        if let lt = window.timestampLtNs { items.append(("timestamp.lt", String(lt))) }
        items += [("order", "asc"), ("sort", "timestamp"), ("limit", String(min(max(limit, 1), maximumTradesLimit)))]
        return RESTRequest(path: endpoint.basePath + "/v3/trades/" + encode(ticker, keeping: pathCharacters), query: encodeQuery(items))
    }

    /// The chain snapshot of one underlying: `/v3/snapshot/options/{underlying}?limit=250`.
    public static func snapshot(
        underlying: String, endpoint: RESTEndpoint, limit: Int = RESTRequest.maximumSnapshotLimit
    ) -> RESTRequest {
        RESTRequest(
            path: endpoint.basePath + "/v3/snapshot/options/" + encode(underlying, keeping: pathCharacters),
            query: encodeQuery([("limit", String(min(max(limit, 1), maximumSnapshotLimit)))]))
    }

    /// The request for a page's `next_url`: its path and query (the cursor) as
    /// given, less any `apiKey`; `nil` when it points anywhere but `endpoint`'s origin and base path.
    public static func following(nextURL: String, endpoint: RESTEndpoint) -> RESTRequest? {
        guard let rest = endpoint.pathAndQuery(ofSameOrigin: nextURL) else { return nil }
        let withoutFragment = rest.prefix(while: { $0 != "#" })
        let path = withoutFragment.prefix(while: { $0 != "?" })
        let query = withoutFragment.dropFirst(path.count + 1)
        let kept = query.split(separator: "&").filter { !isKeyItem($0) }
        return RESTRequest(path: String(path), query: kept.joined(separator: "&"))
    }

    /// Path and query, e.g. `/v3/trades/O:SPY…?timestamp.gte=…`; carries no key.
    public var pathAndQuery: String { query.isEmpty ? path : path + "?" + query }

    /// The full URL on `endpoint`, without a key.
    public func url(on endpoint: RESTEndpoint) -> String { endpoint.origin + pathAndQuery }

    /// Path and query with `apiKey=KEY` appended, for query authentication. Never log it: log `redacted`.
    public func target(apiKey: String) -> String {
        pathAndQuery + (query.isEmpty ? "?" : "&") + "apiKey=" + Self.encode(apiKey, keeping: Self.unreserved)
    }

    /// For logs: `pathAndQuery` with the value of any key-like parameter
    /// replaced by `***`, so even a request built by hand logs no secret.
    public var redacted: String {
        guard !query.isEmpty else { return path }
        let items = query.split(separator: "&").map { item in
            isKeyItem(item) ? item.prefix(while: { $0 != "=" }) + "=***" : String(item)
        }
        return path + "?" + items.joined(separator: "&")
    }

    public var description: String { redacted }

    /// `apiKey`, `apikey`, `api_key` …: any parameter whose name, letters only and lowercased, is `apikey`.
    private static func isKeyItem(_ item: Substring) -> Bool {
        item.prefix(while: { $0 != "=" }).filter(\.isLetter).lowercased() == "apikey"
    }

    private func isKeyItem(_ item: Substring) -> Bool { Self.isKeyItem(item) }

    /// RFC 3986 unreserved characters: never encoded.
    private static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
    /// What a path segment may hold as it is (RFC 3986 `pchar` less the
    /// sub-delims): unreserved, `:` and `@`; `/`, `?`, `#`, `%` and the rest are encoded.
    private static let pathCharacters: Set<UInt8> = unreserved.union([UInt8(ascii: ":"), UInt8(ascii: "@")])

    private static func encodeQuery(_ items: [(String, String)]) -> String {
        items.map { encode($0.0, keeping: unreserved) + "=" + encode($0.1, keeping: unreserved) }.joined(separator: "&")
    }

    private static func encode(_ text: String, keeping allowed: Set<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if allowed.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

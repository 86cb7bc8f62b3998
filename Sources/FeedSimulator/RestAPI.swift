import Foundation
import HTTPTypes
import Hummingbird
import OptionsFeed
import Synchronization

/// Polygon's REST API over the simulator's archive, on the WebSocket's port
/// (docs/feed-sim.md, "REST API"): `GET /v3/trades/{optionsTicker}` and
/// `GET /v3/snapshot/options/{underlying}`, with the key check, the rate
/// limit and the staged failures of `RestFaults`.
public final class RestAPI: Sendable {
    let simulator: FeedSimulator
    private let limiter: Mutex<RequestRateLimiter?>
    private let faults: Mutex<RestFaults>
    private let nextRequest = Atomic<Int>(0)

    public init(simulator: FeedSimulator) {
        self.simulator = simulator
        let configuration = simulator.configuration
        limiter = Mutex(configuration.restRateLimit.map { RequestRateLimiter(perSecond: $0) })
        faults = Mutex(RestFaults(plan: configuration.restFaults, seed: configuration.seed))
    }

    /// The next `count` answers fail as `kind` (`POST /control/rest/KIND`).
    public func inject(_ kind: RestFaults.Kind, count: Int, delay: Duration) {
        faults.withLock { $0.inject(kind, count: count, delay: delay) }
    }

    func register(on router: Router<BasicRequestContext>, control: Bool) {
        router.get("/v3/trades/{ticker}") { [self] request, context in
            try await answer(request) { (parameters, base) throws(RestError) -> String in
                let ticker = Self.decodedParameter(context.parameters.get("ticker"))
                return try tradesBody(ticker: ticker, parameters: parameters, base: base)
            }
        }
        router.get("/v3/snapshot/options/{underlying}") { [self] request, context in
            try await answer(request) { (parameters, base) throws(RestError) -> String in
                let underlying = Self.decodedParameter(context.parameters.get("underlying"))
                return try snapshotBody(underlying: underlying, parameters: parameters, base: base)
            }
        }
        guard control else { return }
        router.post("/control/rest/{kind}") { [self] request, context -> String in
            let parameters = Self.parameters(of: request)
            guard let name = context.parameters.get("kind"), let kind = RestFaults.Kind(rawValue: name) else {
                throw HTTPError(.badRequest, message: "kind must be error, truncate or slow\n")
            }
            let count = parameters["count"].flatMap(Int.init) ?? 1
            let seconds = parameters["seconds"].flatMap(Double.init) ?? 1
            guard count >= 1, seconds >= 0, seconds <= 3600 else {
                throw HTTPError(.badRequest, message: "count must be ≥ 1 and seconds within 0…3600\n")
            }
            inject(kind, count: count, delay: .seconds(seconds))
            return "{\"rest_fault\":\"\(name)\",\"count\":\(count)}\n"
        }
    }

    /// Checks the key and the rate, applies the staged failures, and answers
    /// with the JSON `body` builds from the query parameters and the base URL.
    private func answer(
        _ request: Request, body: ([String: String], String) throws(RestError) -> String
    ) async throws -> Response {
        let requestID = String(format: "%032x", nextRequest.wrappingAdd(1, ordering: .relaxed).newValue)
        let parameters = Self.parameters(of: request)
        guard let key = Self.apiKey(of: request, parameters: parameters) else {
            simulator.countRestRequest()
            return Self.error(401, "API Key was not provided", requestID: requestID)
        }
        guard isAccepted(key) else {
            simulator.countRestRequest()
            return Self.error(401, "Unknown API Key", requestID: requestID)
        }
        if !limiter.withLock({ $0?.admit(at: .now) ?? true }) {
            simulator.countRestRequest(throttled: true)
            var response = Self.error(
                429, "You've exceeded the maximum requests per second, please wait or upgrade your subscription",
                requestID: requestID)
            response.headers[Self.retryAfter] = "1"
            return response
        }
        let (fate, delay) = faults.withLock { $0.next() }
        if let delay, delay > .zero { try await Task.sleep(for: delay) }
        simulator.countRestRequest(fault: fate != .normal)
        if fate == .error { return Self.error(500, "Internal server error (feed-sim fault)", requestID: requestID) }
        let base = "http://\(request.head.authority ?? "127.0.0.1")"
        var text: String
        do {
            text = try body(parameters, base)
        } catch {
            return Self.error(error.status, error.message, requestID: requestID)
        }
        text = #"{"status":"OK","request_id":"\#(requestID)","# + text + "}"
        if fate == .truncated { text = String(decoding: text.utf8.prefix(text.utf8.count / 2), as: UTF8.self) }
        return Self.json(200, text)
    }

    /// The configured `--api-key`, else any key but the reject key.
    private func isAccepted(_ key: String) -> Bool {
        if let expected = simulator.configuration.apiKey { return key == expected }
        return key != simulator.configuration.rejectKey
    }

    private func tradesBody(ticker: String, parameters: [String: String], base: String) throws(RestError) -> String {
        let query = try TradesQuery(parameters: parameters)
        let (page, more) = simulator.trades(of: ticker, query)
        var text = #""results":["#
        for (position, trade) in page.enumerated() {
            if position > 0 { text += "," }
            text += Self.json(trade, participant: true)
        }
        text += "]"
        if more, let last = page.last {
            text += #","next_url":"\#(base)/v3/trades/\#(ticker)?cursor=\#(query.cursor(after: last.key))""#
        }
        return text
    }

    private func snapshotBody(underlying: String, parameters: [String: String], base: String) throws(RestError) -> String {
        let query = try SnapshotQuery(parameters: parameters)
        let (page, more) = simulator.snapshot(of: underlying, query)
        var text = #""results":["#
        for (position, contract) in page.enumerated() {
            if position > 0 { text += "," }
            text += #"{"details":\#(Self.details(of: contract.ticker)),"day":{"volume":\#(contract.volume)},"#
            text += #""last_trade":\#(Self.json(contract.lastTrade, participant: false)),"#
            text += #""underlying_asset":{"ticker":\#(JSONString.quoted(underlying))}}"#
        }
        text += "]"
        if more, let last = page.last {
            text += #","next_url":"\#(base)/v3/snapshot/options/\#(underlying)?cursor=\#(query.cursor(after: last.ticker))""#
        }
        return text
    }

    /// One trade as `/v3/trades` writes it; `conditions` left out when empty.
    static func json(_ trade: ArchivedTrade, participant: Bool) -> String {
        var text = "{"
        let conditions = trade.conditions
        if !conditions.isEmpty { text += #""conditions":[\#(conditions.map(String.init).joined(separator: ","))],"# }
        if participant { text += #""correction":0,"# }
        text += #""exchange":\#(trade.exchange),"#
        if participant { text += #""participant_timestamp":\#(trade.participantTimestamp),"# }
        text += #""price":\#(SimTrade.priceText(cents: trade.priceCents)),"#
        return text + #""sip_timestamp":\#(trade.sipTimestamp),"size":\#(trade.size)}"#
    }

    /// `details` of `O:SPY251219C00650000`: ticker, type, expiry, strike.
    static func details(of ticker: String) -> String {
        let tail = Array(ticker.utf8.suffix(15))
        guard tail.count == 15, let strike = Int(String(decoding: tail[7...], as: UTF8.self)) else {
            return #"{"ticker":\#(JSONString.quoted(ticker))}"#
        }
        let date = String(decoding: tail[0..<6], as: UTF8.self)
        let expiry = "20\(date.prefix(2))-\(date.dropFirst(2).prefix(2))-\(date.suffix(2))"
        let type = tail[6] == UInt8(ascii: "C") ? "call" : "put"
        let strikeText = strike % 1000 == 0 ? String(strike / 1000) : String(Double(strike) / 1000)
        return #"{"contract_type":"\#(type)","expiration_date":"\#(expiry)","strike_price":\#(strikeText),"ticker":\#(JSONString.quoted(ticker))}"#
    }

    static let retryAfter = HTTPField.Name("Retry-After")!

    static func error(_ status: Int, _ message: String, requestID: String) -> Response {
        json(status, #"{"status":"ERROR","request_id":"\#(requestID)","error":\#(JSONString.quoted(message))}"#)
    }

    static func json(_ status: Int, _ text: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The key from `apiKey=` or `Authorization: Bearer KEY`.
    static func apiKey(of request: Request, parameters: [String: String]) -> String? {
        if let key = parameters["apiKey"], !key.isEmpty { return key }
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") else { return nil }
        let key = authorization.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
        return key.isEmpty ? nil : key
    }

    static func parameters(of request: Request) -> [String: String] {
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { parameters[String(name)] = String(value) }
        return parameters
    }

    /// A path parameter as the client meant it (`O%3ASPY…` → `O:SPY…`).
    static func decodedParameter(_ text: String?) -> String {
        guard let text else { return "" }
        return text.removingPercentEncoding ?? text
    }
}

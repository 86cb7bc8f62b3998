import Foundation
import Hummingbird
import HummingbirdTesting
import IngestPipeline
import IngestService
import Logging
import Testing

@testable import IngestStatus

/// The status server's routes in-process (HummingbirdTesting's router
/// framework, no socket): who gets a 401, when `/health` answers 503, and the
/// content type of each route. The end-to-end `StatusServerTests` check the
/// same server inside a running ingester.
@Suite("Status server routes")
struct StatusServerRouterTests {
    static let token = "status-token-0123456789"

    /// A status server on real (in-memory) parts: a feed that never connected, a closed breaker.
    /// `role` standby: healthy (no feed is what a standby is for); `feedDownUnhealthyAfter` zero: unhealthy at once.
    func server(token: String? = Self.token, role: InstanceRole.Role = .standby, feedDownUnhealthyAfter: Duration = .seconds(120)) -> StatusServer {
        let monitor = HealthMonitor(
            configuration: .init(
                version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"],
                rules: HealthRules(thresholds: .init(feedDownUnhealthyAfter: feedDownUnhealthyAfter)), marketHours: .always),
            stats: IngestStats(), buffer: RecordBuffer(capacity: 100, flushThreshold: 10), spool: nil,
            feed: FeedMonitor(configuration: .init()), database: DatabaseMonitor(flavor: "postgres"), errors: ErrorLog(secrets: []),
            healthEvents: HealthEventQueue(), role: InstanceRole(role))
        return StatusServer(
            configuration: .init(host: "127.0.0.1", port: 0, token: token), monitor: monitor, metrics: IngestMetrics(),
            logger: Logger(label: "status-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test(
        "with STATUS_TOKEN, the routes but /health answer 401 (and ask for a bearer token) without the header or with a wrong one",
        arguments: ["/metrics", "/", "/events"], [nil, "Bearer wrong-token-0123456789", "Bearer ", "status-token-0123456789"])
    func unauthorized(path: String, authorization: String?) async throws {
        let headers: HTTPFields = authorization.map { [.authorization: $0] } ?? [:]
        try await server().application().test(.router) { client in
            try await client.execute(uri: path, method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(!String(buffer: response.body).contains(Self.token))
            }
        }
    }

    @Test("a token in the query opens the page but not /metrics (scrapers send the header); /health needs no token")
    func queryToken() async throws {
        try await server().application().test(.router) { client in
            try await client.execute(uri: "/?token=\(Self.token)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/?token=wrong", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics?token=\(Self.token)", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("with the token: /health is JSON, /metrics Prometheus text 0.0.4, / the HTML dashboard")
    func contentTypes() async throws {
        let authorization: HTTPFields = [.authorization: "Bearer \(Self.token)"]
        try await server().application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get, headers: authorization) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "no-store")
                let report = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(report?["status"] as? String == "healthy")
            }
            try await client.execute(uri: "/metrics", method: .get, headers: authorization) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                #expect(String(buffer: response.body).contains("ingest_db_breaker_state{state=\"closed\"} 1"))
            }
            try await client.execute(uri: "/", method: .get, headers: authorization) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("new EventSource(\"events\""))
            }
        }
    }

    @Test("/health answers 503 with the report while unhealthy, 200 while only degraded")
    func healthStatus() async throws {
        // A leader whose feed is down longer than the (zero) threshold: unhealthy.
        try await server(token: nil, role: .leader, feedDownUnhealthyAfter: .zero).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.contentType] == "application/json")
                let report = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(report?["status"] as? String == "unhealthy")
                #expect((report?["reasons"] as? [String])?.contains { $0.hasPrefix("feed_down_over_") } == true)
            }
        }
        // The same leader under the default two minutes: degraded (reconnecting), still 200.
        try await server(token: nil, role: .leader).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                let report = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(report?["status"] as? String == "degraded")
            }
        }
    }

    @Test("without STATUS_TOKEN every route is open")
    func noToken() async throws {
        try await server(token: nil).application().test(.router) { client in
            for path in ["/metrics", "/"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .ok, "\(path)") }
            }
        }
    }
}

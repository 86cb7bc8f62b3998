#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import IngestService
import Logging
import ServiceLifecycle

/// The optional HTTP status server (docs/design.md §5.4; off unless `STATUS_ADDR` is
/// set): `/health` (the report; 200 healthy or degraded, 503 unhealthy),
/// `/metrics` (Prometheus text), `/events` (Server-Sent Events: `state` on
/// every feed/breaker change and alert, `report` every
/// `STATUS_EVENTS_INTERVAL_MS`, heartbeat comments) and `/` (the dashboard).
/// With `STATUS_TOKEN` every route but `/health` needs `Authorization: Bearer …`;
/// the page and `/events` also take `?token=` (browsers cannot send the header there).
public struct StatusServer: Service, CustomStringConvertible {
    public struct Configuration: Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        /// `nil`: no token; every route is open (logged as a warning off loopback).
        public var token: String?
        /// docs/design.md §5.4: a report event every few seconds (2 s).
        public var eventsInterval: Duration
        /// Comment lines that keep idle connections (and proxies) open.
        public var heartbeatInterval: Duration = .seconds(15)

        public init(host: String, port: Int, token: String?, eventsInterval: Duration = .seconds(2)) {
            self.host = host
            self.port = port
            self.token = token
            self.eventsInterval = eventsInterval
        }

        /// Parses `STATUS_ADDR` (`host:port`, `:port`, or `[v6]:port`); `nil` when malformed.
        public static func address(_ text: String) -> (host: String, port: Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
                return nil
            }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return (host.isEmpty ? "127.0.0.1" : host, port)
        }

        public var description: String { "\(host):\(port) token: \(token == nil ? "none" : "***")" }

        public var isLoopback: Bool { ["127.0.0.1", "localhost", "::1"].contains(host) || host.hasPrefix("127.") }
    }

    let configuration: Configuration
    let monitor: HealthMonitor
    let metrics: IngestMetrics
    let logger: Logger

    /// What logs and service errors show: never the token.
    public var description: String { "StatusServer(\(configuration.host):\(configuration.port))" }

    public init(configuration: Configuration, monitor: HealthMonitor, metrics: IngestMetrics, logger: Logger) {
        self.configuration = configuration
        self.monitor = monitor
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        if !configuration.isLoopback, configuration.token == nil {
            logger.warning(
                "the status server listens beyond loopback without STATUS_TOKEN: anyone who can reach it can read it",
                metadata: ["host": "\(configuration.host)"])
        }
        let hub = monitor.events
        let interval = configuration.eventsInterval
        let heartbeat = configuration.heartbeatInterval
        let monitor = self.monitor
        await withThrowingTaskGroup(of: Void.self) { group in
            // One ticker for all clients: a report event every interval, a heartbeat comment now and then;
            // with no client it sleeps until one comes.
            group.addTask {
                var lastHeartbeat = ContinuousClock.now
                while !Task.isCancelled {
                    await hub.waitForClient()
                    try await Task.sleep(for: interval)
                    if hub.clientCount == 0 { continue }
                    if let json = try? JSONEncoder.health.encode(monitor.report()) {
                        hub.publish(EventHub.format(event: "report", data: String(decoding: json, as: UTF8.self)))
                    }
                    if lastHeartbeat.duration(to: .now) >= heartbeat {
                        hub.publish(": heartbeat\n\n")
                        lastHeartbeat = .now
                    }
                }
            }
            // `run()`, not `runService()`: the latter traps SIGTERM itself and would stop before its turn.
            group.addTask { try await application().run() }
            do {
                try await group.next()
            } catch {
                // Ingestion goes on without the status server; say so loudly.
                logger.critical(
                    "status server failed; ingestion continues without it",
                    metadata: ["addr": "\(configuration.host):\(configuration.port)", "error": "\(error)"])
            }
            group.cancelAll()
        }
    }

    /// Whether `presented` is `expected`, in a time that depends only on the
    /// length of `expected`, not on where the two differ: a reply that came
    /// faster for a wrong first byte would let a client guess the token byte by byte.
    static func tokenMatches(_ presented: some StringProtocol, _ expected: String) -> Bool {
        let given = Array(presented.utf8)
        let wanted = Array(expected.utf8)
        var difference: UInt8 = given.count == wanted.count ? 0 : 1
        for index in wanted.indices {
            difference |= wanted[index] ^ (index < given.count ? given[index] : ~wanted[index])
        }
        return difference == 0
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        let monitor = self.monitor
        let metrics = self.metrics
        let token = configuration.token
        let logger = self.logger
        /// The bearer header; with `browser`, also `?token=`: a browser opening the page has no way to
        /// send a header, nor has its EventSource (the page passes its own token on). Scrapers and
        /// load balancers (`/metrics`) send the header: a token in a URL ends up in access logs and histories.
        @Sendable func authorized(_ request: Request, browser: Bool = false) -> Bool {
            guard let token else { return true }
            if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                Self.tokenMatches(header.dropFirst("Bearer ".count), token)
            {
                return true
            }
            guard browser, let query = request.uri.queryParameters["token"] else { return false }
            return Self.tokenMatches(query, token)
        }
        let unauthorized = Response(
            status: .unauthorized, headers: [.contentType: "text/plain", .wwwAuthenticate: "Bearer"],
            body: .init(byteBuffer: ByteBuffer(string: "401: Authorization: Bearer <STATUS_TOKEN> required\n")))

        router.get("/health") { _, _ -> Response in
            let report = monitor.report()
            let json = (try? JSONEncoder.health.encode(report)) ?? Data("{}".utf8)
            return Response(
                status: report.status == .unhealthy ? .serviceUnavailable : .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.get("/metrics") { request, _ -> Response in
            guard authorized(request) else { return unauthorized }
            let text = metrics.exposition(
                for: monitor.report(), sseClients: monitor.events.clientCount, sseDropped: monitor.events.droppedClients)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/events") { request, _ -> Response in
            guard authorized(request, browser: true) else { return unauthorized }
            let stream = monitor.events.subscribe()
            let first = (try? JSONEncoder.health.encode(monitor.report())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            let body = ResponseBody { writer in
                // The browser reconnects by itself after 2 s if the connection drops (server restart).
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n" + EventHub.format(event: "report", data: first)))
                for await event in stream {
                    try await writer.write(ByteBuffer(string: event))
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", .init("X-Accel-Buffering")!: "no"],
                body: body)
        }
        router.get("/") { request, _ -> Response in
            guard authorized(request, browser: true) else { return unauthorized }
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ingest-options"),
            onServerRunning: { channel in
                logger.info(
                    "status server listening",
                    metadata: ["host": "\(configuration.host)", "port": "\(channel.localAddress?.port ?? 0)",
                               "auth": "\(token == nil ? "none" : "bearer")"])
            },
            logger: Logger(label: "status-http", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}

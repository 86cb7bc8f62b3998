import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// A Polygon/Massive-compatible options WebSocket endpoint on any path:
/// `connected` status on connect, `auth` → `auth_success` (or `auth_failed`
/// for the reject key), `subscribe` → `success`, then the simulator's trades.
public struct SimServer: Sendable {
    public let simulator: FeedSimulator
    public let host: String
    public let port: Int
    let logger: Logger
    /// Set when the process is stopping: connections send a close frame and end.
    let stopping = Stopping()

    final class Stopping: Sendable {
        let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    public init(simulator: FeedSimulator, host: String, port: Int, logger: Logger) {
        self.simulator = simulator
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Asks every connection to close.
    public func stop() {
        stopping.flag.store(true, ordering: .releasing)
    }

    /// Builds the Hummingbird application; `onListening` gets the bound port.
    public func application(onListening: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.get("/") { _, _ in "feed-sim: connect with a WebSocket client\n" }
        let server = self
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 20))) { _, _, _ in
                .upgrade([:]) { inbound, outbound, _ in
                    await server.serve(inbound: inbound, outbound: outbound)
                }
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "feed-sim"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    static func status(_ status: String, _ message: String) -> String {
        #"[{"ev":"status","status":"\#(status)","message":"\#(message)"}]"#
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let (subscribed, subscribe) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        do {
            try await outbound.write(.text(Self.status("connected", "Connected Successfully")))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var authenticated = false
                    var iterator = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                    while let message = try await iterator.next() {
                        guard case .text(let text) = message else { continue }
                        let request = Self.parse(text)
                        switch request.action {
                        case "auth":
                            if let reject = simulator.configuration.rejectKey, request.params == reject {
                                try await outbound.write(.text(Self.status("auth_failed", "authentication failed")))
                                try await outbound.close(.policyViolation, reason: "authentication failed")
                                return
                            }
                            authenticated = true
                            try await outbound.write(.text(Self.status("auth_success", "authenticated")))
                        case "subscribe" where authenticated:
                            for channel in request.params.split(separator: ",") {
                                try await outbound.write(.text(Self.status("success", "subscribed to: \(channel)")))
                            }
                            subscribe.yield()
                        case "unsubscribe":
                            try await outbound.write(.text(Self.status("success", "unsubscribed to: \(request.params)")))
                        default:
                            try await outbound.write(.text(Self.status("error", "not authorized or unknown action")))
                        }
                    }
                }
                group.addTask {
                    for await _ in subscribed {
                        try await stream(to: outbound)
                        return
                    }
                }
                // The first task to end (client gone, or stream finished) ends the connection.
                try await group.next()
                group.cancelAll()
            }
        } catch {
            logger.debug("client connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Writes the simulator's trades until the count is reached or the process stops.
    private func stream(to outbound: WebSocketOutboundWriter) async throws {
        while !stopping.isSet {
            guard let (trades, sendAt) = simulator.reserveBatch() else {
                // Count reached: stay connected, quiet, until the process stops.
                while !stopping.isSet { try await Task.sleep(for: .milliseconds(50)) }
                break
            }
            if let sendAt, sendAt > .now {
                do {
                    try await Task.sleep(until: sendAt)
                } catch {
                    simulator.returnUnsent(trades)
                    throw error
                }
            }
            do {
                try await outbound.write(.text(TradeGenerator.frame(trades)))
            } catch {
                simulator.returnUnsent(trades)
                throw error
            }
            simulator.recordSent(trades)
        }
        try await outbound.close(.goingAway, reason: "feed-sim stopping")
    }

    /// `{"action":"auth","params":"KEY"}` → ("auth", "KEY"); control messages only, not the hot path.
    static func parse(_ text: String) -> (action: String, params: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return ("", "") }
        return (object["action"] as? String ?? "", object["params"] as? String ?? "")
    }
}

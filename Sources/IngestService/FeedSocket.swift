#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Opens the feed's WebSocket: TCP (TLS for `wss://`), the HTTP upgrade with
/// NIO's client upgrader (which checks `Sec-WebSocket-Accept`), then NIO's
/// frame encoder for what this side sends and the session's `FeedFrameHandler`
/// for what it reads: the handler cuts the frames out of the bytes itself, so
/// NIO's frame decoder, which the upgrader adds, is taken out again
/// (docs/design.md §5.1, §7).
enum FeedSocket {
    /// Why a connection could not be opened.
    enum Failure: Error, CustomStringConvertible {
        case invalidURL
        case upgradeRefused

        var description: String {
            switch self {
            case .invalidURL: "the feed URL has no host"
            case .upgradeRefused: "the server did not upgrade the connection to a WebSocket"
            }
        }
    }

    /// Where to connect and what to ask for.
    struct Target: Sendable {
        var host: String
        var port: Int
        var tls: Bool
        /// Path and query of the upgrade request.
        var requestURI: String
        /// The `Host` header: the host, and the port when it is not the scheme's own.
        var hostHeader: String

        init(url: String) throws(Failure) {
            guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
                throw .invalidURL
            }
            tls = components.scheme?.lowercased() == "wss"
            let defaultPort = tls ? 443 : 80
            self.host = host
            port = components.port ?? defaultPort
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            requestURI = path + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
            hostHeader = port == defaultPort ? host : "\(host):\(port)"
        }
    }

    /// Connects on `loop` and returns the channel once the upgrade is done and
    /// the handler `makeHandler` built (on the loop) is in the pipeline.
    static func connect(
        to target: Target, on loop: any EventLoop,
        makeHandler: @escaping @Sendable () -> FeedFrameHandler
    ) async throws -> any Channel {
        let sslContext = target.tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let (channel, upgraded) = try await ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            // The session watchdog bounds the connect (WS_CONNECT_TIMEOUT_MS); this is only a backstop.
            .connectTimeout(.minutes(1))
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        // No SNI for an address: NIOSSL refuses one.
                        let isAddress = (try? SocketAddress(ipAddress: target.host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: isAddress ? nil : target.host))
                    }
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: upgradeConfiguration(target, makeHandler: makeHandler))
                    return (channel, upgraded)
                }
            }
        guard try await upgraded.get() else {
            channel.close(promise: nil)
            throw Failure.upgradeRefused
        }
        return channel
    }

    private static func upgradeConfiguration(
        _ target: Target, makeHandler: @escaping @Sendable () -> FeedFrameHandler
    ) -> NIOUpgradableHTTPClientPipelineConfiguration<Bool> {
        // The handler's own parser replaces NIO's frame decoder and its error handler: it goes
        // before the decoder, so no byte ever reaches it (the bytes that came with the 101
        // response included), and the decoder is taken out.
        let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(enableAutomaticErrorHandling: false) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let operations = channel.pipeline.syncOperations
                let frameDecoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                try operations.addHandler(makeHandler(), position: .before(frameDecoder))
                operations.removeHandler(frameDecoder, promise: nil)
                return true
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.requestURI, headers: headers)
        var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                upgradeRequestHead: request, upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) }))
        // The frames the server sends right after its 101 response (`connected`) go on to the WebSocket decoder.
        configuration.leftOverBytesStrategy = .forwardBytes
        return configuration
    }
}

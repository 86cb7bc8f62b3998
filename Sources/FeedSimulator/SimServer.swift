import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A Polygon/Massive-compatible options WebSocket endpoint on any path:
/// `connected` status on connect, `auth` → `auth_success` (or `auth_failed`
/// for the reject key), `subscribe` → `success`, then the simulator's trades
/// and the other events subscribed to (bars, quotes, fair values; `Q.*` or
/// too many quote contracts → `error` and a close frame), with the failures of
/// the simulator's `FaultPlan` staged on purpose; and on the same port
/// Polygon's REST API over the stream's archive (`RestAPI`).
public struct SimServer: Sendable {
    public let simulator: FeedSimulator
    public let host: String
    public let port: Int
    let logger: Logger
    /// Set when the process is stopping: connections send a close frame and end.
    let stopping = Stopping()
    /// Live connections per API key, for `--max-connections`.
    let live: LiveConnections
    /// Faults injected at run time (`--control`).
    public let faultSwitch = FaultSwitch()
    /// The REST endpoints, and their faults injected at run time.
    public let rest: RestAPI

    /// How often a waiting stream task looks at the stop and eviction flags:
    /// the most a shutdown or an eviction waits for a sleeping stream.
    static let pollInterval: Duration = .milliseconds(50)
    /// How long a reset waits for the kernel to deliver what was written, so
    /// that a reading client has every trade the ledger lists.
    static let resetDrainTimeout: Duration = .seconds(1)
    /// Close code sent with `max_connections` (policy violation): the feed
    /// refuses the older session because of an account rule.
    static let evictionCloseCode: WebSocketErrorCode = .policyViolation
    /// Close code after a refused subscription (`Q.*`, more than 1 000 quote
    /// contracts): an account rule too (docs/feed-sim.md, "Other event types").
    static let refusalCloseCode: WebSocketErrorCode = .policyViolation

    final class Stopping: Sendable {
        let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    /// The connection registry behind a lock, plus connection ids.
    final class LiveConnections: Sendable {
        let registry: Mutex<ConnectionRegistry<ClientConnection>>
        let nextID = Atomic<Int>(0)

        init(limit: Int?) {
            registry = Mutex(ConnectionRegistry(limit: limit))
        }

        func makeID() -> Int {
            nextID.wrappingAdd(1, ordering: .relaxed).newValue
        }
    }

    /// How a connection's streaming phase ended.
    enum StreamEnd: Sendable, Equatable {
        case fault(StreamSession.Ending)
        case evicted
        case stopping
    }

    public init(simulator: FeedSimulator, host: String, port: Int, logger: Logger) {
        self.simulator = simulator
        self.host = host
        self.port = port
        self.logger = logger
        self.live = LiveConnections(limit: simulator.configuration.faults.maxConnections)
        self.rest = RestAPI(simulator: simulator)
    }

    /// Asks every connection to close.
    public func stop() {
        stopping.flag.store(true, ordering: .releasing)
    }

    /// Runs the server until cancelled. With `--refuse-for` nothing listens
    /// during that time, so clients get "connection refused"; `onListening`
    /// gets the port once it is actually bound.
    public func run(onListening: @escaping @Sendable (Int) -> Void) async throws {
        if let refuseFor = simulator.configuration.faults.refuseFor {
            try await Task.sleep(for: refuseFor)
        }
        try await application(onListening: onListening).run()
    }

    /// Builds the Hummingbird application; `onListening` gets the bound port.
    public func application(onListening: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.get("/") { _, _ in "feed-sim: connect with a WebSocket client\n" }
        let server = self
        rest.register(on: router, control: simulator.configuration.control)
        if simulator.configuration.control {
            let faultSwitch = faultSwitch
            router.post("/control/fault/{kind}") { _, context -> String in
                guard let name = context.parameters.get("kind"), let kind = FaultSwitch.kind(named: name) else {
                    throw HTTPError(.badRequest, message: "kind must be drop, reset, stall or silence\n")
                }
                return "{\"fault\":\"\(name)\",\"generation\":\(faultSwitch.trigger(kind))}\n"
            }
        }
        // maxFrameSize bounds what clients send; frames we send have no limit
        // (the oversized fault writes ~1.5 MiB frames straight to the channel).
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 20))) { _, channel, _ in
                .upgrade([:]) { inbound, outbound, _ in
                    await server.serve(inbound: inbound, outbound: outbound, channel: channel)
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

    /// The real feed's words when a newer connection with the same key displaces this one.
    static let maxConnectionsStatus = status(
        "max_connections",
        "Maximum number of websocket connections exceeded. You have reached the connection limit for your account.")

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        let connection = ClientConnection(id: live.makeID(), channel: channel)
        simulator.connectionOpened()
        defer {
            live.registry.withLock { $0.ended(connection.id) }
            simulator.connectionClosed(connection.id)
        }
        do {
            try await connection.write(Self.status("connected", "Connected Successfully"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await readRequests(inbound: inbound, outbound: outbound, connection: connection) }
                group.addTask { try await runStream(outbound: outbound, connection: connection) }
                // The first task to end (client gone, or the stream closed the connection) ends it.
                try await group.next()
                group.cancelAll()
            }
        } catch {
            logger.debug("client connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Answers the client's control messages; returns when the client is gone.
    private func readRequests(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, connection: ClientConnection
    ) async throws {
        var authenticated = false
        var iterator = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
        while let message = try await iterator.next() {
            guard case .text(let text) = message else { continue }
            let request = Self.parse(text)
            switch request.action {
            case "auth":
                if let reject = simulator.configuration.rejectKey, request.params == reject {
                    try await connection.write(Self.status("auth_failed", "authentication failed"))
                    try await outbound.close(.policyViolation, reason: "authentication failed")
                    return
                }
                authenticated = true
                let displaced = live.registry.withLock {
                    $0.authenticated(connection.id, key: request.params, connection: connection)
                }
                for old in displaced { old.evict() }
                try await connection.write(Self.status("auth_success", "authenticated"))
            case "subscribe" where authenticated:
                if let refusal = simulator.subscribe(connection: connection.id, params: request.params, at: .now) {
                    try await connection.write(Self.status("error", refusal.message))
                    try await outbound.close(Self.refusalCloseCode, reason: "subscription refused")
                    return
                }
                for channel in request.params.split(separator: ",") {
                    try await connection.write(Self.status("success", "subscribed to: \(channel)"))
                }
                connection.subscribed()
            case "unsubscribe":
                simulator.unsubscribe(connection: connection.id, params: request.params, at: .now)
                try await connection.write(Self.status("success", "unsubscribed to: \(request.params)"))
            default:
                try await connection.write(Self.status("error", "not authorized or unknown action"))
            }
        }
    }

    /// Waits for the subscription, streams, then ends the connection the way
    /// the stream ended. Returning ends the connection, so after a stall or
    /// silence this waits for the process to stop or the client to go.
    private func runStream(outbound: WebSocketOutboundWriter, connection: ClientConnection) async throws {
        var ending = StreamEnd.stopping
        for await event in connection.events {
            switch event {
            case .evicted: ending = .evicted
            case .subscribed: ending = try await stream(to: connection)
            }
            break
        }
        switch ending {
        case .fault(.stall), .fault(.silence):
            if case .fault(.silence) = ending { await connection.silence() }
            ending = try await waitQuietly(connection)
        default:
            break
        }
        switch ending {
        case .fault(.drop):
            try await outbound.close(.goingAway, reason: "feed-sim: scheduled drop")
        case .fault(.reset):
            await connection.reset(drainTimeout: Self.resetDrainTimeout)
        case .evicted:
            try await connection.write(Self.maxConnectionsStatus)
            try await outbound.close(Self.evictionCloseCode, reason: "max_connections")
        case .stopping, .fault(.stall), .fault(.silence):
            try await outbound.close(.goingAway, reason: "feed-sim stopping")
        }
    }

    /// Writes the simulator's trades, the other events subscribed to and the
    /// injected frames until a fault comes due, the connection is evicted or
    /// the process stops. Once `--count` trades are handed out it idles, still
    /// subject to faults, and sends any batch another client hands back. Every
    /// write is awaited, so the ledgers are exact at whatever ends it.
    ///
    /// A connection subscribed to trades (`T.…`) draws batches from the shared
    /// stream; one subscribed to other events only runs the stream on the
    /// clock while nobody draws it. A frame carries a batch's trades (those
    /// subscribed), then the events due, at most `--frame-size` events in all;
    /// when a full batch left no room, the next frame is the events'. A client
    /// subscribed to `T.*` only gets exactly the trade frames it always got.
    private func stream(to connection: ClientConnection) async throws -> StreamEnd {
        var session = StreamSession(plan: simulator.configuration.faults, startedAt: .now)
        session.controlGeneration = faultSwitch.generation
        let frameSize = max(1, simulator.configuration.frameSize)
        var tradeSubscriber = false
        var joinedBefore = false
        /// The batch drawn for this connection, waiting for its due time.
        var held: FeedSimulator.Batch?
        /// The last frame was all trades while events waited: the next is theirs.
        var eventsFirst = false
        defer {
            if let held { simulator.returnUnsent(held) }
            if tradeSubscriber { simulator.subscriberLeft(at: .now) }
        }
        while true {
            if let end = interruption(of: session, connection: connection) { return end }
            let subscription = simulator.subscription(of: connection.id)
            let wantsTrades = !subscription.trades.isEmpty
            if wantsTrades != tradeSubscriber {
                tradeSubscriber = wantsTrades
                if wantsTrades {
                    simulator.subscriberJoined(at: joinedBefore ? .now : session.startedAt)
                    joinedBefore = true
                } else {
                    simulator.subscriberLeft(at: .now)
                }
            }
            switch session.nextFrame {
            case .garbage:
                try await connection.write(StreamSession.garbageFrame)
                session.frameWritten()
                continue
            case .oversized:
                try await connection.write(StreamSession.oversizedFrame)
                session.frameWritten()
                continue
            case .trades, .hostile:
                break
            }
            if tradeSubscriber, held == nil { held = simulator.reserveBatch() }
            if !tradeSubscriber, subscription.wantsEvents { simulator.advanceWithoutTradeSubscribers(to: .now) }
            var wake = ContinuousClock.now.advanced(by: Self.pollInterval)
            if let held { wake = held.sendAt ?? .now }
            let eventsDue = simulator.nextEventDue(for: connection.id, now: .now)
            if let eventsDue { wake = min(wake, eventsDue) }
            guard try await sleep(until: wake, session: session, connection: connection) else { continue }

            let now = ContinuousClock.now
            var batch: FeedSimulator.Batch?
            if let ready = held, !eventsFirst, ready.sendAt.map({ $0 <= now }) ?? true {
                batch = ready
                held = nil
            }
            var trades: [SimTrade] = []
            var unsubscribed: [SimTrade] = []
            if let batch {
                if subscription.trades.all {
                    trades = batch.trades
                } else {
                    for trade in batch.trades {
                        if subscription.trades.contains(trade.sym) { trades.append(trade) } else { unsubscribed.append(trade) }
                    }
                }
            }
            let room = frameSize - trades.count
            let events = simulator.events(for: connection.id, at: now, limit: room)
            eventsFirst = room <= 0 && eventsDue.map { $0 <= now } ?? false
            guard !trades.isEmpty || !events.isEmpty else {
                if !unsubscribed.isEmpty { simulator.recordSent([], unsubscribed: unsubscribed) }
                continue
            }
            let hostile = session.nextFrame == .hostile && tradeSubscriber ? simulator.reserveHostile() : nil
            do {
                try await connection.write(SimEvent.frame(hostileFrom: hostile, trades: trades, events: events))
            } catch {
                if let batch { simulator.returnUnsent(batch) }
                throw error
            }
            if batch != nil || hostile != nil {
                simulator.recordSent(
                    trades, hostile: hostile == nil ? 0 : HostileTrades.Kind.allCases.count, unsubscribed: unsubscribed)
            }
            simulator.recordSent(events: events)
            session.frameWritten()
        }
    }

    /// Why streaming must stop now, if it must.
    private func interruption(of session: StreamSession, connection: ClientConnection) -> StreamEnd? {
        if stopping.isSet { return .stopping }
        if connection.isEvicted { return .evicted }
        if let ending = session.ending(at: .now) { return .fault(ending) }
        if let injected = faultSwitch.fault(since: session.controlGeneration) { return .fault(injected) }
        return nil
    }

    /// Sleeps until `instant`; `false` if a stop, an eviction or a fault came first.
    private func sleep(
        until instant: ContinuousClock.Instant, session: StreamSession, connection: ClientConnection
    ) async throws -> Bool {
        while ContinuousClock.now < instant {
            if interruption(of: session, connection: connection) != nil { return false }
            var wake = min(instant, ContinuousClock.now.advanced(by: Self.pollInterval))
            if let ending = session.ending { wake = min(wake, ending.at) }
            try await Task.sleep(until: wake)
        }
        return true
    }

    /// Sends nothing until the process stops or the connection is evicted.
    private func waitQuietly(_ connection: ClientConnection) async throws -> StreamEnd {
        while true {
            if stopping.isSet { return .stopping }
            if connection.isEvicted { return .evicted }
            try await Task.sleep(for: Self.pollInterval)
        }
    }

    /// `{"action":"auth","params":"KEY"}` → ("auth", "KEY"); control messages only, not the hot path.
    static func parse(_ text: String) -> (action: String, params: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return ("", "") }
        return (object["action"] as? String ?? "", object["params"] as? String ?? "")
    }
}

import FeedSimulator
import Foundation
import Logging
import Testing

/// What one client saw on the wire.
struct Observation: Sendable {
    var statuses: [String] = []
    var qs: [Int64] = []
    /// Trade events numbered from `HostileTrades.firstSequence`, by symbol length and condition count.
    var hostile: [(q: Int64, symbolBytes: Int, conditions: Int)] = []
    var garbage = 0
    var oversized = 0
    var pongs = 0
    var closeCode: UInt16?
    var failure: RawWebSocket.Failure?

    mutating func record(_ text: String) {
        if text.utf8.count > 1 << 20 {
            oversized += 1
            return
        }
        guard let events = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            garbage += 1
            return
        }
        for event in events {
            switch event["ev"] as? String {
            case "T":
                let q = (event["q"] as? NSNumber)?.int64Value ?? -1
                if q >= HostileTrades.firstSequence {
                    hostile.append((q, (event["sym"] as? String)?.utf8.count ?? 0, (event["c"] as? [Any])?.count ?? 0))
                } else {
                    qs.append(q)
                }
            case "status": statuses.append(event["status"] as? String ?? "?")
            default: break
            }
        }
    }

    /// Reads frames until `done` holds, a close frame arrives or the socket fails.
    static func reading(_ client: RawWebSocket, into seen: Observation = Observation(), until done: (Observation) -> Bool)
        -> Observation
    {
        var seen = seen
        while !done(seen) {
            do {
                switch try client.next() {
                case .close(let code):
                    seen.closeCode = code
                    return seen
                case .pong: seen.pongs += 1
                case .ping: break
                case .text(let text): seen.record(text)
                }
            } catch {
                seen.failure = error as? RawWebSocket.Failure ?? .io(-1)
                return seen
            }
        }
        return seen
    }

    /// Connects, authenticates with `key` and (optionally) subscribes.
    static func subscribedClient(port: Int, key: String = "key", subscribe: Bool = true) throws -> RawWebSocket {
        let client = try RawWebSocket(port: port)
        try client.send(#"{"action":"auth","params":"\#(key)"}"#)
        if subscribe { try client.send(#"{"action":"subscribe","params":"T.*"}"#) }
        return client
    }
}

/// `feed-sim`'s server in process, each fault seen through a plain socket.
/// Fault times are a few hundred milliseconds, so the suite stays fast.
@Suite("SimServer: what a client sees of each fault")
struct SimServerSmokeTests {
    static func withSim(
        _ configure: (inout FeedSimulator.Configuration) -> Void,
        _ body: (_ port: Int, _ simulator: FeedSimulator) async throws -> Void
    ) async throws {
        var configuration = FeedSimulator.Configuration()
        configuration.rate = 1000
        configure(&configuration)
        let simulator = try FeedSimulator(configuration: configuration)
        try await serving(simulator) { port, _ in try await body(port, simulator) }
    }

    /// Runs a server for `simulator` on a free port while `body` runs.
    static func serving(_ simulator: FeedSimulator, _ body: (_ port: Int, _ server: SimServer) async throws -> Void) async throws {
        var logger = Logger(label: "feed-sim-test")
        logger.logLevel = .critical
        let server = SimServer(simulator: simulator, host: "127.0.0.1", port: 0, logger: logger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await server.run { portSink.yield($0) } }
        defer {
            server.stop()
            running.cancel()
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port, server)
    }

    @Test("a client gets connected, auth_success and success, then exactly --count trades")
    func protocolAndCount() async throws {
        try await Self.withSim({ $0.rate = 0; $0.count = 250 }) { port, simulator in
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port)) { $0.qs.count >= 250 }
            }
            await simulator.waitUntilAllSent()
            #expect(seen.statuses == ["connected", "auth_success", "success"])
            #expect(seen.qs == Array(1...250))
            #expect(simulator.totals.sent == 250)
        }
    }

    @Test("the reject key gets auth_failed and a close frame")
    func rejectKey() async throws {
        try await Self.withSim({ $0.rejectKey = "bad" }) { port, _ in
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port, key: "bad")) { _ in false }
            }
            #expect(seen.statuses == ["connected", "auth_failed"])
            #expect(seen.closeCode == 1008)
        }
    }

    @Test("--drop-every: close frame 1001 after the interval, every ledgered trade received first")
    func drop() async throws {
        try await Self.withSim({ $0.faults.dropEvery = .milliseconds(300) }) { port, simulator in
            let start = ContinuousClock.now
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port)) { _ in false }
            }
            #expect(seen.closeCode == 1001)
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            #expect(!seen.qs.isEmpty && seen.qs == Array(1...Int64(seen.qs.count)))
            #expect(seen.qs.count == simulator.totals.sent)
        }
    }

    @Test("--reset-every: TCP reset and no close frame, every ledgered trade received first")
    func reset() async throws {
        try await Self.withSim({ $0.rate = 0; $0.faults.resetEvery = .milliseconds(300) }) { port, simulator in
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port)) { _ in false }
            }
            #expect(seen.failure == .reset)
            #expect(seen.closeCode == nil)
            #expect(!seen.qs.isEmpty && seen.qs.count == simulator.totals.sent)
        }
    }

    @Test("after the fault time data stops; --no-pong leaves pings unanswered, --stall-after answers them", arguments: [true, false])
    func silenceAndStall(noPong: Bool) async throws {
        try await Self.withSim({
            if noPong { $0.faults.silenceAfter = .milliseconds(300) } else { $0.faults.stallAfter = .milliseconds(300) }
        }) { port, simulator in
            let (beforePing, afterPing) = try await onOwnThread {
                let client = try Observation.subscribedClient(port: port)
                let first = Observation.reading(client) { !$0.qs.isEmpty }
                Thread.sleep(forTimeInterval: 0.5)
                client.setReadTimeout(0.3)
                let beforePing = Observation.reading(client, into: first) { _ in false }
                try client.sendPing()
                // The pong is awaited generously: under a full parallel test run 0.6 s was missed once.
                client.setReadTimeout(noPong ? 0.6 : 5)
                let afterPing = Observation.reading(client) { $0.pongs > 0 }
                return (beforePing, afterPing)
            }
            #expect(beforePing.failure == .timeout)
            #expect(beforePing.qs.count == simulator.totals.sent)
            #expect(afterPing.qs.isEmpty)
            #expect(afterPing.pongs == (noPong ? 0 : 1))
            #expect(afterPing.failure == (noPong ? .timeout : nil))
        }
    }

    @Test("--garbage-every and --oversized-every inject frames that hold no trades")
    func injectedFrames() async throws {
        try await Self.withSim({
            $0.rate = 0
            $0.count = 500
            $0.faults.garbageEvery = 3
            $0.faults.oversizedEvery = 4
        }) { port, simulator in
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port)) { $0.qs.count >= 500 }
            }
            await simulator.waitUntilAllSent()
            // Stream frames 1…10: T T G O T G T O G T holds the 5 trade frames.
            #expect(seen.garbage == 3)
            #expect(seen.oversized == 2)
            #expect(seen.qs == Array(1...500))
            #expect(simulator.totals.sent == 500)
        }
    }

    @Test("--hostile-every: every Nth frame carries the six hostile events before its trades; none is in the ledger")
    func hostileFrames() async throws {
        let ledger = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: ledger) }
        try await Self.withSim({
            $0.rate = 0
            $0.count = 500
            $0.frameSize = 50
            $0.faults.hostileEvery = 3
            $0.ledgerPath = ledger
        }) { port, simulator in
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port)) { $0.qs.count >= 500 }
            }
            await simulator.waitUntilAllSent()
            // 10 trade frames of 50; frames 3, 6 and 9 carry the hostile events.
            #expect(seen.qs == Array(1...500))
            #expect(seen.garbage == 0)
            #expect(seen.hostile.map(\.q) == Array(HostileTrades.firstSequence..<HostileTrades.firstSequence + 18))
            #expect(seen.hostile.map(\.symbolBytes).max() == 70_000)
            #expect(seen.hostile.map(\.conditions).max() == 70_000)
            #expect(simulator.totals.sent == 500)
            #expect(simulator.totals.hostile == 18)
            #expect(simulator.totals.json.contains(#","hostile":18,"#))
            // Read while the simulator still runs: every batch is already in the file.
            let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 501)
            #expect(!lines.contains { $0.hasPrefix("o:") || $0.contains("X00650000") || $0.utf8.count > 200 })
        }
    }

    @Test("--max-connections 1: the older connection gets max_connections and a close frame; the new one proceeds")
    func maxConnections() async throws {
        try await Self.withSim({ $0.faults.maxConnections = 1 }) { port, _ in
            let (older, newer) = try await onOwnThread {
                let a = try Observation.subscribedClient(port: port, key: "K")
                let aStreaming = Observation.reading(a) { !$0.qs.isEmpty }
                let b = try Observation.subscribedClient(port: port, key: "K")
                let older = Observation.reading(a, into: aStreaming) { _ in false }
                let newer = Observation.reading(b) { !$0.qs.isEmpty }
                return (older, newer)
            }
            #expect(older.statuses == ["connected", "auth_success", "success", "max_connections"])
            #expect(older.closeCode == 1008)
            #expect(newer.statuses == ["connected", "auth_success", "success"])
            #expect(!newer.qs.isEmpty && newer.closeCode == nil)
        }
    }

    @Test("--refuse-for: the listener binds only after the interval, then accepts")
    func refuseFor() async throws {
        let start = ContinuousClock.now
        try await Self.withSim({ $0.faults.refuseFor = .milliseconds(400) }) { port, _ in
            #expect(ContinuousClock.now - start >= .milliseconds(400))
            let seen = try await onOwnThread {
                Observation.reading(try Observation.subscribedClient(port: port, subscribe: false)) {
                    $0.statuses.count >= 2
                }
            }
            #expect(seen.statuses == ["connected", "auth_success"])
        }
    }
}

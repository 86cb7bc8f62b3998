import FeedSimulator
import Foundation
import Testing

/// One event as a client decoded it from the wire.
struct WireEvent: Sendable {
    var ev: String
    var sym: String
    /// Every number of the event as a Double (prices, `vw`, `fmv`).
    var numbers: [String: Double]
    /// Every number of the event as an integer (`t` in ns needs all 64 bits).
    var integers: [String: Int64]
    /// `message` of a status event.
    var message = ""

    func cents(_ key: String) -> Int64 { Int64(((numbers[key] ?? -1) * 100).rounded()) }
}

/// What one client saw: every frame, decoded, and how the connection ended.
struct WireLog: Sendable {
    var frames: [String] = []
    /// Events per frame.
    var frameSizes: [Int] = []
    var events: [WireEvent] = []
    var closeCode: UInt16?
    var failure: RawWebSocket.Failure?

    func of(_ ev: String) -> [WireEvent] { events.filter { $0.ev == ev } }
    var statuses: [String] { events.filter { $0.ev == "status" }.map(\.sym) }

    mutating func record(_ text: String) {
        frames.append(text)
        guard let objects = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else { return }
        frameSizes.append(objects.count)
        for object in objects {
            var event = WireEvent(ev: object["ev"] as? String ?? "?", sym: object["sym"] as? String ?? "", numbers: [:], integers: [:])
            if event.ev == "status" {
                event.sym = object["status"] as? String ?? "?"
                event.message = object["message"] as? String ?? ""
            }
            for (key, value) in object {
                // The events hold no booleans (on Linux `is Bool` would take any 0 or 1 for one).
                guard let number = value as? NSNumber else { continue }
                event.numbers[key] = number.doubleValue
                event.integers[key] = number.int64Value
            }
            events.append(event)
        }
    }

    /// Reads until `done` holds, a close frame arrives or the socket fails (a read timeout included).
    static func reading(_ client: RawWebSocket, into log: WireLog = WireLog(), until done: (WireLog) -> Bool) -> WireLog {
        var log = log
        while !done(log) {
            do {
                switch try client.next() {
                case .close(let code):
                    log.closeCode = code
                    return log
                case .text(let text): log.record(text)
                case .ping, .pong: break
                }
            } catch {
                log.failure = error as? RawWebSocket.Failure ?? .io(-1)
                return log
            }
        }
        return log
    }

    /// Connects, authenticates and sends one subscribe message per entry of `subscribe`.
    static func client(port: Int, subscribe messages: [String]) throws -> RawWebSocket {
        let client = try RawWebSocket(port: port)
        try client.send(#"{"action":"auth","params":"key"}"#)
        for params in messages { try client.send(#"{"action":"subscribe","params":"\#(params)"}"#) }
        return client
    }
}

/// One valid trade of a ledger (`sym,t,q,p,s,x,valid,c`, the stream ledger's first columns).
struct LedgerTrade {
    var sym: String
    var t: Int64
    var q: Int64
    var cents: Int64
    var size: Int64

    /// The valid trades of a ledger file, in `q` order.
    static func read(_ path: String) throws -> [LedgerTrade] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields[6] == "1", let t = Int64(fields[1]), let q = Int64(fields[2]), let price = Double(fields[3]),
                let size = Int64(fields[4])
            else { return nil }
            return LedgerTrade(sym: String(fields[0]), t: t, q: q, cents: Int64((price * 100).rounded()), size: size)
        }.sorted { $0.q < $1.q }
    }
}

/// A bar as the test computes it from a ledger, independently of `BarAggregator`.
struct ExpectedBar {
    var open: Int64, high: Int64, low: Int64, close: Int64
    var volume: Int64 = 0, notional: Int64 = 0, count: Int64 = 0
    /// The contract's volume and first price since the stream began, through the bar's end.
    var dayVolume: Int64 = 0, dayOpen: Int64 = 0

    /// Every (ev, sym, s) bar whose period ended by the newest valid trade of `trades` (the stream's time).
    static func all(from trades: [LedgerTrade]) -> [String: ExpectedBar] {
        guard let newest = trades.map(\.t).max() else { return [:] }
        var bars: [String: ExpectedBar] = [:]
        for (sym, day) in Dictionary(grouping: trades, by: \.sym) {
            for (ev, length) in [("A", Int64(1_000)), ("AM", Int64(60_000))] {
                // The contract's trades in q order, so in t order: its volume so far is a running sum.
                var dayVolume: Int64 = 0
                for trade in day {
                    dayVolume += trade.size
                    let start = trade.t - trade.t % length
                    guard start + length <= newest else { continue }
                    let key = "\(ev),\(sym),\(start)"
                    var bar = bars[key] ?? ExpectedBar(open: trade.cents, high: trade.cents, low: trade.cents, close: trade.cents)
                    bar.high = max(bar.high, trade.cents)
                    bar.low = min(bar.low, trade.cents)
                    bar.close = trade.cents
                    bar.volume += trade.size
                    bar.notional += trade.cents * trade.size
                    bar.count += 1
                    bar.dayVolume = dayVolume
                    bar.dayOpen = day[0].cents
                    bars[key] = bar
                }
            }
        }
        return bars
    }

    /// Checks a bar from the wire against this one.
    func check(_ event: WireEvent, _ key: String) {
        #expect(
            [event.cents("o"), event.cents("h"), event.cents("l"), event.cents("c")] == [open, high, low, close],
            "o/h/l/c of \(key)")
        #expect(event.integers["v"] == volume, "v of \(key)")
        let vwap = Double(notional) / Double(volume) / 100
        #expect(abs((event.numbers["vw"] ?? 0) - vwap) <= 0.00005 + 1e-9, "vw of \(key)")
        #expect(event.integers["z"] == (2 * volume + count) / (2 * count), "z of \(key)")
        #expect(event.integers["av"] == dayVolume, "av of \(key)")
        #expect(event.cents("op") == dayOpen, "op of \(key)")
        #expect(event.integers["e"].map { $0 - (event.integers["s"] ?? 0) } == (event.ev == "A" ? 1_000 : 60_000))
    }
}

/// Bars, quotes and fair values through a real socket (docs/feed-sim.md, "Other event types").
@Suite("Other event types: bars, quotes and fair values on subscription, and the quote rules")
struct OtherEventTypesTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID()).csv").path
    }

    /// Lines of the event ledger once the simulator recorded at least `count` events.
    static func eventLedger(_ path: String, atLeast count: Int) async throws -> [String] {
        let deadline = ContinuousClock.now.advanced(by: .seconds(3))
        while true {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            if lines.count >= count || ContinuousClock.now > deadline { return lines }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("T.*,AM.*,A.* gets every trade and every bar of the stream so far, each agreeing with the ledger's trades of its second or minute")
    func barsAgreeWithLedger() async throws {
        let ledger = Self.temporaryPath("bars-ledger")
        let events = Self.temporaryPath("bars-events")
        defer { for path in [ledger, events] { try? FileManager.default.removeItem(atPath: path) } }
        try await SimServerSmokeTests.withSim({
            // The stream starts 1 s before a whole minute (14:30:59 UTC), so 3000 trades (~3 s) close a minute.
            $0.seed = 59_000
            $0.rate = 0
            $0.count = 3_000
            $0.ledgerPath = ledger
            $0.eventLedgerPath = events
        }) { port, simulator in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: ["T.*,AM.*,A.*"])
                let trades = WireLog.reading(client) { $0.of("T").count >= 3_000 }
                // The bars the last trades closed follow them.
                client.setReadTimeout(0.5)
                return WireLog.reading(client, into: trades) { _ in false }
            }
            await simulator.waitUntilAllSent()
            #expect(log.statuses == ["connected", "auth_success", "success", "success", "success"])
            let tradesInOrder = log.of("T").compactMap { $0.integers["q"] } == Array(1...3_000)
            #expect(tradesInOrder, "q 1…3000, each once, in order")
            #expect(log.of("Q").isEmpty && log.of("FMV").isEmpty)
            #expect(log.frameSizes.allSatisfy { (1...100).contains($0) }, "no empty frames, none beyond --frame-size")
            let expected = ExpectedBar.all(from: try LedgerTrade.read(ledger))
            var received: [String: WireEvent] = [:]
            for bar in log.of("A") + log.of("AM") {
                let key = "\(bar.ev),\(bar.sym),\(bar.integers["s"] ?? -1)"
                #expect(received[key] == nil, "\(key) once")
                received[key] = bar
            }
            #expect(log.of("AM").count > 50 && log.of("A").count > 100)
            #expect(Set(received.keys) == Set(expected.keys))
            for (key, bar) in received {
                guard let truth = expected[key] else { continue }
                truth.check(bar, key)
            }
            let lines = try await Self.eventLedger(events, atLeast: received.count)
            #expect(lines.count == received.count)
            #expect(Set(lines.map { $0.split(separator: ",").prefix(3).joined(separator: ",") }) == Set(received.keys))
            #expect(simulator.totals.bars == received.count)
        }
    }

    @Test("a client subscribed to bars only gets them at a set rate, no trades; they agree with the stream ledger's skipped trades")
    func barsWithoutTrades() async throws {
        let stream = Self.temporaryPath("bars-stream")
        defer { try? FileManager.default.removeItem(atPath: stream) }
        try await SimServerSmokeTests.withSim({
            $0.rate = 2_000
            $0.streamLedgerPath = stream
        }) { port, simulator in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: ["A.*"])
                client.setReadTimeout(1.5)
                return WireLog.reading(client) { $0.of("A").count >= 400 }
            }
            #expect(log.of("T").isEmpty)
            #expect(log.of("A").count >= 400)
            #expect(simulator.totals.sent == 0 && simulator.totals.skipped > 0)
            let expected = ExpectedBar.all(from: try LedgerTrade.read(stream))
            let newest = log.of("A").compactMap { $0.integers["s"] }.max() ?? 0
            var keys = Set<String>()
            for bar in log.of("A") {
                let key = "A,\(bar.sym),\(bar.integers["s"] ?? -1)"
                keys.insert(key)
                guard let truth = expected[key] else {
                    Issue.record("\(key) is no second of the stream ledger")
                    continue
                }
                truth.check(bar, key)
            }
            // Every second before the newest one received came whole.
            #expect(Set(expected.keys.filter { $0.hasPrefix("A,") && Int64($0.split(separator: ",")[2])! < newest }).isSubset(of: keys))
        }
    }

    @Test("Q.O:… for two contracts gets quotes for those two only, bid below ask, q rising, each in the event ledger")
    func quotesForTwoContracts() async throws {
        let events = Self.temporaryPath("quotes-events")
        defer { try? FileManager.default.removeItem(atPath: events) }
        let contracts = Array(TradeGenerator(seed: 1, contracts: 200, invalidFraction: 0).contracts.prefix(2))
        try await SimServerSmokeTests.withSim({
            $0.quoteRate = 200
            $0.eventLedgerPath = events
        }) { port, simulator in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: [contracts.map { "Q.\($0)" }.joined(separator: ",")])
                client.setReadTimeout(2)
                return WireLog.reading(client) { $0.of("Q").count >= 60 }
            }
            let quotes = log.of("Q")
            #expect(quotes.count >= 60)
            #expect(log.events.allSatisfy { $0.ev == "Q" || $0.ev == "status" }, "no trades, bars or fair values")
            #expect(Set(quotes.map(\.sym)) == Set(contracts))
            #expect(quotes.allSatisfy { $0.cents("bp") >= 1 && $0.cents("bp") < $0.cents("ap") })
            #expect(quotes.allSatisfy { ($0.integers["bs"] ?? 0) > 0 && ($0.integers["as"] ?? 0) > 0 })
            #expect(quotes.allSatisfy { ($0.integers["t"] ?? 0) >= 1_764_772_200_000 && ($0.integers["t"] ?? 0) < 1_800_000_000_000 })
            let qs = quotes.compactMap { $0.integers["q"] }
            #expect(zip(qs, qs.dropFirst()).allSatisfy { $0 < $1 })
            let lines = try await Self.eventLedger(events, atLeast: quotes.count)
            let keys = quotes.map { "Q,\($0.sym),\($0.integers["t"] ?? -1),\($0.integers["q"] ?? -1)" }
            #expect(Array(lines.map { $0.split(separator: ",").prefix(4).joined(separator: ",") }.prefix(keys.count)) == keys)
            #expect(simulator.totals.quotes >= quotes.count)
        }
    }

    @Test("Q.* gets an error status, then a close frame, and nothing else")
    func quoteWildcardRefused() async throws {
        try await SimServerSmokeTests.withSim({ _ in }) { port, simulator in
            let log = try await onOwnThread {
                WireLog.reading(try WireLog.client(port: port, subscribe: ["T.*,Q.*"])) { _ in false }
            }
            #expect(log.statuses == ["connected", "auth_success", "error"])
            #expect(log.events.last { $0.ev == "status" }?.message.contains("Q.*") == true)
            #expect(log.closeCode == 1008)
            #expect(log.of("T").isEmpty && simulator.totals.sent == 0)
        }
    }

    @Test("more than 1 000 quote contracts on one connection are refused, in one message or over several", arguments: [[1_001], [600, 401]])
    func tooManyQuoteContracts(_ split: [Int]) async throws {
        var first = 0
        let messages = split.map { count in
            defer { first += count }
            return FeedSubscriptionTests.contracts(count, from: first).map { "Q.\($0)" }.joined(separator: ",")
        }
        try await SimServerSmokeTests.withSim({ _ in }) { port, _ in
            let log = try await onOwnThread {
                WireLog.reading(try WireLog.client(port: port, subscribe: messages)) { _ in false }
            }
            #expect(log.statuses.last == "error")
            #expect(log.statuses.filter { $0 == "success" }.count == (split.count == 1 ? 0 : split[0]))
            #expect(log.events.last { $0.ev == "status" }?.message.contains("1,000") == true)
            #expect(log.closeCode == 1008)
        }
    }

    @Test("exactly 1 000 quote contracts are taken")
    func thousandQuoteContracts() async throws {
        let params = FeedSubscriptionTests.contracts(1_000).map { "Q.\($0)" }.joined(separator: ",")
        try await SimServerSmokeTests.withSim({ _ in }) { port, _ in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: [params])
                client.setReadTimeout(2)
                return WireLog.reading(client) { $0.of("Q").count >= 20 }
            }
            #expect(log.statuses.count == 1_002 && !log.statuses.contains("error"))
            #expect(log.of("Q").count >= 20 && log.closeCode == nil)
        }
    }

    @Test("FMV.O:… gets fair values for that contract, t in nanoseconds within the stream's time, rising")
    func fairValues() async throws {
        let contract = TradeGenerator(seed: 1, contracts: 200, invalidFraction: 0).contracts[0]
        try await SimServerSmokeTests.withSim({ $0.fairValueRate = 50 }) { port, _ in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: ["FMV.\(contract)"])
                client.setReadTimeout(2)
                return WireLog.reading(client) { $0.of("FMV").count >= 15 }
            }
            let values = log.of("FMV")
            #expect(values.count >= 15 && values.allSatisfy { $0.sym == contract })
            let times = values.compactMap { $0.integers["t"] }
            // 2025-12-03 14:30 UTC in ns and an hour after: ms or µs would be far below.
            #expect(times.count == values.count && times.allSatisfy { $0 >= 1_764_772_200_000_000_000 && $0 < 1_764_775_800_000_000_000 })
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
            #expect(values.allSatisfy { ($0.numbers["fmv"] ?? 0) > 0 })
        }
    }

    @Test("a T.*-only client gets exactly the generator's trade frames, full, and nothing else")
    func tradesOnlyUnchanged() async throws {
        try await SimServerSmokeTests.withSim({
            $0.rate = 0
            $0.count = 250
        }) { port, simulator in
            let log = try await onOwnThread {
                let client = try WireLog.client(port: port, subscribe: ["T.*"])
                let trades = WireLog.reading(client) { $0.of("T").count >= 250 }
                client.setReadTimeout(0.3)
                return WireLog.reading(client, into: trades) { _ in false }
            }
            await simulator.waitUntilAllSent()
            var generator = TradeGenerator(seed: 1, contracts: 200, invalidFraction: 0)
            let expected = [100, 100, 50].map { size in TradeGenerator.frame((0..<size).map { _ in generator.next() }) }
            #expect(Array(log.frames.dropFirst(3)) == expected)
            #expect(log.failure == .timeout)
        }
    }
}

import FeedSimulator
import Foundation
import Testing

/// feed-sim's REST API in process, talked to over a real socket. The stream is
/// driven through the simulator's own calls with chosen instants, so the gap
/// (trades skipped while no client streamed) comes without waiting.
@Suite("RestAPI: Polygon's REST endpoints over the whole stream")
struct RestAPITests {
    /// One valid trade of the stream ledger.
    struct Truth: Hashable {
        var sym: String
        var q: Int64
        var sip: Int64
        var size: Int64
        var price: String
        var sent: Bool
    }

    static func withRest(
        _ configure: (inout FeedSimulator.Configuration) -> Void = { _ in },
        _ body: (_ port: Int, _ server: SimServer, _ truth: [Truth]) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = directory.appendingPathComponent("stream.csv").path
        var configuration = FeedSimulator.Configuration()
        configuration.seed = 3
        configuration.rate = 1000
        configuration.symbols = 20
        configuration.invalidFraction = 0.05
        configuration.streamLedgerPath = ledger
        configuration.apiKey = "sekrit"
        configure(&configuration)
        let simulator = try FeedSimulator(configuration: configuration)
        // 300 trades streamed, 500 skipped while nobody streamed, 300 more streamed.
        let t0 = ContinuousClock.now
        simulator.subscriberJoined(at: t0)
        Self.send(simulator, through: 300)
        simulator.subscriberLeft(at: t0.advanced(by: .milliseconds(300)))
        simulator.subscriberJoined(at: t0.advanced(by: .milliseconds(800)))
        Self.send(simulator, through: 1100)
        let truth = try Self.readStreamLedger(ledger)
        try await SimServerSmokeTests.serving(simulator) { port, server in try await body(port, server, truth) }
    }

    static func send(_ simulator: FeedSimulator, through q: Int64) {
        while let batch = simulator.reserveBatch() {
            simulator.recordSent(batch.trades)
            if batch.trades.last!.q >= q { break }
        }
    }

    /// The valid trades of `--stream-ledger` (`sym,t,q,p,s,x,valid,c,sent,sip_timestamp`).
    static func readStreamLedger(_ path: String) throws -> [Truth] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == FeedSimulator.streamLedgerHeader)
        return lines.dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 10, fields[6] == "1", let q = Int64(fields[2]), let sip = Int64(fields[9]),
                let size = Int64(fields[4])
            else { return nil }
            #expect(sip / 1_000_000 == Int64(fields[1]))
            return Truth(sym: fields[0], q: q, sip: sip, size: size, price: fields[3], sent: fields[8] == "1")
        }
    }

    static func get(_ port: Int, _ path: String, headers: [String: String] = [:]) async throws -> RawHTTP.Answer {
        try await onOwnThread { try RawHTTP.request(port: port, path: path, headers: headers) }
    }

    /// Follows `next_url` (adding the key again) and returns every page's results.
    static func allPages(_ port: Int, _ path: String) async throws -> (results: [[String: Any]], pages: Int) {
        var results: [[String: Any]] = []
        var next: String? = path
        var pages = 0
        while let path = next {
            let answer = try await get(port, path, headers: ["Authorization": "Bearer sekrit"])
            #expect(answer.status == 200)
            let object = try #require(answer.object)
            #expect(object["status"] as? String == "OK")
            #expect(object["request_id"] is String)
            results += try #require(object["results"] as? [[String: Any]])
            pages += 1
            next = (object["next_url"] as? String).map { url in
                #expect(url.hasPrefix("http://127.0.0.1:\(port)/"))
                #expect(!url.contains("sekrit") && !url.contains("apiKey"))
                return String(url.dropFirst("http://127.0.0.1:\(port)".count))
            }
        }
        return (results, pages)
    }

    static func sip(_ result: [String: Any]) -> Int64 { (result["sip_timestamp"] as? NSNumber)?.int64Value ?? -1 }

    @Test("a contract's trades, skipped ones included, page by cursor to the ledger's full set, ascending")
    func tradesIncludeSkipped() async throws {
        try await Self.withRest { port, _, truth in
            #expect(truth.contains { !$0.sent } && truth.contains(where: \.sent))
            var skippedServed = 0
            for sym in Set(truth.map(\.sym)).sorted().prefix(4) {
                let expected = truth.filter { $0.sym == sym }.sorted { ($0.sip, $0.q) < ($1.sip, $1.q) }
                let (results, pages) = try await Self.allPages(port, "/v3/trades/\(sym)?order=asc&sort=timestamp&limit=7")
                #expect(pages == (expected.count + 6) / 7)
                #expect(results.map(Self.sip) == expected.map(\.sip))
                if results.map(Self.sip) == expected.map(\.sip) { skippedServed += expected.count { !$0.sent } }
                #expect(results.map { ($0["size"] as? NSNumber)?.int64Value ?? -1 } == expected.map(\.size))
                #expect(results.allSatisfy { $0["correction"] as? Int == 0 && $0["sequence_number"] == nil })
                #expect(results.allSatisfy { ($0["participant_timestamp"] as? NSNumber)?.int64Value ?? .max < Self.sip($0) })
                #expect(results.allSatisfy { ($0["conditions"] as? [Int]).map { !$0.isEmpty } ?? true })
            }
            #expect(skippedServed > 0)
        }
    }

    @Test("desc by default; gte/lte bounds in ns are inclusive; the key may come as apiKey")
    func orderAndBounds() async throws {
        try await Self.withRest { port, _, truth in
            let sym = try #require(truth.first?.sym)
            let expected = truth.filter { $0.sym == sym }.map(\.sip).sorted()
            #expect(expected.count >= 10)
            let answer = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit")
            let results = try #require(answer.object?["results"] as? [[String: Any]])
            #expect(results.map(Self.sip) == expected.reversed())
            #expect(answer.object?["next_url"] == nil)
            let (low, high) = (expected[2], expected[expected.count - 3])
            let bounded = try await Self.get(
                port, "/v3/trades/\(sym)?apiKey=sekrit&order=asc&timestamp.gte=\(low)&timestamp.lte=\(high)")
            #expect((bounded.object?["results"] as? [[String: Any]])?.map(Self.sip) == Array(expected[2...(expected.count - 3)]))
            let open = try await Self.get(
                port, "/v3/trades/\(sym)?apiKey=sekrit&order=asc&timestamp.gt=\(low)&timestamp.lt=\(high)")
            #expect((open.object?["results"] as? [[String: Any]])?.map(Self.sip) == Array(expected[3...(expected.count - 4)]))
            let escaped = try await Self.get(port, "/v3/trades/\(sym.replacingOccurrences(of: ":", with: "%3A"))?apiKey=sekrit")
            #expect((escaped.object?["results"] as? [[String: Any]])?.count == expected.count)
            let tooMany = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit&limit=50001")
            #expect(tooMany.status == 400 && tooMany.object?["status"] as? String == "ERROR")
        }
    }

    @Test("401 without a key and with a wrong one")
    func unauthorized() async throws {
        try await Self.withRest { port, server, truth in
            let sym = try #require(truth.first?.sym)
            for headers in [[:], ["Authorization": "Bearer wrong"]] {
                let answer = try await Self.get(port, "/v3/trades/\(sym)", headers: headers)
                #expect(answer.status == 401)
                #expect(answer.object?["status"] as? String == "ERROR")
            }
            #expect(try await Self.get(port, "/v3/snapshot/options/SPY?apiKey=nope").status == 401)
            #expect(server.simulator.totals.restRequests == 3)
        }
    }

    @Test("beyond --rest-rate-limit: 429 with Retry-After: 1, counted in the exit line")
    func rateLimit() async throws {
        try await Self.withRest({ $0.restRateLimit = 2 }) { port, server, truth in
            let sym = try #require(truth.first?.sym)
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<3 {
                let answer = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit&limit=1")
                statuses.append(answer.status)
                if answer.status == 429 { retryAfter = answer.headers["retry-after"] }
            }
            #expect(statuses == [200, 200, 429])
            #expect(retryAfter == "1")
            #expect(server.simulator.totals.restThrottled == 1)
            #expect(server.simulator.totals.json.contains(#""rest_requests":3,"rest_throttled":1,"#))
        }
    }

    @Test("injected faults: the next answer is a 500, the one after a truncated body, then normal again")
    func faults() async throws {
        try await Self.withRest { port, server, truth in
            let sym = try #require(truth.first?.sym)
            server.rest.inject(.error, count: 1, delay: .zero)
            server.rest.inject(.truncate, count: 1, delay: .zero)
            let failed = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit")
            #expect(failed.status == 500 && failed.object?["status"] as? String == "ERROR")
            let truncated = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit")
            #expect(truncated.status == 200 && truncated.object == nil)
            #expect(truncated.body.hasPrefix(#"{"status":"OK""#))
            let normal = try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit")
            #expect(normal.status == 200 && normal.object != nil)
            #expect(server.simulator.totals.restFaults == 2)
        }
    }

    @Test("--rest-error-fraction 1: every answer is a 500; --control injects over HTTP")
    func faultOptions() async throws {
        try await Self.withRest({ $0.restFaults.errorFraction = 1; $0.control = true }) { port, _, truth in
            let sym = try #require(truth.first?.sym)
            #expect(try await Self.get(port, "/v3/trades/\(sym)?apiKey=sekrit").status == 500)
            let injected = try await onOwnThread {
                try RawHTTP.request("POST", port: port, path: "/control/rest/slow?count=1&seconds=0.2")
            }
            #expect(injected.status == 200)
            let start = ContinuousClock.now
            #expect(try await Self.get(port, "/v3/snapshot/options/SPY?apiKey=sekrit").status == 500)
            #expect(ContinuousClock.now - start >= .milliseconds(200))
        }
    }

    @Test("the chain snapshot pages by cursor over every contract of the underlying, with volume and last trade")
    func snapshot() async throws {
        try await Self.withRest({ $0.symbols = 120 }) { port, _, truth in
            let underlying = "SPY"
            let contracts = Dictionary(grouping: truth.filter { $0.sym.hasPrefix("O:\(underlying)2") }, by: \.sym)
            #expect(contracts.count > 3)
            let (results, pages) = try await Self.allPages(port, "/v3/snapshot/options/\(underlying)?limit=3")
            #expect(pages == (contracts.count + 2) / 3)
            let tickers = results.compactMap { ($0["details"] as? [String: Any])?["ticker"] as? String }
            #expect(tickers == contracts.keys.sorted())
            for result in results {
                let ticker = try #require((result["details"] as? [String: Any])?["ticker"] as? String)
                let trades = try #require(contracts[ticker])
                #expect(((result["day"] as? [String: Any])?["volume"] as? NSNumber)?.int64Value == trades.reduce(0) { $0 + $1.size })
                let last = try #require(result["last_trade"] as? [String: Any])
                #expect(Self.sip(last) == trades.map(\.sip).max())
            }
            #expect(try await Self.get(port, "/v3/snapshot/options/SPY?apiKey=sekrit&limit=251").status == 400)
        }
    }
}

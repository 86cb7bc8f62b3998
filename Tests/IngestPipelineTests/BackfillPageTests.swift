import OptionsFeed
import Testing

@testable import IngestPipeline

/// The REST page parsers (docs/design.md §5.8.1): the API's JSON in, trades and
/// snapshot entries out; every fault a typed error, never a crash.
@Suite("Backfill REST pages")
struct BackfillPageTests {
    func trades(_ json: String) throws(RESTPageError) -> RESTTradesPage { try RESTTradesPage(json: Array(json.utf8)) }
    func snapshot(_ json: String) throws(RESTPageError) -> RESTSnapshotPage { try RESTSnapshotPage(json: Array(json.utf8)) }

    static let page = #"""
        {"status":"OK","request_id":"abc","results":[
          {"sip_timestamp":1764685800123456789,"participant_timestamp":1764685800123000000,"price":1.23,"size":5,"exchange":312,"conditions":[209],"correction":0,"unknown":{"a":[1,2,{"b":null}]}},
          {"price":0.05,"size":1,"exchange":301,"sip_timestamp":1764685800999999999}
        ],"next_url":"https://api.polygon.io/v3/trades/O:SPY251219C00650000?cursor=XYZ"}
        """#

    @Test("a page's results, its next_url, missing conditions as [] and unknown fields ignored")
    func parsesPage() throws {
        let page = try trades(Self.page)
        #expect(page.nextURL == "https://api.polygon.io/v3/trades/O:SPY251219C00650000?cursor=XYZ")
        #expect(page.rejected == 0)
        #expect(
            page.results == [
                RESTTrade(
                    sipTimestampNs: 1_764_685_800_123_456_789, participantTimestampNs: 1_764_685_800_123_000_000, price: 1.23, size: 5,
                    exchange: 312, conditions: [209], correction: 0),
                RESTTrade(sipTimestampNs: 1_764_685_800_999_999_999, price: 0.05, size: 1, exchange: 301),
            ])
        #expect(page.results.map(\.timestampMs) == [1_764_685_800_123, 1_764_685_800_999], "t = floor(sip ns / 10^6)")
    }

    @Test("the last page has no next_url; null results and an empty list are an empty page")
    func lastPage() throws {
        #expect(try trades(#"{"status":"OK","results":[]}"#) == RESTTradesPage(results: []))
        #expect(try trades(#"{"status":"OK","results":null,"next_url":null}"#) == RESTTradesPage(results: []))
        #expect(try trades(#"{"status":"DELAYED"}"#) == RESTTradesPage(results: []))
    }

    @Test("a next_url with JSON escapes (\\u0026 for &) is unescaped")
    func escapedNextURL() throws {
        let page = try trades(#"{"results":[],"next_url":"https:\/\/api.polygon.io\/v3\/trades\/O:X?cursor=a\u0026limit=5"}"#)
        #expect(page.nextURL == "https://api.polygon.io/v3/trades/O:X?cursor=a&limit=5")
    }

    @Test("the REST price gives the feed decoder's bit pattern for the same decimal")
    func priceBitsMatchFeed() throws {
        for text in ["1.23", "0.05", "12.345", "0.1", "1234.56", "0.30000000000000004", "3.4e1", "99999.99"] {
            let rest = try trades(#"{"results":[{"sip_timestamp":1000000,"price":\#(text),"size":1}]}"#)
            let feed = try FrameDecoder().decode(#"[{"ev":"T","sym":"O:SPY251219C00650000","p":\#(text),"s":1,"t":1,"q":1}]"#)
            #expect(rest.results.first?.price.bitPattern == feed.trades.first?.price.bitPattern, "\(text)")
        }
    }

    @Test(
        "a cut body throws truncated, wherever it is cut",
        arguments: [10, 40, 100, 200, 300, 380])
    func truncated(cut: Int) throws {
        let bytes = Array(Self.page.utf8)
        try #require(cut < bytes.count)
        #expect(throws: RESTPageError.truncated(offset: cut)) { try RESTTradesPage(json: Array(bytes[..<cut])) }
    }

    @Test("every prefix of a page throws a typed error and none crashes")
    func everyPrefix() {
        let bytes = Array(Self.page.utf8)
        for cut in 0..<bytes.count {
            do {
                _ = try RESTTradesPage(json: Array(bytes[..<cut]))
                Issue.record("a page cut at \(cut) of \(bytes.count) bytes parsed")
            } catch {
                guard case .truncated = error else {
                    Issue.record("cut at \(cut): \(error)")
                    continue
                }
            }
        }
    }

    @Test(
        "malformed JSON, wrong types and numbers that do not fit throw malformed",
        arguments: [
            #"[]"#,
            #"{"results":[1]}"#,
            #"{"results":{}}"#,
            #"{"results":[{"sip_timestamp":"1","price":1,"size":1}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":"1.0","size":1}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1.5}]}"#,
            #"{"results":[{"sip_timestamp":99999999999999999999,"price":1,"size":1}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1e400,"size":1}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1,"exchange":70000}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1,"conditions":[1,"x"]}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1,"conditions":5}]}"#,
            #"{"results":[{"price":1,"size":1}]}"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1}]} x"#,
            #"{"results":[{"sip_timestamp":1,"price":1,"size":1},]}"#,
            #"{"results":[{"sip_timestamp":1,"price":01.,"size":1}]}"#,
            #"{"next_url":5}"#,
            #"{"status":tru}"#,
        ])
    func malformed(json: String) {
        do {
            _ = try trades(json)
            Issue.record("parsed: \(json)")
        } catch {
            guard case .malformed = error else {
                Issue.record("\(json): \(error)")
                return
            }
        }
    }

    @Test("deep nesting in an unknown field throws instead of overflowing the stack")
    func deepNesting() {
        let json = #"{"x":"# + String(repeating: "[", count: 100_000) + "}"
        #expect(throws: RESTPageError.self) { try trades(json) }
    }

    @Test("an error status or error field surfaces as apiError with its message")
    func apiError() {
        #expect(throws: RESTPageError.apiError(status: "ERROR", message: "Unknown API Key")) {
            try trades(#"{"status":"ERROR","request_id":"x","error":"Unknown API Key"}"#)
        }
        #expect(throws: RESTPageError.apiError(status: "NOT_AUTHORIZED", message: "upgrade your plan")) {
            try trades(#"{"status":"NOT_AUTHORIZED","message":"upgrade your plan"}"#)
        }
        #expect(throws: RESTPageError.apiError(status: "ERROR", message: "bad \"ticker\"")) {
            try trades(#"{"error":"bad \"ticker\""}"#)
        }
    }

    @Test("results the feed would refuse are left out and counted, not thrown")
    func rejected() throws {
        let conditions = (0..<33).map(String.init).joined(separator: ",")
        let page = try trades(
            #"{"results":[{"sip_timestamp":1000000,"price":0,"size":1},{"sip_timestamp":1000000,"price":1,"size":0},"#
                + #"{"sip_timestamp":-5,"price":1,"size":1},{"sip_timestamp":1000000,"price":1,"size":1,"conditions":[\#(conditions)]},"#
                + #"{"sip_timestamp":1000000,"price":1,"size":1,"exchange":null,"conditions":null}]}"#)
        #expect(page.rejected == 4)
        #expect(page.results == [RESTTrade(sipTimestampNs: 1_000_000, price: 1, size: 1)])
    }

    @Test("a 50 000-result page parses in one pass, its condition lists shared")
    func largePage() throws {
        var json = #"{"status":"OK","results":["#
        for index in 0..<50_000 {
            if index > 0 { json += "," }
            json +=
                #"{"sip_timestamp":\#(1_764_685_800_000_000_000 + index * 1000),"price":1.\#(index % 100),"size":\#(index % 7 + 1),"exchange":312,"conditions":[209]}"#
        }
        json += "]}"
        let clock = ContinuousClock()
        var page = RESTTradesPage(results: [])
        let elapsed = try clock.measure { page = try trades(json) }
        #expect(page.results.count == 50_000)
        #expect(page.results[49_999].size == 49_999 % 7 + 1)
        // Generous for a debug build on a shared machine; a dictionary-based decoder takes several times longer.
        #expect(elapsed < .seconds(5))
    }

    @Test("a snapshot page: ticker, day volume and last trade per contract; entries without a ticker left out")
    func snapshotPage() throws {
        let page = try snapshot(
            #"""
            {"status":"OK","results":[
              {"break_even_price":1,"details":{"contract_type":"call","ticker":"O:SPY251219C00650000"},"day":{"volume":123,"close":1.2},
               "greeks":{"delta":0.5},"last_trade":{"sip_timestamp":1764685800123456789,"price":1.2}},
              {"details":{"ticker":"O:SPY251219P00600000"},"day":{},"last_quote":{"bid":1}},
              {"details":{"ticker":"O:SPY251219P00500000"},"day":{"volume":12.0},"last_trade":null},
              {"day":{"volume":5}}
            ],"next_url":"https://api.polygon.io/v3/snapshot/options/SPY?cursor=C2"}
            """#)
        #expect(
            page.results == [
                .init(ticker: "O:SPY251219C00650000", dayVolume: 123, lastTradeSipNs: 1_764_685_800_123_456_789),
                .init(ticker: "O:SPY251219P00600000"),
                .init(ticker: "O:SPY251219P00500000", dayVolume: 12),
            ])
        #expect(page.nextURL == "https://api.polygon.io/v3/snapshot/options/SPY?cursor=C2")
    }

    @Test("a snapshot cut or of the wrong shape throws")
    func snapshotFaults() {
        let cut = #"{"results":[{"details":{"tick"#
        #expect(throws: RESTPageError.truncated(offset: cut.utf8.count)) { try snapshot(cut) }
        #expect(throws: RESTPageError.self) { try snapshot(#"{"results":[{"details":{"ticker":5}}]}"#) }
        #expect(throws: RESTPageError.self) { try snapshot(#"{"results":[{"day":{"volume":-1}}]}"#) }
        #expect(throws: RESTPageError.apiError(status: "ERROR", message: "no")) { try snapshot(#"{"status":"ERROR","error":"no"}"#) }
    }
}

/// One page of the option chain snapshot, `GET /v3/snapshot/options/{underlying}`
/// (docs/design.md §5.8.1): per contract its ticker, the day's volume and the
/// SIP time of its last trade, which is all that choosing the contracts to
/// backfill needs (`BackfillPlan`). Other fields (greeks, quotes, …) are skipped.
public struct RESTSnapshotPage: Sendable, Hashable {
    /// One contract of the chain.
    public struct Entry: Sendable, Hashable {
        /// `details.ticker`, e.g. `O:SPY251219C00650000`.
        public var ticker: String
        /// `day.volume`; 0 when absent (no trade today).
        public var dayVolume: Int64
        /// `last_trade.sip_timestamp`, Unix ns; `nil` when the contract has no last trade.
        public var lastTradeSipNs: Int64?

        public init(ticker: String, dayVolume: Int64 = 0, lastTradeSipNs: Int64? = nil) {
            self.ticker = ticker
            self.dayVolume = dayVolume
            self.lastTradeSipNs = lastTradeSipNs
        }
    }

    /// The contracts, those without a `details.ticker` left out.
    public var results: [Entry]
    public var nextURL: String?

    public init(results: [Entry], nextURL: String? = nil) {
        self.results = results
        self.nextURL = nextURL
    }

    /// Parses a response body; throws as `RESTTradesPage` does.
    public init(json bytes: UnsafeRawBufferPointer) throws(RESTPageError) {
        var results: [Entry] = []
        let envelope = try RESTEnvelope.readPage(bytes) { reader throws(RESTPageError) in
            if let entry = try Self.entry(&reader) { results.append(entry) }
        }
        self.init(results: results, nextURL: envelope.nextURL)
    }

    /// Parses a response body given as bytes.
    public init(json bytes: [UInt8]) throws(RESTPageError) {
        self = try RESTJSONReader.parse(bytes) { raw throws(RESTPageError) in try RESTSnapshotPage(json: raw) }
    }

    private static func entry(_ reader: inout RESTJSONReader) throws(RESTPageError) -> Entry? {
        var ticker: String?
        var volume: Int64 = 0
        var lastTrade: Int64?
        var more = try reader.openObject()
        while more {
            let key = try reader.key()
            if try reader.skipNull() {
                // An explicit null is an absent field.
            } else if reader.isKey(key, "details") {
                ticker = try field(&reader, "ticker") { reader throws(RESTPageError) in try reader.string() } ?? ticker
            } else if reader.isKey(key, "day") {
                volume = try field(&reader, "volume") { reader throws(RESTPageError) in try Self.volume(&reader) } ?? volume
            } else if reader.isKey(key, "last_trade") {
                lastTrade = try field(&reader, "sip_timestamp") { reader throws(RESTPageError) in try reader.int64() } ?? lastTrade
            } else {
                try reader.skipValue()
            }
            more = try reader.nextField()
        }
        return ticker.map { Entry(ticker: $0, dayVolume: volume, lastTradeSipNs: lastTrade) }
    }

    /// The one field `name` of a nested object, read by `value`; the others skipped.
    private static func field<Value>(
        _ reader: inout RESTJSONReader, _ name: StaticString,
        _ value: (inout RESTJSONReader) throws(RESTPageError) -> Value
    ) throws(RESTPageError) -> Value? {
        var found: Value?
        var more = try reader.openObject()
        while more {
            let key = try reader.key()
            if reader.isKey(key, name), try !reader.skipNull() {
                found = try value(&reader)
            } else {
                try reader.skipValue()
            }
            more = try reader.nextField()
        }
        return found
    }

    /// A volume, an integer or (in some snapshots) a number with a fraction, truncated.
    private static func volume(_ reader: inout RESTJSONReader) throws(RESTPageError) -> Int64 {
        let start = reader.index
        let value = try reader.double()
        guard value >= 0, value < 9.2e18 else {
            reader.index = start
            throw reader.fault("volume out of range")
        }
        return Int64(value)
    }
}

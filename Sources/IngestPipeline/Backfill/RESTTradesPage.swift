import OptionsFeed

/// One page of `GET /v3/trades/{optionsTicker}` (docs/design.md §5.8.1), parsed
/// from the body's bytes with no dictionaries: a 50 000-result page is read
/// in one pass, its condition lists shared (`ConditionLists`).
///
/// Structural faults throw (`RESTPageError`): cut or bad JSON, a field of the
/// wrong type, a number that does not fit, a result without `sip_timestamp`,
/// `price` or `size`, an error `status`. A well-formed result that breaks the
/// feed's rules (price or size not positive, time outside 1970…9999, more than
/// 32 conditions) is left out and counted in `rejected`, as the feed leaves out
/// an invalid trade. Unknown fields are skipped.
public struct RESTTradesPage: Sendable, Hashable {
    public var results: [RESTTrade]
    /// The next page's URL, absent on the last page. Follow it with `RESTRequest.following`.
    public var nextURL: String?
    /// Results left out by the feed's rules (`RESTTrade.invalidReason`).
    public var rejected: Int

    public init(results: [RESTTrade], nextURL: String? = nil, rejected: Int = 0) {
        self.results = results
        self.nextURL = nextURL
        self.rejected = rejected
    }

    /// Parses a response body.
    public init(json bytes: UnsafeRawBufferPointer) throws(RESTPageError) {
        var results: [RESTTrade] = []
        var rejected = 0
        var conditionLists = ConditionLists()
        let envelope = try RESTEnvelope.readPage(bytes) { reader throws(RESTPageError) in
            if let trade = try Self.trade(&reader, conditionLists: &conditionLists) {
                results.append(trade)
            } else {
                rejected += 1
            }
        }
        self.init(results: results, nextURL: envelope.nextURL, rejected: rejected)
    }

    /// Parses a response body given as bytes.
    public init(json bytes: [UInt8]) throws(RESTPageError) {
        self = try RESTJSONReader.parse(bytes) { raw throws(RESTPageError) in try RESTTradesPage(json: raw) }
    }

    /// One result; `nil` when the feed's rules reject it.
    private static func trade(
        _ reader: inout RESTJSONReader, conditionLists: inout ConditionLists
    ) throws(RESTPageError) -> RESTTrade? {
        let start = reader.index
        var sip: Int64?
        var participant: Int64?
        var price: Double?
        var size: Int64?
        var exchange: Int16 = 0
        var correction: Int16?
        var codes = ConditionLists.Codes()
        var codeCount = 0
        var more = try reader.openObject()
        while more {
            let key = try reader.key()
            if try reader.skipNull() {
                // An explicit null is an absent field.
            } else if reader.isKey(key, "sip_timestamp") {
                sip = try reader.int64()
            } else if reader.isKey(key, "price") {
                price = try reader.double()
            } else if reader.isKey(key, "size") {
                size = try reader.int64()
            } else if reader.isKey(key, "exchange") {
                exchange = try small(&reader, "exchange")
            } else if reader.isKey(key, "conditions") {
                var element = try reader.openArray()
                while element {
                    let code = try small(&reader, "condition code")
                    // Past the limit the codes are counted, not kept: the trade is rejected.
                    if codeCount < OptionTrade.maximumConditions { codes.append(code) }
                    codeCount += 1
                    element = try reader.nextElement()
                }
            } else if reader.isKey(key, "participant_timestamp") {
                participant = try reader.int64()
            } else if reader.isKey(key, "correction") {
                correction = try small(&reader, "correction")
            } else {
                try reader.skipValue()
            }
            more = try reader.nextField()
        }
        guard let sip, let price, let size else {
            reader.index = start
            throw reader.fault("a result without sip_timestamp, price or size")
        }
        guard codeCount <= OptionTrade.maximumConditions else { return nil }
        let trade = RESTTrade(
            sipTimestampNs: sip, participantTimestampNs: participant, price: price, size: size,
            exchange: exchange, conditions: conditionLists.list(codes), correction: correction)
        return trade.invalidReason == nil ? trade : nil
    }

    /// An integer field that the table stores as `smallint`.
    private static func small(_ reader: inout RESTJSONReader, _ name: String) throws(RESTPageError) -> Int16 {
        let start = reader.index
        let value = try reader.int64()
        guard let small = Int16(exactly: value) else {
            reader.index = start
            throw reader.fault("\(name) out of range")
        }
        return small
    }
}

/// The events decoded from one WebSocket text frame. Reused across frames
/// (`removeAll(keepingCapacity:)`) so the hot path does not reallocate.
public struct DecodedFrame: Sendable {
    public var trades: [OptionTrade] = []
    public var invalid: [InvalidTrade] = []
    public var statuses: [FeedStatus] = []
    /// `A` and `AM` bars, `Q` quotes, `FMV` values (docs/design.md §4.4).
    public var aggregates: [OptionAggregate] = []
    public var quotes: [OptionQuote] = []
    public var fairValues: [OptionFMV] = []
    /// Invalid events of those types, with their type.
    public var invalidEvents: [InvalidEvent] = []
    /// Events of a type this service does not know, or without `ev`.
    public var unknownEvents: Int = 0

    /// Bars, quotes, FMV values and invalid events of those types: the events besides trades.
    public var notStoredEvents: Int { aggregates.count + quotes.count + fairValues.count + invalidEvents.count }
    /// Valid records of every type (what the buffer takes).
    public var recordCount: Int { trades.count + aggregates.count + quotes.count + fairValues.count }
    /// Whether the frame holds any event for the pipeline: a record or an invalid event of any type.
    public var hasRecords: Bool { !trades.isEmpty || !invalid.isEmpty || notStoredEvents > 0 }
    /// Contracts met in earlier frames: a known one is not parsed or allocated again.
    public var symbols = SymbolTable()
    /// Condition lists met in earlier frames, shared by the trades that carry them.
    public var conditionLists = ConditionLists()

    public init() {}

    /// Empties the events for the next frame; the contracts and condition lists stay known.
    public mutating func removeAll() {
        trades.removeAll(keepingCapacity: true)
        invalid.removeAll(keepingCapacity: true)
        statuses.removeAll(keepingCapacity: true)
        aggregates.removeAll(keepingCapacity: true)
        quotes.removeAll(keepingCapacity: true)
        fairValues.removeAll(keepingCapacity: true)
        invalidEvents.removeAll(keepingCapacity: true)
        unknownEvents = 0
    }
}

/// A frame that is not the JSON the feed promises. Events decoded before the
/// fault are kept in the output; the rest of the frame is dropped.
public struct FrameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset of the fault in the frame.
    public var offset: Int
    public var reason: String

    public var description: String { "malformed frame at byte \(offset): \(reason)" }
}

/// Decodes Polygon/Massive options frames (JSON arrays of events, docs/design.md §5.1)
/// with a byte-level scanner straight into `OptionTrade`s: no `JSONDecoder`,
/// no dictionaries, unknown fields skipped.
public struct FrameDecoder: Sendable {
    public init() {}

    /// Decodes one frame, appending its events to `output`.
    public func decode(
        _ bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64, into output: inout DecodedFrame
    ) throws(FrameError) {
        var scanner = JSONScanner(bytes: bytes)
        scanner.skipWhitespace()
        switch scanner.peek() {
        case UInt8(ascii: "["):
            scanner.index += 1
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: "]") {
                scanner.index += 1
            } else {
                while true {
                    try decodeEvent(&scanner, receivedAtMicros: receivedAtMicros, into: &output)
                    scanner.skipWhitespace()
                    guard let next = scanner.peek() else { throw scanner.error("unterminated array") }
                    scanner.index += 1
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else { throw scanner.error("expected , or ] between events") }
                    scanner.skipWhitespace()
                }
            }
        case UInt8(ascii: "{"):
            try decodeEvent(&scanner, receivedAtMicros: receivedAtMicros, into: &output)
        default:
            throw scanner.error("a frame must be a JSON array of events")
        }
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { throw scanner.error("trailing bytes after the frame") }
    }

    /// Convenience for tests and tools: decodes a frame given as text.
    public func decode(_ text: String, receivedAtMicros: Int64 = 0) throws(FrameError) -> DecodedFrame {
        var output = DecodedFrame()
        var text = text
        let result: FrameError? = text.withUTF8 { utf8 in
            do throws(FrameError) {
                try decode(UnsafeRawBufferPointer(utf8), receivedAtMicros: receivedAtMicros, into: &output)
                return nil
            } catch {
                return error
            }
        }
        if let result { throw result }
        return output
    }

    private func decodeEvent(
        _ scanner: inout JSONScanner, receivedAtMicros: Int64, into output: inout DecodedFrame
    ) throws(FrameError) {
        guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.error("an event must be a JSON object") }
        let objectStart = scanner.index
        var fields = EventFields()
        if let end = CanonicalTrade.read(scanner.bytes, at: objectStart, into: &fields) {
            scanner.index = end
        } else {
            switch try eventType(&scanner) {
            case .secondAggregates: return try decodeAggregate(.second, &scanner, receivedAtMicros: receivedAtMicros, into: &output)
            case .minuteAggregates: return try decodeAggregate(.minute, &scanner, receivedAtMicros: receivedAtMicros, into: &output)
            case .quotes: return try decodeQuote(&scanner, receivedAtMicros: receivedAtMicros, into: &output)
            case .fairMarketValue: return try decodeFMV(&scanner, receivedAtMicros: receivedAtMicros, into: &output)
            case .trades, nil: try readFields(&scanner, into: &fields)
            }
        }
        let objectRange = objectStart..<scanner.index

        guard let ev = fields.ev else {
            output.unknownEvents += 1
            return
        }
        if scanner.equals(ev, "T") {
            switch fields.trade(
                in: scanner.bytes, receivedAtMicros: receivedAtMicros,
                symbols: &output.symbols, conditionLists: &output.conditionLists)
            {
            case .success(let trade):
                output.trades.append(trade)
            case .failure(let reason):
                output.invalid.append(
                    InvalidTrade(reason: reason, raw: InvalidTrade.raw(UnsafeRawBufferPointer(rebasing: scanner.bytes[objectRange]))))
            }
        } else if scanner.equals(ev, "status") {
            output.statuses.append(
                FeedStatus(
                    status: fields.status.map { scanner.unescapedText($0) } ?? "",
                    message: fields.message.map { scanner.unescapedText($0) } ?? ""
                )
            )
        } else {
            output.unknownEvents += 1
        }
    }

    /// The channel of the event at the scanner (its `{`), when it is one of
    /// the other types: read straight from `{"ev":"…"` (the feed's layout),
    /// else by a first pass over the object for its `ev`. `nil`: a trade, a
    /// status or an event this service does not know (read as before).
    private func eventType(_ scanner: inout JSONScanner) throws(FrameError) -> FeedSubscriptions.Channel? {
        let bytes = scanner.bytes, start = scanner.index
        var token: StringToken?
        if start + 8 < bytes.count, bytes[start + 1] == UInt8(ascii: "\""), bytes[start + 2] == UInt8(ascii: "e"),
            bytes[start + 3] == UInt8(ascii: "v"), bytes[start + 4] == UInt8(ascii: "\""), bytes[start + 5] == UInt8(ascii: ":"),
            bytes[start + 6] == UInt8(ascii: "\"")
        {
            var end = start + 7
            while end < bytes.count, end < start + 11, bytes[end] != UInt8(ascii: "\"") { end += 1 }
            token = StringToken(start: start + 7, length: end - start - 7, hasEscape: false)
        } else {
            var probe = scanner
            var fields = EventTypeField()
            try readFields(&probe, into: &fields)
            token = fields.ev
        }
        guard let token, !token.hasEscape, token.length <= 3 else { return nil }
        if scanner.equals(token, "AM") { return .minuteAggregates }
        if scanner.equals(token, "A") { return .secondAggregates }
        if scanner.equals(token, "Q") { return .quotes }
        if scanner.equals(token, "FMV") { return .fairMarketValue }
        return nil
    }

    private func decodeAggregate(
        _ period: OptionAggregate.Period, _ scanner: inout JSONScanner, receivedAtMicros: Int64, into output: inout DecodedFrame
    ) throws(FrameError) {
        let start = scanner.index
        var fields = AggregateFields()
        if let end = CanonicalAggregate.read(scanner.bytes, at: start, into: &fields) {
            scanner.index = end
        } else {
            try readFields(&scanner, into: &fields)
        }
        switch fields.aggregate(period: period, in: scanner.bytes, receivedAtMicros: receivedAtMicros, symbols: &output.symbols) {
        case .success(let bar): output.aggregates.append(bar)
        case .failure(let reason): output.invalidEvents.append(invalid(period == .second ? .secondAggregates : .minuteAggregates, reason, scanner, start))
        }
    }

    private func decodeQuote(_ scanner: inout JSONScanner, receivedAtMicros: Int64, into output: inout DecodedFrame) throws(FrameError) {
        let start = scanner.index
        var fields = QuoteFields()
        try readFields(&scanner, into: &fields)
        switch fields.quote(in: scanner.bytes, receivedAtMicros: receivedAtMicros, symbols: &output.symbols) {
        case .success(let quote): output.quotes.append(quote)
        case .failure(let reason): output.invalidEvents.append(invalid(.quotes, reason, scanner, start))
        }
    }

    private func decodeFMV(_ scanner: inout JSONScanner, receivedAtMicros: Int64, into output: inout DecodedFrame) throws(FrameError) {
        let start = scanner.index
        var fields = FMVFields()
        try readFields(&scanner, into: &fields)
        switch fields.value(in: scanner.bytes, receivedAtMicros: receivedAtMicros, symbols: &output.symbols) {
        case .success(let value): output.fairValues.append(value)
        case .failure(let reason): output.invalidEvents.append(invalid(.fairMarketValue, reason, scanner, start))
        }
    }

    private func invalid(_ channel: FeedSubscriptions.Channel, _ reason: InvalidTradeReason, _ scanner: JSONScanner, _ start: Int) -> InvalidEvent {
        InvalidEvent(channel: channel, reason: reason, raw: InvalidTrade.raw(UnsafeRawBufferPointer(rebasing: scanner.bytes[start..<scanner.index])))
    }

    /// Reads an event's fields in any order, whitespace and unknown fields allowed.
    private func readFields<Fields: EventFieldReader>(_ scanner: inout JSONScanner, into fields: inout Fields) throws(FrameError) {
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                let key = try scanner.scanString()
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"))
                scanner.skipWhitespace()
                try fields.read(key: key, from: &scanner)
                scanner.skipWhitespace()
                guard let next = scanner.peek() else { throw scanner.error("unterminated object") }
                scanner.index += 1
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw scanner.error("expected , or } in an object") }
            }
        }
    }
}

/// The fields of one event as the scanner meets them, in any order.
struct EventFields {
    var ev: StringToken?
    var sym: StringToken?
    var status: StringToken?
    var message: StringToken?
    var x: JSONNumber?
    var p: JSONNumber?
    var s: JSONNumber?
    var t: JSONNumber?
    var q: JSONNumber?
    /// The codes of `c`, at most `OptionTrade.maximumConditions`.
    var conditions = ConditionLists.Codes()
    /// `c` held more codes than `OptionTrade.maximumConditions` (the rest were read, not kept).
    var tooManyConditions = false
    var badField = false

    @inline(__always)
    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError) {
        guard key.length <= 7, !key.hasEscape else {
            try scanner.skipValue()
            return
        }
        if key.length == 1 {
            switch scanner.bytes[key.start] {
            case UInt8(ascii: "x"): x = try readNumber(&scanner)
            case UInt8(ascii: "p"): p = try readNumber(&scanner)
            case UInt8(ascii: "s"): s = try readNumber(&scanner)
            case UInt8(ascii: "t"): t = try readNumber(&scanner)
            case UInt8(ascii: "q"): q = try readNumber(&scanner)
            case UInt8(ascii: "c"): try readConditions(&scanner)
            default: try scanner.skipValue()
            }
        } else if scanner.equals(key, "ev") {
            ev = try readString(&scanner)
        } else if scanner.equals(key, "sym") {
            sym = try readString(&scanner)
        } else if scanner.equals(key, "status") {
            status = try readString(&scanner)
        } else if scanner.equals(key, "message") {
            message = try readString(&scanner)
        } else {
            try scanner.skipValue()
        }
    }

    @inline(__always)
    private mutating func readNumber(_ scanner: inout JSONScanner) throws(FrameError) -> JSONNumber? {
        try readNumberField(&scanner, badField: &badField)
    }

    @inline(__always)
    private mutating func readString(_ scanner: inout JSONScanner) throws(FrameError) -> StringToken? {
        try readStringField(&scanner, badField: &badField)
    }

    private mutating func readConditions(_ scanner: inout JSONScanner) throws(FrameError) {
        guard scanner.peek() == UInt8(ascii: "[") else {
            if scanner.peek() != UInt8(ascii: "n") { badField = true }
            try scanner.skipValue()
            return
        }
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "]") {
            scanner.index += 1
            return
        }
        while true {
            scanner.skipWhitespace()
            if let number = try readNumber(&scanner), let value = number.int64, let code = Int16(exactly: value) {
                if conditions.count < OptionTrade.maximumConditions {
                    conditions.append(code)
                } else {
                    tooManyConditions = true
                }
            } else {
                badField = true
            }
            scanner.skipWhitespace()
            guard let next = scanner.peek() else { throw scanner.error("unterminated array") }
            scanner.index += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw scanner.error("expected , or ] in an array") }
        }
    }

    /// Validates the fields of a `T` event (symbol, price, size, timestamp; docs/guarantees.md),
    /// and refuses implausible sizes: an underlying or a condition list longer
    /// than a real trade has (`OptionSymbol.maximumUnderlyingLength`,
    /// `OptionTrade.maximumConditions`).
    func trade(
        in bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64,
        symbols: inout SymbolTable, conditionLists: inout ConditionLists
    ) -> Result<OptionTrade, InvalidTradeReason> {
        guard let sym, !sym.hasEscape else { return .failure(.badSymbol) }
        let symbolBytes = UnsafeRawBufferPointer(rebasing: bytes[sym.start..<sym.start + sym.length])
        guard let symbol = symbols.symbol(utf8: symbolBytes) else { return .failure(OptionSymbol.rejection(utf8: symbolBytes)) }
        guard !tooManyConditions else { return .failure(.tooManyConditions) }
        guard let price = p?.double(in: bytes), price.isFinite, price > 0 else { return .failure(.nonPositivePrice) }
        guard let size = s?.int64, size > 0 else { return .failure(.nonPositiveSize) }
        // A notional that does not fit a Double (a price like 1e300) is no trade.
        guard (price * Double(size) * 100).isFinite else { return .failure(.badField) }
        guard let timestamp = t?.int64, timestamp != 0 else { return .failure(.missingTimestamp) }
        guard OptionTrade.timestampRange.contains(timestamp) else { return .failure(.timestampOutOfRange) }
        guard let q else { return .failure(.missingSequence) }
        guard let sequence = q.int64, sequence >= 0 else { return .failure(.badField) }
        var exchange: Int16 = 0
        if let x {
            guard let value = x.int64, let code = Int16(exactly: value), code >= 0 else { return .failure(.badField) }
            exchange = code
        }
        guard !badField else { return .failure(.badField) }
        let conditions = conditionLists.list(conditions)
        return .success(
            OptionTrade(
                symbol: symbol, exchange: exchange, price: price, size: size, conditions: conditions,
                timestampMs: timestamp, sequence: sequence, receivedAtMicros: receivedAtMicros
            )
        )
    }
}

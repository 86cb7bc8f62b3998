/// What reads one event's fields as the scanner meets them, in any order
/// (`FrameDecoder.readFields`): trades and statuses (`EventFields`), and one
/// reader per other event type, so that a key means what its event says it
/// means (`s` is a trade's size but a bar's start; `c` a trade's conditions
/// but a bar's close).
protocol EventFieldReader {
    init()
    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError)
}

extension EventFields: EventFieldReader {}

/// A number, `nil` for JSON `null`; any other type sets `badField`.
@inline(__always)
func readNumberField(_ scanner: inout JSONScanner, badField: inout Bool) throws(FrameError) -> JSONNumber? {
    switch scanner.peek() ?? 0 {
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return try scanner.scanNumber()
    case UInt8(ascii: "n"):
        try scanner.skipValue()
        return nil
    default:
        try scanner.skipValue()
        badField = true
        return nil
    }
}

/// A string, `nil` (and `badField`) for anything else.
@inline(__always)
func readStringField(_ scanner: inout JSONScanner, badField: inout Bool) throws(FrameError) -> StringToken? {
    if scanner.peek() == UInt8(ascii: "\"") { return try scanner.scanString() }
    try scanner.skipValue()
    badField = true
    return nil
}

/// The first two bytes of a key, as a number to switch on.
@inline(__always)
private func pair(_ scanner: JSONScanner, _ key: StringToken) -> UInt16 {
    UInt16(scanner.bytes[key.start]) << 8 | UInt16(scanner.bytes[key.start + 1])
}

private func pair(_ text: StaticString) -> UInt16 {
    UInt16(text.utf8Start[0]) << 8 | UInt16(text.utf8Start[1])
}

private let av = pair("av"), op = pair("op"), vw = pair("vw")
private let bx = pair("bx"), ax = pair("ax"), bp = pair("bp"), ap = pair("ap"), bs = pair("bs"), `as` = pair("as")

/// Only `ev`: which reader an event needs when it does not start with `{"ev":"…"` (any key order).
struct EventTypeField: EventFieldReader {
    var ev: StringToken?
    var badField = false

    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError) {
        if scanner.equals(key, "ev") {
            ev = try readStringField(&scanner, badField: &badField)
        } else {
            try scanner.skipValue()
        }
    }
}

/// The fields of an `A`/`AM` aggregate.
struct AggregateFields: EventFieldReader {
    var sym: StringToken?
    var v: JSONNumber?, av: JSONNumber?, op: JSONNumber?, vw: JSONNumber?
    var o: JSONNumber?, c: JSONNumber?, h: JSONNumber?, l: JSONNumber?
    var a: JSONNumber?, z: JSONNumber?, s: JSONNumber?, e: JSONNumber?
    var badField = false

    @inline(__always)
    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError) {
        guard !key.hasEscape else { return try scanner.skipValue() }
        switch key.length {
        case 1:
            switch scanner.bytes[key.start] {
            case UInt8(ascii: "v"): v = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "o"): o = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "c"): c = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "h"): h = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "l"): l = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "a"): a = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "z"): z = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "s"): s = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "e"): e = try readNumberField(&scanner, badField: &badField)
            default: try scanner.skipValue()
            }
        case 2:
            switch pair(scanner, key) {
            case OptionsFeed.av: av = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.op: op = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.vw: vw = try readNumberField(&scanner, badField: &badField)
            default: try scanner.skipValue()
            }
        case 3 where scanner.equals(key, "sym"):
            sym = try readStringField(&scanner, badField: &badField)
        default:
            try scanner.skipValue()
        }
    }

    /// Validates the bar (docs/design.md §4.4): a contract, positive prices
    /// with `low ≤ open, close ≤ high`, a positive volume and VWAP, a start
    /// before the end, both within 1970…9999; `av`, `op`, `a`, `z` may be
    /// left out but must be numbers of their kind when given.
    func aggregate(
        period: OptionAggregate.Period, in bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64, symbols: inout SymbolTable
    ) -> Result<OptionAggregate, InvalidTradeReason> {
        guard let symbol = contract(sym, in: bytes, symbols: &symbols) else { return .failure(rejection(sym, in: bytes)) }
        guard let o, let h, let l, let c, let v, let vw else { return .failure(.missingField) }
        func price(_ number: JSONNumber) -> Double? {
            guard let value = number.double(in: bytes), value.isFinite, value > 0 else { return nil }
            return value
        }
        guard let open = price(o), let high = price(h), let low = price(l), let close = price(c), let vwap = price(vw)
        else { return .failure(.nonPositivePrice) }
        guard let volume = v.int64, volume > 0 else { return .failure(.nonPositiveSize) }
        guard let s, let e else { return .failure(.missingTimestamp) }
        guard let start = s.int64, let end = e.int64, OptionTrade.timestampRange.contains(start), OptionTrade.timestampRange.contains(end)
        else { return .failure(.timestampOutOfRange) }
        guard end > start, low <= high, (low...high).contains(open), (low...high).contains(close) else { return .failure(.badBar) }
        var dayVolume: Int64?, dayOpen: Double?, dayVWAP: Double?, averageSize: Double?
        if let av {
            guard let value = av.int64, value >= 0 else { return .failure(.badField) }
            dayVolume = value
        }
        if let op {
            guard let value = price(op) else { return .failure(.badField) }
            dayOpen = value
        }
        if let a {
            guard let value = price(a) else { return .failure(.badField) }
            dayVWAP = value
        }
        if let z {
            guard let value = z.double(in: bytes), value.isFinite, value >= 0 else { return .failure(.badField) }
            averageSize = value
        }
        guard !badField else { return .failure(.badField) }
        return .success(
            OptionAggregate(
                symbol: symbol, period: period, startMs: start, endMs: end, open: open, high: high, low: low, close: close,
                volume: volume, vwap: vwap, dayVolume: dayVolume, dayVWAP: dayVWAP, dayOpen: dayOpen, averageSize: averageSize,
                receivedAtMicros: receivedAtMicros))
    }
}

/// The fields of a `Q` quote.
struct QuoteFields: EventFieldReader {
    var sym: StringToken?
    var bx: JSONNumber?, ax: JSONNumber?, bp: JSONNumber?, ap: JSONNumber?, bs: JSONNumber?, `as`: JSONNumber?
    var t: JSONNumber?, q: JSONNumber?
    var badField = false

    @inline(__always)
    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError) {
        guard !key.hasEscape else { return try scanner.skipValue() }
        switch key.length {
        case 1:
            switch scanner.bytes[key.start] {
            case UInt8(ascii: "t"): t = try readNumberField(&scanner, badField: &badField)
            case UInt8(ascii: "q"): q = try readNumberField(&scanner, badField: &badField)
            default: try scanner.skipValue()
            }
        case 2:
            switch pair(scanner, key) {
            case OptionsFeed.bx: bx = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.ax: ax = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.bp: bp = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.ap: ap = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.bs: bs = try readNumberField(&scanner, badField: &badField)
            case OptionsFeed.as: `as` = try readNumberField(&scanner, badField: &badField)
            default: try scanner.skipValue()
            }
        case 3 where scanner.equals(key, "sym"):
            sym = try readStringField(&scanner, badField: &badField)
        default:
            try scanner.skipValue()
        }
    }

    /// Validates the quote (docs/design.md §4.4): a contract, prices ≥ 0 (a
    /// bid of 0 is "no bid"; a crossed quote is kept as sent), sizes ≥ 0,
    /// exchanges 0…32767, `t` within 1970…9999 and a sequence `q` ≥ 0.
    func quote(in bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64, symbols: inout SymbolTable) -> Result<OptionQuote, InvalidTradeReason> {
        guard let symbol = contract(sym, in: bytes, symbols: &symbols) else { return .failure(rejection(sym, in: bytes)) }
        guard let bp, let ap, let bs, let `as`, let bx, let ax else { return .failure(.missingField) }
        guard let bidPrice = bp.double(in: bytes), let askPrice = ap.double(in: bytes), bidPrice.isFinite, askPrice.isFinite,
            bidPrice >= 0, askPrice >= 0
        else { return .failure(.nonPositivePrice) }
        guard let bidSize = bs.int64, let askSize = `as`.int64, bidSize >= 0, askSize >= 0 else { return .failure(.nonPositiveSize) }
        guard let bidExchange = bx.int64.flatMap({ Int16(exactly: $0) }), let askExchange = ax.int64.flatMap({ Int16(exactly: $0) }),
            bidExchange >= 0, askExchange >= 0
        else { return .failure(.badField) }
        guard let t, let timestamp = t.int64, timestamp != 0 else { return .failure(.missingTimestamp) }
        guard OptionTrade.timestampRange.contains(timestamp) else { return .failure(.timestampOutOfRange) }
        guard let q else { return .failure(.missingSequence) }
        guard let sequence = q.int64, sequence >= 0 else { return .failure(.badField) }
        guard !badField else { return .failure(.badField) }
        return .success(
            OptionQuote(
                symbol: symbol, bidExchange: bidExchange, askExchange: askExchange, bidPrice: bidPrice, askPrice: askPrice,
                bidSize: bidSize, askSize: askSize, timestampMs: timestamp, sequence: sequence, receivedAtMicros: receivedAtMicros))
    }
}

/// The fields of an `FMV` event.
struct FMVFields: EventFieldReader {
    var sym: StringToken?
    var fmv: JSONNumber?
    var t: JSONNumber?
    var badField = false

    @inline(__always)
    mutating func read(key: StringToken, from scanner: inout JSONScanner) throws(FrameError) {
        if key.length == 1, !key.hasEscape, scanner.bytes[key.start] == UInt8(ascii: "t") {
            t = try readNumberField(&scanner, badField: &badField)
        } else if scanner.equals(key, "fmv") {
            fmv = try readNumberField(&scanner, badField: &badField)
        } else if scanner.equals(key, "sym") {
            sym = try readStringField(&scanner, badField: &badField)
        } else {
            try scanner.skipValue()
        }
    }

    /// Validates the value (docs/design.md §4.4): a contract, `fmv` ≥ 0, and
    /// `t` in nanoseconds within 1970…2262 (where an Int64 of ns ends).
    func value(in bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64, symbols: inout SymbolTable) -> Result<OptionFMV, InvalidTradeReason> {
        guard let symbol = contract(sym, in: bytes, symbols: &symbols) else { return .failure(rejection(sym, in: bytes)) }
        guard let fmv else { return .failure(.missingField) }
        guard let value = fmv.double(in: bytes), value.isFinite, value >= 0 else { return .failure(.nonPositivePrice) }
        guard let t else { return .failure(.missingTimestamp) }
        guard let nanos = t.int64, nanos > 0 else { return .failure(.timestampOutOfRange) }
        guard !badField else { return .failure(.badField) }
        return .success(OptionFMV(symbol: symbol, fmv: value, timestampNanos: nanos, receivedAtMicros: receivedAtMicros))
    }
}

/// The contract a `sym` names, from the decoder's table (parsed once per contract).
@inline(__always)
private func contract(_ sym: StringToken?, in bytes: UnsafeRawBufferPointer, symbols: inout SymbolTable) -> OptionSymbol? {
    guard let sym, !sym.hasEscape else { return nil }
    return symbols.symbol(utf8: UnsafeRawBufferPointer(rebasing: bytes[sym.start..<sym.start + sym.length]))
}

/// Why `sym` names no contract.
private func rejection(_ sym: StringToken?, in bytes: UnsafeRawBufferPointer) -> InvalidTradeReason {
    guard let sym, !sym.hasEscape else { return .badSymbol }
    return OptionSymbol.rejection(utf8: UnsafeRawBufferPointer(rebasing: bytes[sym.start..<sym.start + sym.length]))
}

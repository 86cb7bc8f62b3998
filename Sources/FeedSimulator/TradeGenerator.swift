/// SplitMix64: a small, fast, seedable generator; the same seed gives the
/// same stream on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One simulated trade event, valid or deliberately broken.
public struct SimTrade: Sendable, Hashable {
    /// How a deliberately invalid trade is broken.
    public enum Fault: String, Sendable, CaseIterable {
        case badSymbol, zeroPrice, negativePrice, zeroSize, missingTimestamp
    }

    public var sym: String
    /// Unix ms; `nil` when the event leaves `t` out.
    public var t: Int64?
    public var q: Int64
    /// Price in cents, so that the JSON text and the ledger print the same decimal.
    public var priceCents: Int64
    public var size: Int64
    public var x: Int
    public var conditions: [Int]
    public var fault: Fault?

    public init(
        sym: String, t: Int64?, q: Int64, priceCents: Int64, size: Int64, x: Int, conditions: [Int], fault: Fault? = nil
    ) {
        (self.sym, self.t, self.q, self.priceCents, self.size, self.x) = (sym, t, q, priceCents, size, x)
        self.conditions = conditions
        self.fault = fault
    }

    public var isValid: Bool { fault == nil }

    /// `12.34`, `0.05`, `-1.00`.
    public var priceText: String { Self.priceText(cents: priceCents) }

    /// A price in cents as the feed and the REST API write it: `12.34`.
    public static func priceText(cents priceCents: Int64) -> String {
        var bytes: [UInt8] = []
        appendPrice(cents: priceCents, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `priceText(cents:)`'s UTF-8 to `bytes`.
    static func appendPrice(cents priceCents: Int64, to bytes: inout [UInt8]) {
        if priceCents < 0 { bytes.append(UInt8(ascii: "-")) }
        let cents = priceCents.magnitude
        appendDecimal(cents / 100, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(cents % 100 / 10))
        bytes.append(UInt8(ascii: "0") + UInt8(cents % 10))
    }

    /// The event as the feed writes it (docs/design.md §5.1); `c` is left out when empty.
    public var json: String {
        var bytes: [UInt8] = []
        appendJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `json`'s UTF-8 to `bytes`: a frame is written straight into one
    /// array, without a string per trade and per number (flat out, building
    /// each trade's text as a `String` was 30 % of feed-sim's CPU).
    public func appendJSON(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"ev":"T","sym":""#.utf8)
        bytes.append(contentsOf: sym.utf8)
        bytes.append(contentsOf: #"","x":"#.utf8)
        Self.appendDecimal(Int64(x), to: &bytes)
        bytes.append(contentsOf: #","p":"#.utf8)
        Self.appendPrice(cents: priceCents, to: &bytes)
        bytes.append(contentsOf: #","s":"#.utf8)
        Self.appendDecimal(size, to: &bytes)
        if !conditions.isEmpty {
            bytes.append(contentsOf: #","c":["#.utf8)
            for (index, condition) in conditions.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.appendDecimal(Int64(condition), to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        if let t {
            bytes.append(contentsOf: #","t":"#.utf8)
            Self.appendDecimal(t, to: &bytes)
        }
        bytes.append(contentsOf: #","q":"#.utf8)
        Self.appendDecimal(q, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    /// The decimal text of `value`, as `String(value)` writes it.
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude, to: &bytes)
    }

    static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// The ledger line: `sym,t,q,p,s,x,valid,c` (conditions joined by `|`).
    public var ledgerLine: String {
        "\(sym),\(t.map(String.init) ?? ""),\(q),\(priceText),\(size),\(x),\(isValid ? 1 : 0),\(conditions.map(String.init).joined(separator: "|"))"
    }
}

/// A deterministic stream of option trades: the same seed, contract count
/// and invalid fraction give the same trades; `(sym, t, q)` never repeats
/// (`q` counts up).
public struct TradeGenerator: Sendable {
    public static let ledgerHeader = "sym,t,q,p,s,x,valid,c"

    private var random: SeededRandom
    public let contracts: [String]
    public let invalidFraction: Double
    /// `t` of the newest trade drawn (Unix ms); before the first, the stream's start.
    public private(set) var timestampMs: Int64
    private var sequence: Int64 = 0

    static let underlyings = ["SPY", "QQQ", "AAPL", "TSLA", "NVDA", "AMZN", "MSFT", "META", "IWM", "AMD", "SPXW", "GOOGL", "BRK.B", "NFLX"]
    static let expiries = ["251219", "260116", "260220", "260320", "260618", "261218", "270115"]
    static let conditionCodes = [209, 219, 227, 228, 232, 233]

    public init(seed: UInt64, contracts count: Int, invalidFraction: Double) {
        var random = SeededRandom(seed: seed)
        var seen = Set<String>()
        var contracts: [String] = []
        let wanted = max(1, count)
        while contracts.count < wanted {
            let underlying = Self.underlyings[Int(random.next() % UInt64(Self.underlyings.count))]
            let expiry = Self.expiries[Int(random.next() % UInt64(Self.expiries.count))]
            let type = random.next() % 2 == 0 ? "C" : "P"
            let strike = (10 + Int(random.next() % 700)) * 1000 + (random.next() % 4 == 0 ? 500 : 0)
            let digits = String(strike)
            let symbol = "O:\(underlying)\(expiry)\(type)\(String(repeating: "0", count: 8 - digits.count))\(digits)"
            if seen.insert(symbol).inserted { contracts.append(symbol) }
            if seen.count >= Self.underlyings.count * Self.expiries.count * 2 * 1400 { break }
        }
        self.random = random
        self.contracts = contracts
        self.invalidFraction = min(1, max(0, invalidFraction))
        // A weekday session in December 2025, shifted by the seed so runs differ.
        self.timestampMs = 1_764_772_200_000 + Int64(seed % 1_000_000)
    }

    public mutating func next() -> SimTrade {
        sequence += 1
        timestampMs += Int64(random.next() % 3)
        let sym = contracts[Int(random.next() % UInt64(contracts.count))]
        // Log-uniform-ish price (0.05–50.00) and size (1–500): a fair share passes the 10 000 USD threshold.
        let priceScale: UInt64 = random.next() % 100
        let priceStep: UInt64 = random.next() % 50
        let priceCents = Int64(5 + priceScale * priceStep + random.next() % 100)
        let sizeScale: UInt64 = random.next() % 20
        let size = Int64(1 + sizeScale * (random.next() % 25))
        let x = 300 + Int(random.next() % 25)
        var conditions: [Int] = []
        for _ in 0..<Int(random.next() % 3) {
            conditions.append(Self.conditionCodes[Int(random.next() % UInt64(Self.conditionCodes.count))])
        }
        var trade = SimTrade(
            sym: sym, t: timestampMs, q: sequence, priceCents: priceCents, size: size, x: x, conditions: conditions,
            fault: nil)
        if invalidFraction > 0, Double(random.next() % 1_000_000) / 1_000_000 < invalidFraction {
            let fault = SimTrade.Fault.allCases[Int(random.next() % UInt64(SimTrade.Fault.allCases.count))]
            trade.fault = fault
            switch fault {
            case .badSymbol: trade.sym = String(sym.dropLast(3))
            case .zeroPrice: trade.priceCents = 0
            case .negativePrice: trade.priceCents = -trade.priceCents
            case .zeroSize: trade.size = 0
            case .missingTimestamp: trade.t = nil
            }
        }
        return trade
    }

    /// A frame of events: a JSON array.
    public static func frame(_ trades: some Sequence<SimTrade>) -> String {
        frame(trades, then: [])
    }

    /// A frame of `trades`, then `more` (other events' JSON), built in one array.
    static func frame(_ trades: some Sequence<SimTrade>, then more: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(trades.underestimatedCount * 112 + 2)
        for trade in trades {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            trade.appendJSON(to: &bytes)
        }
        for text in more {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: text.utf8)
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

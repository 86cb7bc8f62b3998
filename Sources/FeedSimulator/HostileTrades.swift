/// Trade events that are well-formed JSON but no trade a client may accept
/// (`--hostile-every`): sizes past any real trade (a condition list of 70 000
/// codes, a 70 000-byte symbol, a 12-character underlying) and symbols that
/// almost match. A client must reject each one as invalid and go on; none of
/// them is in the ledger (the ledger is what should land in the table), they
/// are counted as `hostile` in the exit line instead.
///
/// Every other field is plausible (positive price and size, a 2025 timestamp),
/// so only the named part is at fault. Each carries a `q` of its own, from
/// `firstSequence` up, far above the ordinary stream's, so that one a client
/// wrongly accepted can never collide with (and hide) an ordinary trade.
public enum HostileTrades {
    /// What is wrong with a hostile event.
    public enum Kind: String, Sendable, CaseIterable {
        /// `c` holds 70 000 codes (a client's 16-bit counts overflow past 65 535).
        case hugeConditionList
        /// `sym` is 70 000 bytes: `O:`, a 69 985-letter underlying, a valid tail.
        case hugeSymbol
        /// `sym` has a 12-character underlying, otherwise a valid contract.
        case longUnderlying
        /// `O:SPY251219X00650000`: neither call nor put.
        case badOptionType
        /// `o:spy251219c00650000`: lowercase.
        case lowercase
        /// `O:SPY251219C0065000`: a 7-digit strike.
        case sevenDigitStrike

        /// The reason the ingester gives for it (`dead_letters.reason`).
        public var expectedReason: String {
            switch self {
            case .hugeConditionList: "too_many_conditions"
            case .hugeSymbol, .longUnderlying: "underlying_too_long"
            case .badOptionType, .lowercase, .sevenDigitStrike: "bad_symbol"
            }
        }

        /// The codes of a huge condition list.
        public static let hugeConditionCount = 70_000
        /// The length of a huge symbol.
        public static let hugeSymbolBytes = 70_000

        /// The event without its `q` and closing brace: built once, as the huge ones are ~300 KB.
        fileprivate var head: String {
            switch self {
            case .hugeConditionList:
                Self.head(sym: "O:SPY251219C00650000", conditions: HostileTrades.hugeConditions)
            case .hugeSymbol:
                Self.head(sym: "O:" + String(repeating: "A", count: Self.hugeSymbolBytes - 17) + "251219C00650000")
            case .longUnderlying: Self.head(sym: "O:ABCDEFGHIJKL251219C00650000")
            case .badOptionType: Self.head(sym: "O:SPY251219X00650000")
            case .lowercase: Self.head(sym: "o:spy251219c00650000")
            case .sevenDigitStrike: Self.head(sym: "O:SPY251219C0065000")
            }
        }

        private static func head(sym: String, conditions: String? = nil) -> String {
            var text = #"{"ev":"T","sym":"\#(sym)","x":301,"p":25.00,"s":100"#
            if let conditions { text += #","c":[\#(conditions)]"# }
            return text + #","t":\#(HostileTrades.timestampMs),"q":"#
        }
    }

    /// `q` of the first hostile event; each next one counts up.
    public static let firstSequence: Int64 = 1_000_000_000_000
    /// The exchange time every hostile event carries (2025-12-03 14:30 UTC, inside the simulated session).
    public static let timestampMs: Int64 = 1_764_772_200_000

    private static let hugeConditions = Array(repeating: "209", count: Kind.hugeConditionCount).joined(separator: ",")
    private static let heads: [String] = Kind.allCases.map(\.head)

    /// One event of each kind, in `Kind.allCases` order, numbered from `sequence`.
    public static func events(from sequence: Int64) -> [String] {
        heads.enumerated().map { offset, head in head + String(sequence + Int64(offset)) + "}" }
    }

    /// A frame with the hostile events first, then the ordinary trades: a
    /// client that stumbled over a hostile event would lose the trades after it.
    public static func frame(hostileFrom sequence: Int64, trades: [SimTrade]) -> String {
        "[" + (events(from: sequence) + trades.map(\.json)).joined(separator: ",") + "]"
    }
}

/// Input that could not be stored, kept with the reason (docs/design.md §4.1 `dead_letters`).
public struct DeadLetter: Sendable, Equatable {
    /// Most bytes of the raw input kept (4 KiB): enough to see what was wrong
    /// with a trade, and a 10 MB frame piece does not become a 10 MB row, nor
    /// 10 MB held in memory per letter while the database is down.
    public static let rawLimitBytes = 4096

    /// `feed`: rejected before the database (bad symbol, price, …);
    /// `database`: a row the database refused (data or constraint error).
    public var source: String
    public var reason: String
    public var sqlState: String?
    public var message: String?
    /// The raw input (a trade as JSON), at most `rawLimitBytes` of UTF-8,
    /// cut on a character boundary.
    public private(set) var raw: String
    /// The raw input's full length in UTF-8 bytes: more than `raw` holds when it was cut.
    public private(set) var rawBytes: Int

    /// The feed's channel of the event (`T`, `A`, `AM`, `Q`, `FMV`); `nil` when
    /// not known (a frame that did not parse, an unknown event).
    public var eventType: String?

    public init(source: String, reason: String, sqlState: String? = nil, message: String? = nil, raw: String, eventType: String? = nil) {
        self.eventType = eventType
        self.source = source
        self.reason = reason
        self.sqlState = sqlState
        self.message = message
        self.rawBytes = raw.utf8.count
        self.raw = Self.prefix(of: raw, maxBytes: Self.rawLimitBytes)
    }

    /// Whether `raw` is the whole input.
    public var isRawComplete: Bool { raw.utf8.count == rawBytes }

    /// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that
    /// ends on a Unicode scalar boundary, in storage of its own (it does not
    /// keep the whole input alive).
    static func prefix(of text: String, maxBytes: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return text }
        var end = utf8.index(utf8.startIndex, offsetBy: maxBytes)
        while end > utf8.startIndex, end.samePosition(in: text.unicodeScalars) == nil {
            end = utf8.index(before: end)
        }
        return String(text.unicodeScalars[..<end])
    }
}

/// Input that could not be stored, kept with the reason (SPEC §4 `dead_letters`).
public struct DeadLetter: Sendable, Equatable {
    /// `feed`: rejected before the database (bad symbol, price, …);
    /// `database`: a row the database refused (data or constraint error).
    public var source: String
    public var reason: String
    public var sqlState: String?
    public var message: String?
    /// The raw trade as JSON.
    public var raw: String

    public init(source: String, reason: String, sqlState: String? = nil, message: String? = nil, raw: String) {
        self.source = source
        self.reason = reason
        self.sqlState = sqlState
        self.message = message
        self.raw = raw
    }
}

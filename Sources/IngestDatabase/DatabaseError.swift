/// A failure of the database, typed by what the caller can do about it
/// (docs/design.md §5.3 error classes).
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// The raw value is the health report's `last_error.error_class`.
    public enum Kind: String, Sendable, Codable {
        /// Lost or refused connection (08xxx, 57P0x, broken socket): retryable.
        case connection
        /// Statement timeout or cancel (57014): retryable.
        case timeout
        /// Bad data (22xxx): not retryable; isolate the row.
        case data
        /// Constraint violation (23xxx): not retryable; isolate the row.
        case constraint
        /// Authentication or authorization (28xxx).
        case auth
        /// The tables are not what the writer needs: a missing table or
        /// column (42P01, 42703), no key for `ON CONFLICT` (42P10), or
        /// QuestDB's words for these. A configuration error: no retry helps
        /// and no row is to blame, so writes stop (nothing is dead-lettered)
        /// until an operator fixes the schema.
        case schema
        case other
    }

    public var kind: Kind
    public var sqlState: String?
    public var message: String
    /// The constraint the server names for a constraint error (`PG_DIAG_CONSTRAINT_NAME`); `nil` when it names none.
    public var constraint: String?

    public init(kind: Kind, sqlState: String?, message: String, constraint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.constraint = constraint
    }

    /// The class of a SQLSTATE (docs/design.md §5.3).
    public static func kind(forSQLState state: String?) -> Kind {
        guard let state, state.count == 5 else { return .other }
        if state == "57014" { return .timeout }
        if state.hasPrefix("08") || state.hasPrefix("57P0") { return .connection }
        if state.hasPrefix("22") { return .data }
        if state.hasPrefix("23") { return .constraint }
        if state.hasPrefix("28") { return .auth }
        if ["42P01", "42703", "42P10"].contains(state) { return .schema }
        return .other
    }

    /// The class of a QuestDB error. QuestDB answers every error with
    /// SQLSTATE 00000 (docs/design.md §5.3), so the class comes from the connection
    /// status and the message text (QuestDB's wording, e.g. "inconvertible
    /// value", "timeout, query aborted").
    public static func kind(forQuestDBMessage message: String, connectionHealthy: Bool) -> Kind {
        guard connectionHealthy else { return .connection }
        let text = message.lowercased()
        func mentions(_ words: [String]) -> Bool { words.contains { text.contains($0) } }
        if mentions(["timeout", "cancelled", "canceled"]) { return .timeout }
        if mentions(["authentication", "password"]) { return .auth }
        if mentions(["connection", "server closed", "broken pipe"]) { return .connection }
        // Before the data words: "Invalid column" names the schema, not a value.
        if mentions(schemaWords) { return .schema }
        if mentions(["inconvertible", "could not parse", "invalid", "cannot be null", "out of range", "overflow", "cannot be cast"]) {
            return .data
        }
        return .other
    }

    /// QuestDB's wording for a table or column that is not there.
    static let schemaWords = [
        "invalid column", "unknown column", "column not found", "table does not exist", "table not found", "does not exist",
        "no designated timestamp",
    ]

    /// The class of any server error: SQLSTATE 00000 with an error is QuestDB's mark.
    public static func kind(sqlState: String?, message: String, connectionHealthy: Bool) -> Kind {
        if sqlState == "00000" { return kind(forQuestDBMessage: message, connectionHealthy: connectionHealthy) }
        let kind = kind(forSQLState: sqlState)
        return kind == .other && !connectionHealthy ? .connection : kind
    }

    public var isRetryable: Bool { kind == .connection || kind == .timeout }

    public var description: String {
        "\(kind) error" + (sqlState.map { " [\($0)]" } ?? "") + ": \(message)"
    }
}

/// A failure of the database, typed by what the caller can do about it
/// (SPEC §5.3 error classes).
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
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
        case other
    }

    public var kind: Kind
    public var sqlState: String?
    public var message: String

    public init(kind: Kind, sqlState: String?, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// The class of a SQLSTATE (SPEC §5.3).
    public static func kind(forSQLState state: String?) -> Kind {
        guard let state, state.count == 5 else { return .other }
        if state == "57014" { return .timeout }
        if state.hasPrefix("08") || state.hasPrefix("57P0") { return .connection }
        if state.hasPrefix("22") { return .data }
        if state.hasPrefix("23") { return .constraint }
        if state.hasPrefix("28") { return .auth }
        return .other
    }

    public var isRetryable: Bool { kind == .connection || kind == .timeout }

    public var description: String {
        "\(kind) error" + (sqlState.map { " [\($0)]" } ?? "") + ": \(message)"
    }
}

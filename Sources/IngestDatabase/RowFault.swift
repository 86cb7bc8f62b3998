extension DatabaseError {
    /// SQLSTATE classes whose errors are never the rows' fault: the
    /// connection (08), authentication (28), missing database or schema (3D,
    /// 3F), a transaction rolled back by the server (40: serialization,
    /// deadlock), exhausted resources (53: disk full, out of memory), an object
    /// not ready (55: lock not available), an operator's intervention (57), a
    /// system or I/O error (58), the server's configuration (F0) and internal
    /// errors (XX). A batch refused for one of these waits and is retried.
    static let notTheRowsClasses: Set<Substring> = ["08", "25", "28", "3D", "3F", "40", "53", "55", "57", "58", "F0", "XX"]

    /// Single SQLSTATEs that say the schema or the grants are wrong, not a row:
    /// permission denied, no such function or object. (No such table or
    /// column is `Kind.schema` already.)
    static let notTheRowsStates: Set<String> = ["42501", "42883", "42704"]

    /// Whether a batch error other than a data or constraint error may have
    /// been caused by the rows themselves: a trigger's `RAISE` (P0001), an index
    /// row too large (54000), a type mismatch a trigger hit (42804), … Such an
    /// error is blamed on the rows only when it happens again on a connection
    /// that answers (`PostgresTradeWriter`). Connection, timeout, authentication
    /// and schema errors never are.
    public var mayBeCausedByRows: Bool {
        guard kind == .other else { return false }
        guard let sqlState, sqlState.count == 5 else { return false }
        if Self.notTheRowsStates.contains(sqlState) { return false }
        return !Self.notTheRowsClasses.contains(sqlState.prefix(2))
    }

    /// The `reason` of a dead letter for a row refused with this error.
    var deadLetterReason: String {
        if isNoPartition { return "no_partition" }
        return kind == .other ? "rejected" : kind.rawValue
    }

    /// A row whose day has no partition of `options_trades` and may not get
    /// one (`TableRetention.creatableDays`): PostgreSQL's 23514 "no partition
    /// of relation … found for row". Told from a CHECK violation (also 23514)
    /// by the constraint the server names for the latter, not by the message,
    /// which is in the server's `lc_messages` language.
    var isNoPartition: Bool {
        sqlState == "23514" && (constraint ?? "").isEmpty
    }
}

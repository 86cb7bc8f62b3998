/// Which server is behind the PG wire connection (docs/design.md §3 `DB_FLAVOR`).
/// PostgreSQL takes COPY and transactions; QuestDB takes bound INSERTs only
/// and makes them idempotent with DEDUP keys (docs/design.md §5.3).
public enum DatabaseFlavor: String, Sendable, CaseIterable {
    case postgres
    case questdb

    /// The flavor a server reports in `SELECT version()`: QuestDB's answer
    /// imitates PostgreSQL's but names QuestDB.
    public static func detect(versionString: String) -> DatabaseFlavor {
        versionString.lowercased().contains("questdb") ? .questdb : .postgres
    }

    /// Asks the server (`DB_FLAVOR=auto`).
    public static func detect(conninfo: String) throws(DatabaseError) -> DatabaseFlavor {
        let rows = try PGConnection(conninfo: conninfo).query("SELECT version()")
        return detect(versionString: rows.first?.first.flatMap { $0 } ?? "")
    }

    /// Folder of this flavor's migrations inside `migrations/`.
    public var migrationsSubdirectory: String? {
        switch self {
        case .postgres: nil
        case .questdb: "questdb"
        }
    }
}

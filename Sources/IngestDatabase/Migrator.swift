#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// Applies the numbered SQL files of `migrations/` once each, in order,
/// recording them in `schema_migrations` (docs/design.md §2.1 `migrate`).
public struct Migrator: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Finds the migrations directory: the configured path if it exists,
    /// else a `migrations` folder beside the executable's package checkout.
    public static func locate(configured: String, executablePath: String = CommandLine.arguments[0]) -> String? {
        let fileManager = FileManager.default
        var isDirectory = false
        if fileManager.fileExists(atPath: configured, isDirectory: &isDirectory), isDirectory {
            return configured
        }
        var folder = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("migrations").path
            if fileManager.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// When the newest stored trade was received, and its feed time, if no
    /// `feed_gaps` row is open: the start of the gap a restart leaves (after
    /// a crash or `kill -9`). Read from `ingest_state` (one row, on the
    /// database's clock), never by scanning `options_trades`, so a start
    /// costs the same on a table of any size. QuestDB: the received time and
    /// `ts` of the newest trade by its designated timestamp (read from the
    /// last partition, not a scan; the writer's clock), unless a gap is open.
    public static func unrecordedRestartGap(conninfo: String, flavor: DatabaseFlavor = .postgres) throws -> UnrecordedGap? {
        let connection = try PGConnection(conninfo: conninfo)
        guard flavor == .questdb else {
            return IngestState.unrecordedGap(try connection.query(IngestState.unrecordedGapStart))
        }
        let open = try connection.query(QuestDBDialect.openGapCount).first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
        guard open == 0 else { return nil }
        let row = try connection.query(QuestDBDialect.lastReceived).first
        guard let received = row?.first.flatMap({ $0 }).flatMap({ Int64($0) }) else { return nil }
        // `ts` is the trade's `t` in µs.
        let lastTradeT = row.flatMap { $0.count > 1 ? $0[1] : nil }.flatMap { Int64($0) }.map { $0 / 1000 }
        return UnrecordedGap(start: .local(received), lastTradeT: lastTradeT)
    }

    /// The `.sql` files, sorted by name (their number).
    public func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
    }

    /// Applies every migration not yet recorded; returns the versions applied now.
    /// Concurrent runs wait for each other (advisory lock).
    public func apply(conninfo: String, flavor: DatabaseFlavor = .postgres, logger: Logger) throws -> [String] {
        if flavor == .questdb { return try applyQuestDB(conninfo: conninfo, logger: logger) }
        let connection = try PGConnection(conninfo: conninfo)
        try connection.execute("SELECT pg_advisory_lock(hashtext('ingest-options:migrate'))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('ingest-options:migrate'))") }
        try connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        let done = Set(try connection.query("SELECT version FROM schema_migrations").compactMap { $0.first ?? nil })
        var applied: [String] = []
        for file in try files() {
            let version = String(file.dropLast(4))
            guard !done.contains(version) else { continue }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            do {
                try connection.execute("BEGIN")
                try connection.execute(sql)
                _ = try connection.query("INSERT INTO schema_migrations (version) VALUES ($1)", [version])
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            logger.info("migration applied", metadata: ["version": "\(version)"])
            applied.append(version)
        }
        return applied
    }

    /// QuestDB: the files of `questdb/`, one statement per query, no
    /// transaction (QuestDB runs DDL outside them) and no advisory lock
    /// (`IF NOT EXISTS` keeps a concurrent second run harmless).
    func applyQuestDB(conninfo: String, logger: Logger) throws -> [String] {
        let connection = try PGConnection(conninfo: conninfo)
        let questDB = Migrator(directory: directory + "/" + (DatabaseFlavor.questdb.migrationsSubdirectory ?? ""))
        let files = try questDB.files()
        let done: Set<String>
        do {
            done = Set(try connection.query(QuestDBDialect.appliedMigrations).compactMap { $0.first ?? nil })
        } catch {
            done = []  // no schema_migrations yet: the first file creates it
        }
        var applied: [String] = []
        for file in files {
            let version = String(file.dropLast(4))
            guard !done.contains(version) else { continue }
            let sql = try String(contentsOfFile: questDB.directory + "/" + file, encoding: .utf8)
            for statement in QuestDBDialect.statements(of: sql) { try connection.execute(statement) }
            _ = try connection.query(QuestDBDialect.recordMigration, [version])
            logger.info("migration applied", metadata: ["version": "\(version)", "flavor": "questdb"])
            applied.append(version)
        }
        return applied
    }
}

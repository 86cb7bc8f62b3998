import OptionsFeed

/// What one round of table maintenance did (docs/design.md §4.3).
public struct TableMaintenanceReport: Sendable, Equatable {
    /// Daily partitions created ahead (`PARTITIONS_AHEAD_DAYS`), over every table partitioned by day.
    public var partitionsCreated = 0
    /// Partitions detached and dropped by `RETENTION_DAYS` (on QuestDB: the statement, once per round that ran it).
    public var partitionsDropped: [String] = []
    /// Side-table rows deleted by `SIDE_RETENTION_DAYS`, by table.
    public var sideRowsDeleted: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { partitionsCreated == 0 && partitionsDropped.isEmpty && sideRowsDeleted.values.allSatisfy { $0 == 0 } }
}

/// Table maintenance outside the writer's pool: `ingest-options migrate` and a start.
public enum TableMaintenance {
    /// Creates the daily partitions of today and `aheadDays` after it of every
    /// table partitioned by day; returns how many were new.
    public static func createPartitionsAhead(conninfo: String, retention: TableRetention, wallClock: WallClock = .system) throws(DatabaseError) -> Int {
        let connection = try PGConnection(conninfo: conninfo)
        let ahead = retention.daysAhead(today: TableRetention.day(ofMilliseconds: wallClock.nowMicros() / 1000))
        var created = 0
        for table in try PostgresDialect.partitioned(connection) {
            created += try PostgresDialect.ensurePartitions(of: table, days: ahead, connection: connection)
        }
        return created
    }
}

/// The side tables retention deletes from: the time column each is aged by,
/// and the rows it never deletes. An open gap (`ended_at IS NULL`) never
/// compares older than anything; a gap the backfill still has to do (`pending`,
/// or `failed`, which it retries) stays.
struct SideTable: Sendable {
    var name: String
    var timeColumn: String
    var keep: String?

    static let all: [SideTable] = [
        SideTable(name: "feed_gaps", timeColumn: "ended_at", keep: "(backfill IS NULL OR backfill NOT IN ('pending', 'failed'))"),
        SideTable(name: "dead_letters", timeColumn: "created_at"),
        SideTable(name: "price_staleness_alerts", timeColumn: "detected_at"),
        SideTable(name: "symbol_health_history", timeColumn: "\"timestamp\""),
        SideTable(name: "websocket_health_logs", timeColumn: "\"timestamp\""),
    ]
}

extension PostgresDialect {
    /// `$1`: the table; `$2`, `$3`: the first and last UTC day, as days since 1970-01-01 (`migrations/0007_daily_partitions.sql`).
    static let ensurePartitions =
        "SELECT ingest_ensure_partitions($1::regclass, date '1970-01-01' + $2::integer, date '1970-01-01' + $3::integer)"
    /// `$1`: the table; `$2`: the first UTC day kept; every partition ending at or before its start goes.
    static let dropPartitions =
        "SELECT ingest_drop_partitions($1::regclass, (date '1970-01-01' + $2::integer)::timestamp AT TIME ZONE 'UTC')"
    /// Which of the tables `$1` (text[]) exist partitioned (before 0007 `options_trades` is a plain table; before 0008 the others are not there).
    static let partitionedAmong =
        "SELECT c.relname::text FROM pg_class c WHERE c.relname = ANY ($1::text[]) AND c.relkind = 'p' AND pg_table_is_visible(c.oid) ORDER BY 1"

    /// The tables partitioned by UTC day of their time (docs/design.md §4.3, §4.4).
    static let partitionedTables = ["options_trades", "options_aggregates", "options_quotes", "options_fmv"]

    static func partitioned(_ connection: PGConnection) throws(DatabaseError) -> [String] {
        try connection.query(partitionedAmong, ["{" + partitionedTables.joined(separator: ",") + "}"]).compactMap { $0.first ?? nil }
    }

    /// Creates the missing daily partitions of `table` for `days`; how many were new.
    static func ensurePartitions(of table: String, days: ClosedRange<Int>, connection: PGConnection) throws(DatabaseError) -> Int {
        let rows = try connection.query(ensurePartitions, [table, String(days.lowerBound), String(days.upperBound)])
        return Int(rows.first?.first.flatMap { $0 } ?? "") ?? 0
    }
    /// A maintenance statement waits at most this long for a lock (a long read
    /// of an old partition): it is tried again next round instead of holding
    /// up every write queued behind it.
    static let maintenanceLockTimeout = "SET LOCAL lock_timeout = 5000"
    /// Rows deleted per statement: each delete is a short transaction of its own.
    static let sideDeleteChunk = 10_000

    static func deleteSide(_ table: SideTable) -> String {
        let old = "\(table.timeColumn) < 'epoch'::timestamptz + $1::bigint * interval '1 microsecond'"
        let condition = table.keep.map { "\(old) AND \($0)" } ?? old
        return "DELETE FROM \(table.name) WHERE ctid = ANY (ARRAY(SELECT ctid FROM \(table.name) WHERE \(condition) LIMIT \(sideDeleteChunk)))"
    }

    static func maintainTables(_ retention: TableRetention, nowMicros: Int64, connection: PGConnection) throws(DatabaseError) -> TableMaintenanceReport {
        var report = TableMaintenanceReport()
        let today = TableRetention.day(ofMilliseconds: nowMicros / 1000)
        let ahead = retention.daysAhead(today: today)
        for table in try partitioned(connection) {
            report.partitionsCreated += try inTransaction(connection) { () throws(DatabaseError) in
                try ensurePartitions(of: table, days: ahead, connection: connection)
            }
            if let firstKept = retention.firstTradeDayKept(today: today) {
                report.partitionsDropped += try inTransaction(connection) { () throws(DatabaseError) in
                    try connection.query(dropPartitions, [table, String(firstKept)]).compactMap { $0.first ?? nil }
                }
            }
        }
        if retention.sideDays > 0 {
            let horizon = String(nowMicros - Int64(retention.sideDays) * TableRetention.millisecondsPerDay * 1000)
            for table in SideTable.all {
                var deleted = 0
                while true {
                    let count = try connection.executeCounting(deleteSide(table), [horizon])
                    deleted += count
                    if count < sideDeleteChunk { break }
                }
                report.sideRowsDeleted[table.name] = deleted
            }
        }
        return report
    }

    /// `body` in a transaction of its own under `maintenanceLockTimeout`.
    private static func inTransaction<R>(_ connection: PGConnection, _ body: () throws(DatabaseError) -> R) throws(DatabaseError) -> R {
        _ = try connection.execute("BEGIN; " + maintenanceLockTimeout)
        do {
            let result = try body()
            _ = try connection.execute("COMMIT")
            return result
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}

extension QuestDBDialect {
    /// QuestDB partitions every table by its designated timestamp already
    /// (`migrations/questdb/`) and creates them as rows arrive: retention is
    /// `ALTER TABLE … DROP PARTITION WHERE` on it. QuestDB never drops the
    /// newest (active) partition, and the side tables' partitions are a month
    /// or a day: a month goes once its whole month is older than the horizon.
    static func dropPartitions(table: String, timestamp: String, beforeMicros: Int64) -> String {
        // yyyy-MM-dd:HH:mm:ss, the shape QuestDB's DROP PARTITION documentation uses.
        let text = CivilTime.isoTimestamp(micros: beforeMicros, precision: .milliseconds).prefix(19).replacing("T", with: ":")
        return "ALTER TABLE \(table) DROP PARTITION WHERE \(timestamp) < to_timestamp('\(text)', 'yyyy-MM-dd:HH:mm:ss')"
    }

    /// `micros` floored to the start of its UTC day, or of its month: a
    /// partition goes only when all of it is older than the horizon, however
    /// QuestDB compares a partition with the `WHERE`.
    static func floored(_ micros: Int64, toMonth: Bool) -> Int64 {
        let dayMicros = TableRetention.millisecondsPerDay * 1000
        let day = Int(TableRetention.day(ofMilliseconds: micros / 1000))
        guard toMonth else { return Int64(day) * dayMicros }
        let (year, month, _) = CivilTime.civilFromDays(Int64(day))
        return Int64(CivilTime.daysFromCivil(year: Int(year), month: Int(month), day: 1)) * dayMicros
    }

    /// The side tables partitioned by month (`migrations/questdb/0001_initial_schema.sql`); the others by day.
    static let monthlySideTables: Set<String> = ["feed_gaps", "price_staleness_alerts", "dead_letters"]

    /// The designated timestamps of the event tables, partitioned by day
    /// (`migrations/questdb/0001_initial_schema.sql`, `0005_event_tables.sql`).
    static let dayTimestamps: [(table: String, timestamp: String)] = [
        ("options_trades", "ts"), ("options_aggregates", "start_ts"), ("options_quotes", "ts"), ("options_fmv", "ts"),
    ]

    /// The designated timestamps of the side tables (`migrations/questdb/0001_initial_schema.sql`).
    static let sideTimestamps: [(table: String, timestamp: String)] = [
        ("feed_gaps", "started_at"), ("dead_letters", "created_at"), ("price_staleness_alerts", "detected_at"),
        ("symbol_health_history", "timestamp"), ("websocket_health_logs", "timestamp"),
    ]

    static func maintainTables(_ retention: TableRetention, nowMicros: Int64, connection: PGConnection) throws(DatabaseError) -> TableMaintenanceReport {
        var report = TableMaintenanceReport()
        let today = TableRetention.day(ofMilliseconds: nowMicros / 1000)
        var drops: [(String, String, Int64)] = []
        if let firstKept = retention.firstTradeDayKept(today: today) {
            let horizon = Int64(firstKept) * TableRetention.millisecondsPerDay * 1000
            drops += dayTimestamps.map { ($0.table, $0.timestamp, horizon) }
        }
        if retention.sideDays > 0 {
            let horizon = nowMicros - Int64(retention.sideDays) * TableRetention.millisecondsPerDay * 1000
            drops += sideTimestamps.map { ($0.table, $0.timestamp, floored(horizon, toMonth: monthlySideTables.contains($0.table))) }
        }
        var failure: DatabaseError?
        for (table, timestamp, before) in drops {
            do {
                _ = try connection.execute(dropPartitions(table: table, timestamp: timestamp, beforeMicros: before))
                report.partitionsDropped.append(table)
            } catch where error.message.lowercased().contains("no partitions matched") {
                continue  // nothing old enough yet
            } catch {
                failure = failure ?? error  // the other tables are still maintained
            }
        }
        if let failure { throw failure }
        return report
    }
}

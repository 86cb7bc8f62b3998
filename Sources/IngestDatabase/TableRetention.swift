import OptionsFeed
import Synchronization

/// Which days of `options_trades` have partitions and how long rows are kept
/// (docs/design.md §4.3): `PARTITIONS_AHEAD_DAYS`, `RETENTION_DAYS`,
/// `SIDE_RETENTION_DAYS`. Days are UTC days, counted from 1970-01-01. Pure.
public struct TableRetention: Sendable, Equatable {
    /// `PARTITIONS_AHEAD_DAYS`: partitions exist from today to this many days after it.
    public var aheadDays: Int
    /// `RETENTION_DAYS`: trade partitions whose whole range ends more than this
    /// many days before today's start are dropped; 0 keeps every day.
    public var tradeDays: Int
    /// `SIDE_RETENTION_DAYS`: rows of the side tables older than this many days are deleted; 0 keeps them.
    public var sideDays: Int

    /// A batch may create the partitions of at most this many days outside
    /// `nearDays` per maintenance round (an hour): a replay of old recordings
    /// or a backfill of last month gets its days, a corrupt feed whose trade
    /// times spread over decades does not make one partition per day of them.
    public static let farDaysPerRound = 64
    /// Days before today whose partitions a write creates without counting against `farDaysPerRound`.
    public static let nearPastDays = 7

    public static let millisecondsPerDay: Int64 = 86_400_000

    public init(aheadDays: Int = 3, tradeDays: Int = 0, sideDays: Int = 0) {
        self.aheadDays = aheadDays
        self.tradeDays = tradeDays
        self.sideDays = sideDays
    }

    /// The UTC day of a Unix time in milliseconds.
    public static func day(ofMilliseconds ms: Int64) -> Int {
        Int(ms >= 0 ? ms / millisecondsPerDay : (ms + 1) / millisecondsPerDay - 1)
    }

    /// The first day kept by `RETENTION_DAYS` on `today`: `today - tradeDays`
    /// (so `RETENTION_DAYS=1` keeps yesterday and today whole); `nil` keeps all.
    public func firstTradeDayKept(today: Int) -> Int? {
        tradeDays > 0 ? today - tradeDays : nil
    }

    /// The days a write may create a missing partition for on `today`: from
    /// the first day kept (or 1970-01-01, the first day a trade time may
    /// have: `OptionTrade.timestampRange`) to `today + aheadDays`. A trade of
    /// any other day has no partition and is dead-lettered (`no_partition`).
    public func creatableDays(today: Int) -> ClosedRange<Int> {
        let first = max(0, firstTradeDayKept(today: today) ?? 0)
        return first...max(first, today + aheadDays)
    }

    /// The days whose partitions a write creates without a limit: the last
    /// `nearPastDays` days, today and the days ahead.
    public func nearDays(today: Int) -> ClosedRange<Int> {
        (today - Self.nearPastDays)...(today + aheadDays)
    }

    /// The days created ahead at start and on every maintenance round.
    public func daysAhead(today: Int) -> ClosedRange<Int> {
        today...(today + aheadDays)
    }
}

/// The days this process knows to have a partition, shared by the writer's
/// sessions, so that a batch asks the database only for a day it has not met
/// (one set look-up per batch otherwise). Forgotten on each maintenance
/// round and when a row met no partition.
final class PartitionDays: Sendable {
    let retention: TableRetention
    private let state = Mutex<State>(State())

    private struct State {
        /// Per table, absent until asked: whether it is partitioned at all (before migration 0007
        /// `options_trades` is not; before 0008 the other event tables do not exist).
        var partitioned: [String: Bool] = [:]
        /// Per table, the days known to have a partition.
        var known: [String: Set<Int>] = [:]
        /// Days outside `nearDays` still allowed this round (`TableRetention.farDaysPerRound`).
        var farDaysLeft = TableRetention.farDaysPerRound
        /// Days `prepare` met outside `creatableDays`: their rows are dead-lettered without a write each.
        var refused: Set<Int> = []
        /// Far days already charged to `farDaysLeft` this round (kept by `forget`: a fresh look does not charge a day again).
        var farCharged: Set<Int> = []
        /// When the far-day budget was last refilled (Unix µs): once an hour, whatever maintenance does.
        var roundStartMicros: Int64?
    }

    init(retention: TableRetention) {
        self.retention = retention
    }

    /// The UTC days of the partition times of `records` (`StoredRecord.partitionMs`), each once, in order.
    static func days<R: StoredRecord>(of records: ArraySlice<R>) -> [Int] {
        guard let first = records.first else { return [] }
        var low = first.partitionMs, high = first.partitionMs
        for record in records {
            low = min(low, record.partitionMs)
            high = max(high, record.partitionMs)
        }
        let lowDay = TableRetention.day(ofMilliseconds: low), highDay = TableRetention.day(ofMilliseconds: high)
        if highDay - lowDay < 2 { return Array(lowDay...highDay) }
        // Spread over days: only those the rows hold (a corrupt time must not stand for the centuries between).
        return Set(records.map { TableRetention.day(ofMilliseconds: $0.partitionMs) }).sorted()
    }

    /// The days of `days` not met in `table` since the last `forget`; empty when the table is not partitioned.
    func unknown(_ days: [Int], table: String = "options_trades") -> [Int] {
        state.withLock { state in
            state.partitioned[table] == false ? [] : days.filter { !(state.known[table]?.contains($0) ?? false) }
        }
    }

    func learn(_ days: [Int], table: String = "options_trades") {
        state.withLock { $0.known[table, default: []].formUnion(days) }
    }

    func partitioned(_ table: String = "options_trades") -> Bool? {
        state.withLock { $0.partitioned[table] }
    }

    func setPartitioned(_ value: Bool, table: String = "options_trades") {
        state.withLock { $0.partitioned[table] = value }
    }

    /// After a row met no partition: what this process believed of the
    /// table may be stale (migration 0007 ran beside it, a partition was
    /// dropped by hand), so the next `prepare` asks again. The far days
    /// allowed this round stay used.
    func forget() {
        state.withLock { state in
            state.partitioned = [:]
            state.known = [:]
            state.refused = []
        }
    }

    /// The days `prepare` refused to create the partitions of (outside `creatableDays`), as one snapshot.
    var refusedDays: Set<Int> {
        state.withLock { $0.refused }
    }

    /// After a maintenance round: everything is asked again (the far-day budget refills on its own clock).
    func newRound() {
        forget()
    }

    /// Before a write of rows of `days` (`days(of:)`) on `connection`, outside
    /// any transaction: creates the partitions of the days `creatableDays`
    /// allows that this process has not met, one call per run of consecutive
    /// days. Rows of other days are left to fail and be dead-lettered one by one.
    func prepare(days: [Int], table: String = "options_trades", nowMicros: Int64, connection: PGConnection) throws(DatabaseError) {
        let missing = unknown(days, table: table)
        guard !missing.isEmpty else { return }
        if partitioned(table) == nil {
            let partitionedTables = try PostgresDialect.partitioned(connection)
            for name in PostgresDialect.partitionedTables { setPartitioned(partitionedTables.contains(name), table: name) }
            guard partitionedTables.contains(table) else { return }
        }
        let today = TableRetention.day(ofMilliseconds: nowMicros / 1000)
        let window = retention.creatableDays(today: today), near = retention.nearDays(today: today)
        let (allowed, settled) = state.withLock { state in
            // The budget refills once an hour of this clock, whether or not maintenance rounds succeed.
            if state.roundStartMicros.map({ nowMicros - $0 >= Self.roundMicros }) ?? true {
                state.roundStartMicros = nowMicros
                state.farDaysLeft = TableRetention.farDaysPerRound
                state.farCharged = []
            }
            var allowed: [Int] = [], overBudget: Set<Int> = []
            for day in missing where window.contains(day) {
                if near.contains(day) || state.farCharged.contains(day) {
                    allowed.append(day)
                } else if state.farDaysLeft > 0 {
                    state.farDaysLeft -= 1
                    state.farCharged.insert(day)
                    allowed.append(day)
                } else {
                    overBudget.insert(day)
                }
            }
            // Only days outside the window: a day past the far-day limit may still be covered (the legacy partition).
            state.refused.formUnion(missing.filter { !window.contains($0) })
            // A day over the budget is not learnt: it is asked again once the budget refills.
            return (allowed, missing.filter { !overBudget.contains($0) })
        }
        for run in Self.runs(allowed) {
            _ = try PostgresDialect.ensurePartitions(of: table, days: run, connection: connection)
        }
        learn(settled, table: table)
    }

    /// How often the far-day budget refills: an hour.
    static let roundMicros: Int64 = 3_600_000_000

    /// Sorted days as runs of consecutive days.
    static func runs(_ days: [Int]) -> [ClosedRange<Int>] {
        var runs: [ClosedRange<Int>] = []
        for day in days {
            if let last = runs.last, last.upperBound + 1 == day {
                runs[runs.count - 1] = last.lowerBound...day
            } else {
                runs.append(day...day)
            }
        }
        return runs
    }
}

import Synchronization

/// What `ingest-options replay` prints when it is done: one JSON line on
/// stdout (docs/design.md §5.6), so scripts (`scripts/bench`) and people read the same thing.
public struct ReplaySummary: Sendable, Equatable {
    /// Recorded frames replayed (lines that parsed, inside the time window).
    public var frames: Int
    /// Trade events in them, valid or not: `accepted + filtered + invalid`.
    public var trades: Int
    public var accepted: Int
    /// Below `POLYGON_OPTION_TRADE_VALUE_THRESHOLD`.
    public var filtered: Int
    /// Refused by the decoder (bad symbol, price, size, …); sent to `dead_letters`.
    public var invalid: Int
    /// Bar (`A`, `AM`), quote and FMV events, valid or not (docs/design.md §4.4).
    public var aggregates: Int
    public var quotes: Int
    public var fmv: Int
    /// Rows newly inserted into the tables of every type: 0 when they already held them all.
    public var rowsWritten: Int
    public var deadLetters: Int
    public var seconds: Double
    public var lines: Int
    /// Lines that are not a recorded frame, skipped (their numbers are logged).
    public var corruptLines: Int
    /// Last lines of an input cut off mid-line, skipped.
    public var truncatedLines: Int
    /// Recorded frames that are not valid feed JSON (counted like the live feed counts them).
    public var malformedFrames: Int
    /// Frames outside `--from`/`--to`.
    public var outsideWindow: Int
    /// Inputs that could not be read to their end (unreadable, bad gzip).
    public var inputErrors: Int
    /// Trades left in the spool at exit because the database did not take them in time.
    public var spooled: Int
    public var dropped: Int
    /// Every input was read to its end and every accepted trade reached the database.
    public var complete: Bool

    /// Rows written per second of the whole replay.
    public var rowsPerSecond: Double { seconds > 0 ? Double(rowsWritten) / seconds : 0 }

    public init(stats: IngestStats, counters: ReplayCounters, seconds: Double, spooled: Int, complete: Bool) {
        frames = stats.frames.load(ordering: .relaxed)
        trades = stats.tradesSeen.load(ordering: .relaxed)
        accepted = stats.tradesAccepted.load(ordering: .relaxed)
        filtered = stats.tradesFiltered.load(ordering: .relaxed)
        invalid = stats.tradesInvalid.load(ordering: .relaxed)
        aggregates = stats.aggregates.seen.load(ordering: .relaxed)
        quotes = stats.quotes.seen.load(ordering: .relaxed)
        fmv = stats.fairValues.seen.load(ordering: .relaxed)
        rowsWritten = stats.rowsInserted.load(ordering: .relaxed)
        deadLetters = stats.deadLetters.load(ordering: .relaxed)
        self.seconds = seconds
        lines = counters.lines.load(ordering: .relaxed)
        corruptLines = counters.corruptLines.load(ordering: .relaxed)
        truncatedLines = counters.truncatedLines.load(ordering: .relaxed)
        malformedFrames = stats.badFrames.count(.malformed)
        outsideWindow = counters.outsideWindow.load(ordering: .relaxed)
        inputErrors = counters.inputErrors.load(ordering: .relaxed)
        self.spooled = spooled
        dropped = stats.tradesDropped.load(ordering: .relaxed)
        self.complete = complete
    }

    /// The line printed on stdout: the fields docs/operations.md "Record and replay" names first, in its order.
    public var jsonLine: String {
        let fields: [(String, String)] = [
            ("frames", "\(frames)"), ("trades", "\(trades)"), ("accepted", "\(accepted)"), ("filtered", "\(filtered)"),
            ("invalid", "\(invalid)"), ("rows_written", "\(rowsWritten)"), ("dead_letters", "\(deadLetters)"),
            ("seconds", Self.decimal(seconds, places: 3)), ("rows_per_s", Self.decimal(rowsPerSecond, places: 1)),
            ("lines", "\(lines)"), ("corrupt_lines", "\(corruptLines)"), ("truncated_lines", "\(truncatedLines)"),
            ("malformed_frames", "\(malformedFrames)"), ("outside_window", "\(outsideWindow)"),
            ("input_errors", "\(inputErrors)"), ("spooled", "\(spooled)"), ("dropped", "\(dropped)"),
            ("complete", complete ? "true" : "false"), ("aggregates", "\(aggregates)"), ("quotes", "\(quotes)"), ("fmv", "\(fmv)"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A JSON number with a fixed number of decimals (no exponent, no locale).
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((value * scale).rounded())
        let whole = scaled / Int64(scale)
        let fraction = String(scaled % Int64(scale))
        guard places > 0 else { return "\(whole)" }
        return "\(whole).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }
}

/// Counts of the replay reader that the live pipeline's `IngestStats` has no place for.
public final class ReplayCounters: Sendable {
    public let lines = Atomic<Int>(0)
    public let corruptLines = Atomic<Int>(0)
    public let truncatedLines = Atomic<Int>(0)
    public let outsideWindow = Atomic<Int>(0)
    public let inputErrors = Atomic<Int>(0)
    /// Every input was read to its end (not stopped by a signal).
    public let finishedReading = Atomic<Bool>(false)

    public init() {}
}

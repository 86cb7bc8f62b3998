/// The feed-time range one backfill covers (docs/design.md §5.8.1), in the
/// feed's `t` (Unix ms), both ends inclusive, and the REST query bounds that
/// fetch exactly it.
///
/// A gap's window runs from the newest trade `t` before the gap minus the
/// margin to the first `t` after it plus the margin (`BACKFILL_MARGIN_MS`,
/// default 2000): the margin covers trades of the same millisecond as the
/// edges and a feed clock a little off the SIP's. A gap still open has no end.
public struct BackfillWindow: Sendable, Hashable, CustomStringConvertible {
    /// First millisecond, ≥ 0.
    public let fromMs: Int64
    /// Last millisecond, ≥ `fromMs`; `nil` for a window without end (a gap still open).
    public let toMs: Int64?

    /// The latest millisecond a window may reach: its nanoseconds (`toMs + 1`) × 10^6 still fit `Int64`.
    public static let latestMs: Int64 = Int64.max / 1_000_000 - 1

    /// The default margin around a gap (docs/design.md §5.8.1: `BACKFILL_MARGIN_MS` 2000).
    public static let defaultMarginMs: Int64 = 2000

    /// A window of explicit milliseconds (the `backfill --from --to` command), clamped to 0…`latestMs`;
    /// an end before the start gives the one millisecond `fromMs`.
    public init(fromMs: Int64, toMs: Int64?) {
        let from = min(max(fromMs, 0), Self.latestMs)
        self.fromMs = from
        self.toMs = toMs.map { min(max($0, from), Self.latestMs) }
    }

    /// The window of a gap: from `fromT` (the newest `t` before it) − margin
    /// to `toT` (the first `t` after it) + margin; `toT` `nil` while it is open.
    public init(gapFromT fromT: Int64, toT: Int64?, marginMs: Int64 = BackfillWindow.defaultMarginMs) {
        let margin = max(marginMs, 0)
        self.init(
            fromMs: fromT.subtractingReportingOverflow(margin).overflow ? 0 : fromT - margin,
            toMs: toT.map { $0.addingReportingOverflow(margin).overflow ? Self.latestMs : $0 + margin })
    }

    public func contains(ms: Int64) -> Bool {
        ms >= fromMs && toMs.map { ms <= $0 } ?? true
    }

    /// `timestamp.gte` of the REST query: the first nanosecond of `fromMs`.
    public var timestampGteNs: Int64 { fromMs * 1_000_000 }

    /// `timestamp.lt` of the REST query: the first nanosecond after `toMs`
    /// (every ns of the last ms is in), `nil` without end.
    public var timestampLtNs: Int64? { toMs.map { ($0 + 1) * 1_000_000 } }

    public var description: String { "[\(fromMs), \(toMs.map(String.init) ?? "open")] ms" }
}

import OptionsFeed

/// Which contracts one window is backfilled for (docs/design.md §5.8.1:
/// `BACKFILL=watched`, `BACKFILL_MAX_CONTRACTS` default 200).
///
/// First the contracts `WATCH_SYMBOLS` names, in its order; then the chain
/// snapshots of the underlyings it names, only contracts whose last trade is
/// at or after the window's start (a contract that last traded before it
/// cannot have traded in it), all underlyings together by day volume, most
/// first, then by ticker: when the bound cuts, it cuts the quietest contracts,
/// where the fewest trades are missing. Duplicates are taken once; tickers
/// that are no option symbol are left out.
public struct BackfillPlan: Sendable, Equatable {
    /// The contracts to backfill, at most `maxContracts`.
    public var chosen: [String]
    /// Contracts that qualified but were past the bound: logged, the gap `partial`.
    public var cut: [String]
    /// Tickers that are no option symbol (docs/design.md §4.2).
    public var rejected: [String]

    /// The default bound (docs/design.md §5.8.1: `BACKFILL_MAX_CONTRACTS` 200).
    public static let defaultMaxContracts = 200

    public init(chosen: [String], cut: [String] = [], rejected: [String] = []) {
        self.chosen = chosen
        self.cut = cut
        self.rejected = rejected
    }

    /// The plan for a window starting at `windowStartNs` (`BackfillWindow.timestampGteNs`).
    public init(
        explicit: [String], snapshot: [RESTSnapshotPage.Entry], windowStartNs: Int64,
        maxContracts: Int = BackfillPlan.defaultMaxContracts
    ) {
        let active =
            snapshot
            .filter { ($0.lastTradeSipNs ?? .min) >= windowStartNs }
            .sorted { ($1.dayVolume, $0.ticker) < ($0.dayVolume, $1.ticker) }
        var seen = Set<String>()
        var candidates: [String] = []
        var rejected: [String] = []
        for ticker in explicit + active.map(\.ticker) where seen.insert(ticker).inserted {
            if OptionSymbol(ticker) == nil {
                rejected.append(ticker)
            } else {
                candidates.append(ticker)
            }
        }
        let bound = min(max(maxContracts, 0), candidates.count)
        self.init(chosen: Array(candidates[..<bound]), cut: Array(candidates[bound...]), rejected: rejected)
    }
}

import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed
import Synchronization

/// How one window's backfill went.
public struct BackfillOutcome: Sendable, Equatable {
    public var window: BackfillWindow
    /// `done`, `partial` (contracts cut by `BACKFILL_MAX_CONTRACTS`) or `failed` (`error` says why).
    public var state: BackfillState
    /// Rows inserted, REST requests sent, contracts merged.
    public var rows = 0
    public var requests = 0
    public var contracts = 0
    /// REST trades that matched a stored row (streamed or backfilled before).
    public var matched = 0
    /// Identical trades past the 1024th in one millisecond: not inserted (docs/design.md §5.8.1).
    public var overRankLimit = 0
    /// Contracts past `BACKFILL_MAX_CONTRACTS`.
    public var cut: [String] = []
    /// Why it failed: the first failure, and how many contracts or underlyings failed; no secret.
    public var error: String?
    public var errorClass: ErrorClass?

    /// Nothing done yet: `state` with every count 0.
    public init(window: BackfillWindow, state: BackfillState) {
        self.window = window
        self.state = state
    }
}

/// Backfills one window for the watched contracts (docs/design.md §5.8.1):
/// the chain snapshots of the watched underlyings, the plan, then per
/// contract the REST trades of the window and one merge transaction. A
/// contract that fails does not stop the others; the window is then
/// `failed` and done again later (the contracts merged already insert nothing).
public struct BackfillRunner: Sendable {
    let configuration: BackfillService.Configuration
    let store: BackfillStore
    let client: RESTClient
    let progress: BackfillProgress?
    let wallClock: WallClock
    let logger: Logger

    public init(
        configuration: BackfillService.Configuration, store: BackfillStore, client: RESTClient, progress: BackfillProgress? = nil,
        wallClock: WallClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.client = client
        self.progress = progress
        self.wallClock = wallClock
        self.logger = logger
    }

    /// Backfills `window` for the contracts of `configuration.watched`; `gap`
    /// is the `feed_gaps` row it is for (logs only). Stops early when the task is cancelled.
    public func run(window: BackfillWindow, gap: Int64? = nil) async -> BackfillOutcome {
        var outcome = BackfillOutcome(window: window, state: .done)
        var failures: [(what: String, failure: BackfillFailure)] = []
        var snapshot: [RESTSnapshotPage.Entry] = []
        for underlying in configuration.underlyings {
            do {
                let fetch = try await client.snapshot(underlying: underlying)
                snapshot += fetch.entries
                count(requests: fetch.requests, into: &outcome)
            } catch {
                count(requests: error.requests, into: &outcome)
                failures.append((underlying, error))
            }
        }
        let plan = BackfillPlan(
            explicit: configuration.contracts, snapshot: snapshot, windowStartNs: window.timestampGteNs,
            maxContracts: configuration.maxContracts)
        outcome.cut = plan.cut
        progress?.update { $0.contractsPlanned += plan.chosen.count }
        if !plan.cut.isEmpty {
            logger.warning(
                "backfill bound reached; contracts left out of this gap",
                metadata: [
                    "gap": "\(gap.map(String.init) ?? "")", "cut": "\(plan.cut.count)", "first_cut": "\(plan.cut.prefix(5).joined(separator: ","))",
                    "max_contracts": "\(configuration.maxContracts)",
                ])
        }
        for ticker in plan.chosen {
            if Task.isCancelled { break }
            guard let symbol = OptionSymbol(ticker) else { continue }
            do {
                let fetch = try await client.trades(ticker: ticker, window: window)
                count(requests: fetch.requests, into: &outcome)
                // Only what the live path keeps: trades at or above the notional threshold (docs/design.md §4.2).
                let threshold = configuration.notionalThreshold
                let kept = threshold > 0 ? fetch.trades.filter { OptionTrade.notional(price: $0.price, size: $0.size) >= threshold } : fetch.trades
                let (merged, inserted) = try await merge(symbol: symbol, window: window, rest: kept)
                outcome.rows += inserted
                outcome.matched += merged.matched
                outcome.overRankLimit += merged.overRankLimit
                outcome.contracts += 1
                progress?.update {
                    $0.rowsInserted += inserted
                    $0.contractsMerged += 1
                }
                logger.debug(
                    "contract backfilled",
                    metadata: [
                        "symbol": "\(ticker)", "window": "\(window)", "rest_trades": "\(fetch.trades.count)", "matched": "\(merged.matched)",
                        "inserted": "\(inserted)", "requests": "\(fetch.requests)",
                    ])
            } catch let failure as BackfillFailure {
                count(requests: failure.requests, into: &outcome)
                failures.append((ticker, failure))
            } catch {
                failures.append((ticker, BackfillFailure(reason: "database: \(error)", errorClass: .database, requests: 0)))
            }
        }
        if outcome.overRankLimit > 0 {
            logger.warning(
                "more than 1024 identical trades in one millisecond; the rest not backfilled",
                metadata: ["gap": "\(gap.map(String.init) ?? "")", "left_out": "\(outcome.overRankLimit)"])
        }
        if let first = failures.first {
            outcome.state = .failed
            let more = failures.count > 1 ? " (and \(failures.count - 1) more)" : ""
            outcome.error = "\(first.what): \(first.failure.reason)\(more)"
            outcome.errorClass = first.failure.errorClass
        } else if Task.isCancelled {
            outcome.state = .pending
        } else if !plan.cut.isEmpty {
            outcome.state = .partial
        }
        return outcome
    }

    /// One contract's merge in one transaction: the merge's counts and the rows the database inserted.
    private func merge(symbol: OptionSymbol, window: BackfillWindow, rest: [RESTTrade]) async throws -> (BackfillMerge, Int) {
        let receivedAt = wallClock.nowMicros()
        let result = Mutex<BackfillMerge?>(nil)
        let inserted = try await store.merge(symbol: symbol, fromMs: window.fromMs, toMs: window.toMs ?? BackfillWindow.latestMs) { stored in
            let merge = BackfillMerge(symbol: symbol, window: window, stored: stored, rest: rest, receivedAtMicros: receivedAt)
            result.withLock { $0 = merge }
            return merge.inserts
        }
        return (result.withLock { $0 } ?? BackfillMerge(), inserted)
    }

    private func count(requests: Int, into outcome: inout BackfillOutcome) {
        outcome.requests += requests
        progress?.update { $0.requests += requests }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IngestDatabase
import IngestPipeline
import IngestService
import Logging
import OptionsFeed

/// The gap backfill's parts (docs/design.md §5.8.1): the REST client, the
/// store on a connection of its own, and the service that ties them to the
/// flusher's watermark.
extension IngestApp {
    struct Backfill {
        let service: BackfillService
        let client: RESTClient
        let store: BackfillStore
    }

    /// `nil` when the store refuses the flavor (checked before: PostgreSQL only).
    static func makeBackfill(
        _ settings: BackfillService.Configuration, conninfo: String, retention: TableRetention, watermark: CommitWatermark, role: InstanceRole,
        progress: BackfillProgress, errors: ErrorLog, wallClock: WallClock
    ) -> Backfill? {
        let logger = Logger(label: "backfill")
        guard let store = try? BackfillStore(conninfo: conninfo, flavor: .postgres, retention: retention, logger: logger) else { return nil }
        let client = RESTClient(
            endpoint: settings.endpoint, apiKey: settings.apiKey, requestsPerSecond: settings.requestsPerSecond, progress: progress,
            logger: logger)
        let service = BackfillService(
            configuration: settings, store: store, client: client, watermark: watermark, role: role, progress: progress, errors: errors,
            wallClock: wallClock, logger: logger)
        return Backfill(service: service, client: client, store: store)
    }
}

/// What `ingest-options backfill` was asked to do.
public struct BackfillRequest: Sendable {
    /// The window in feed time (Unix ms), both ends inclusive: no margin is added.
    public var fromMs: Int64
    public var toMs: Int64
    /// Contracts (`O:…`) and underlyings; `nil`: `WATCH_SYMBOLS`.
    public var symbols: [String]?
    /// Apply `migrations/` first (unless `--no-migrate`).
    public var migrate: Bool

    public init(fromMs: Int64, toMs: Int64, symbols: [String]? = nil, migrate: Bool = true) {
        self.fromMs = fromMs
        self.toMs = toMs
        self.symbols = symbols
        self.migrate = migrate
    }

    /// The first entry that looks like a contract (`O:`) but is none (docs/design.md §4.2).
    public static func badContract(in symbols: [String]) -> String? {
        symbols.first { $0.hasPrefix("O:") && OptionSymbol($0) == nil }
    }

    /// A time given on the command line: Unix milliseconds (feed time, as
    /// `feed_gaps.from_t` holds it) or UTC ISO 8601; `nil` for anything else.
    public static func parseTime(_ text: String) -> Int64? {
        let text = text.trimmingWhitespace()
        if let ms = Int64(text) { return ms >= 0 && ms <= BackfillWindow.latestMs ? ms : nil }
        return CivilTime.micros(iso: text).map { $0 / 1000 }
    }
}

extension IngestApp {
    /// Backfills one window by hand (docs/design.md §5.8.1), for the given
    /// contracts and underlyings, whether or not `BACKFILL` is on, and prints
    /// one JSON summary line on stdout. Safe beside a running service and
    /// when repeated: a merge inserts only what the table lacks, in one
    /// transaction per contract. Exit 0 when every contract was merged (some
    /// may have been cut by `BACKFILL_MAX_CONTRACTS`: `"cut"`), 64 for bad
    /// settings, 70 when migrations fail, 75 when a contract failed (`"error"`).
    public static func backfill(_ configuration: IngestConfiguration, request: BackfillRequest) async -> ExitStatus {
        let logger = Logger(label: "backfill")
        var settings = configuration.backfillSettings
        if let symbols = request.symbols { settings.watched = symbols }
        guard !settings.apiKey.isEmpty else {
            return refuse("\(Setting.apiKey.name): is required but not set", logger: logger)
        }
        guard !settings.watched.isEmpty else {
            return refuse("\(Setting.watchSymbols.name): names no contract or underlying (or give --symbols)", logger: logger)
        }
        let flavor = resolveFlavor(configuration)
        guard flavor == .postgres else {
            return refuse("\(Setting.backfill.name): needs PostgreSQL (QuestDB has no transactions for the merge)", logger: logger)
        }
        if request.migrate {
            do {
                _ = try migrate(configuration, flavor: flavor)
            } catch {
                logger.critical("migrations failed", metadata: ["error": "\(error)"])
                return .internalError
            }
        }
        guard let store = try? BackfillStore(conninfo: configuration.databaseURL, flavor: .postgres, retention: configuration.retention, logger: logger) else {
            return .internalError
        }
        let progress = BackfillProgress(enabled: true)
        let client = RESTClient(
            endpoint: settings.endpoint, apiKey: settings.apiKey, requestsPerSecond: settings.requestsPerSecond, progress: progress,
            logger: logger)
        var window = BackfillWindow(fromMs: request.fromMs, toMs: request.toMs)
        // Beside a running service, the window ends before its newest commit: later trades may still be in its
        // buffer, and a merge that does not count them would insert them a second time (docs/design.md §5.8.1).
        if let live = try? await store.liveTradeT(), let end = window.toMs, end >= live {
            logger.warning(
                "a service is streaming into this table; the window ends before its newest committed trade",
                metadata: ["to_t": "\(end)", "ends_at_t": "\(live - 1)"])
            guard live - 1 >= window.fromMs else {
                await store.shutdown()
                StandardStreams.output(BackfillOutcome(window: window, state: .done).jsonLine + "\n")
                return .clean
            }
            window = BackfillWindow(fromMs: window.fromMs, toMs: live - 1)
        }
        logger.info(
            "backfilling a window", metadata: ["window": "\(window)", "symbols": "\(settings.watched.joined(separator: ","))", "rest": "\(settings.endpoint)"])
        // On a terminal, one line on stderr rewritten every second (docs/operations.md "Backfill by hand").
        let ticker = isatty(STDERR_FILENO) == 1 ? Task { await showProgress(progress) } : nil
        let outcome = await BackfillRunner(configuration: settings, store: store, client: client, progress: progress, logger: logger)
            .run(window: window)
        ticker?.cancel()
        _ = await ticker?.value
        await client.shutdown()
        await store.shutdown()
        StandardStreams.output(outcome.jsonLine + "\n")
        return outcome.state == .failed ? .gaveUpReconnecting : .clean
    }

    /// Rewrites one progress line on stderr every second until cancelled, then ends it with a newline.
    private static func showProgress(_ progress: BackfillProgress) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            StandardStreams.error("\r" + progress.snapshot.progressLine)
        }
        StandardStreams.error("\r" + progress.snapshot.progressLine + "\n")
    }

    private static func refuse(_ line: String, logger: Logger) -> ExitStatus {
        StandardStreams.error("error: \(line)\n")
        logger.critical("bad configuration", metadata: ["error": "\(line)"])
        return .badConfiguration
    }
}

extension BackfillOutcome {
    /// The summary `ingest-options backfill` prints: one JSON object.
    var jsonLine: String {
        struct Line: Encodable {
            var from_t: Int64
            var to_t: Int64?
            var state: String
            var rows: Int
            var requests: Int
            var contracts: Int
            var matched: Int
            var cut: Int
            var over_rank_limit: Int
            var error: String?
        }
        let line = Line(
            from_t: window.fromMs, to_t: window.toMs, state: state.rawValue, rows: rows, requests: requests, contracts: contracts,
            matched: matched, cut: cut.count, over_rank_limit: overRankLimit, error: error)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(line)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension BackfillProgress.Snapshot {
    /// The `backfill` command's terminal line: contracts done of total, rows, requests, waits on the rate limit.
    var progressLine: String {
        "contracts \(contractsMerged)/\(contractsPlanned)  rows \(rowsInserted)  requests \(requests)  rate-limit waits \(rateLimited)"
    }
}

import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IngestApp

/// `ingest-options backfill --from T --to T` (docs/design.md §5.8.1): one window from the REST API, by hand.
struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch one window's trades from the REST API and merge into options_trades what the table lacks.",
        discussion: """
            For the contracts (O:…) and underlyings of --symbols or WATCH_SYMBOLS (an underlying's chain snapshot adds the \
            contracts that traded in the window), whether or not BACKFILL is on. Times are feed times, both ends inclusive, \
            no margin added. Safe to repeat and to run beside the service: trades already stored are matched, not inserted \
            again (backfilled rows have a negative seq), and while a service streams into the table the window ends \
            before its newest committed trade. Prints one JSON summary line on stdout. Needs POLYGON_API_KEY and \
            DATABASE_URL (PostgreSQL). Exit codes: 0 done, 64 bad usage, 70 migrations failed, 75 a contract failed (see "error").


            """ + Setting.helpText)

    @OptionGroup var settings: SettingFlags

    @Option(help: "Window start: Unix milliseconds (feed time, as feed_gaps.from_t) or UTC ISO 8601 (2026-11-24T14:30:00Z).")
    var from: String

    @Option(help: "Window end, included: Unix milliseconds or UTC ISO 8601.")
    var to: String

    @Option(help: "Comma-separated contracts (O:…) and underlyings; default WATCH_SYMBOLS.")
    var symbols: String?

    @Flag(name: .customLong("no-migrate"), help: "Do not apply migrations first.")
    var noMigrate = false

    func validate() throws {
        guard let start = BackfillRequest.parseTime(from) else {
            throw ValidationError("--from: \"\(from)\" is not Unix milliseconds or an ISO 8601 UTC time")
        }
        guard let end = BackfillRequest.parseTime(to) else {
            throw ValidationError("--to: \"\(to)\" is not Unix milliseconds or an ISO 8601 UTC time")
        }
        guard start <= end else { throw ValidationError("--from must not be after --to") }
        if let symbols {
            let list = symbolList(symbols)
            guard !list.isEmpty else { throw ValidationError("--symbols names no contract or underlying") }
            if let bad = BackfillRequest.badContract(in: list) {
                throw ValidationError("--symbols: \"\(bad)\" is not an option contract like O:SPY251219C00650000")
            }
        }
    }

    func run() async throws {
        let configuration = try settings.configuration(requireFeed: false)
        try IngestApp.bootstrapLogging(configuration, console: STDERR_FILENO)
        let request = BackfillRequest(
            fromMs: BackfillRequest.parseTime(from) ?? 0, toMs: BackfillRequest.parseTime(to) ?? 0, symbols: symbols.map(symbolList),
            migrate: !noMigrate)
        let status = await IngestApp.backfill(configuration, request: request)
        if status != .clean { throw ExitCode(status.rawValue) }
    }

    private func symbolList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

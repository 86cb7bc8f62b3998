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
import IngestPipeline

/// `ingest-options replay FILE…` (docs/design.md §2.1, §5.6): recorded frames through the live pipeline.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest recorded feed frames (written by --record) through the same decoder, filter, buffer and writer.",
        discussion: """
            Reads the files in the order given (`-` is standard input; gzip files are decompressed through `gzip -dc`), \
            as fast as the database takes the trades unless --speed is given, and prints one JSON summary line on stdout \
            (logs go to stderr and LOG_FILE). Needs DATABASE_URL, not POLYGON_API_KEY. RECORD_FILE is ignored. \
            Exit codes: 0 done, 64 bad usage, 70 migrations failed, 75 the database did not take every trade in time (the rest is in the spool).


            """ + Setting.helpText)

    @OptionGroup var settings: SettingFlags

    @Argument(help: "Recording files, oldest first (FILE.2 FILE.1 FILE); - for standard input.")
    var files: [String]

    @Option(help: "Replay at N× the recorded pace instead of as fast as possible (e.g. 1 for real time, 10 for a demo).")
    var speed: Double?

    @Option(help: "Only frames received at or after this time: UTC ISO 8601 (2026-11-24T14:30:00Z) or Unix microseconds.")
    var from: String?

    @Option(help: "Only frames received before this time: UTC ISO 8601 or Unix microseconds.")
    var to: String?

    @Flag(name: .customLong("no-migrate"), help: "Do not apply migrations first.")
    var noMigrate = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one recording file, or - for standard input") }
        guard files.filter({ $0 == "-" }).count <= 1 else { throw ValidationError("standard input (-) can be read only once") }
        for file in files where file != "-" {
            guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
        }
        if let speed, !(speed > 0 && speed.isFinite) { throw ValidationError("--speed must be a positive number") }
        if let from, ReplaySchedule.parseTime(from) == nil { throw ValidationError("--from: \"\(from)\" is not an ISO 8601 UTC time or Unix microseconds") }
        if let to, ReplaySchedule.parseTime(to) == nil { throw ValidationError("--to: \"\(to)\" is not an ISO 8601 UTC time or Unix microseconds") }
    }

    func run() async throws {
        let configuration = try settings.configuration(requireFeed: false)
        try IngestApp.bootstrapLogging(configuration, console: STDERR_FILENO)
        let schedule = ReplaySchedule(from: from.flatMap(ReplaySchedule.parseTime), to: to.flatMap(ReplaySchedule.parseTime), speed: speed)
        let status = await IngestApp.replay(configuration, request: ReplayRequest(inputs: files, schedule: schedule, migrate: !noMigrate))
        if status != .clean { throw ExitCode(status.rawValue) }
    }
}

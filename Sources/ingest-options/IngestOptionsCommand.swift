import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestApp

@main
struct IngestOptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-options",
        abstract: "Stream options trades from a Polygon-compatible WebSocket feed into PostgreSQL.",
        discussion: """
            Every flag has an environment twin (e.g. --polygon-api-key / POLYGON_API_KEY); \
            flags win over the environment, which wins over .env, which wins over defaults.
            Exit codes: 0 clean shutdown, 64 bad configuration, 70 internal error, \
            75 gave up reconnecting, 77 feed rejected the API key.


            """ + Setting.helpText,
        subcommands: [Migrate.self, Replay.self, Backfill.self]
    )

    @OptionGroup var settings: SettingFlags

    @Flag(name: .customLong("no-migrate"), help: "Do not apply migrations at start.")
    var noMigrate = false

    /// argument-parser gets the arguments without the settings' flags (`SettingFlags.commandLine` has those).
    static func main() async {
        await main(SettingFlags.commandLine.remaining)
    }

    func run() async throws {
        let configuration = try settings.configuration(requireFeed: true)
        try IngestApp.bootstrapLogging(configuration)
        let status = await IngestApp.run(configuration, migrate: !noMigrate)
        if status != .clean { throw ExitCode(status.rawValue) }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply migrations/ to the database (idempotent, recorded in schema_migrations).",
        discussion: Setting.helpText)

    @OptionGroup var settings: SettingFlags

    func run() async throws {
        let configuration = try settings.configuration(requireFeed: false)
        try IngestApp.bootstrapLogging(configuration)
        do {
            let applied = try IngestApp.migrate(configuration)
            print(applied.isEmpty ? "migrations: up to date" : "migrations applied: \(applied.joined(separator: ", "))")
        } catch let error as ConfigurationError {
            StandardStreams.error("error: \(error.description)\n")
            throw ExitCode(64)
        } catch {
            StandardStreams.error("error: migration failed: \(error)\n")
            throw ExitCode(70)
        }
    }
}

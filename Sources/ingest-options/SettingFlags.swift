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

/// Where the settings come from: the settings' flags (taken out of the
/// arguments by `Setting.split`, before argument-parser sees them), the
/// environment and a `.env` file. Flags win over the environment, which wins
/// over `.env`, which wins over the defaults (docs/design.md §3).
struct SettingFlags: ParsableArguments {
    @Option(name: .customLong("env-file"), help: "Read variables from this file (default: .env in the working directory, if present).")
    var envFile: String?

    /// The settings given as flags on this process's command line.
    static let commandLine: Setting.Arguments = {
        do {
            return try Setting.split(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            StandardStreams.error("error: \(error)\n")
            Glibc.exit(ExitStatus.badConfiguration.rawValue)
        }
    }()

    /// Loads the configuration or exits 64 with one line naming the variable.
    func configuration(requireFeed: Bool) throws -> IngestConfiguration {
        var dotEnv: [String: String] = [:]
        let path = envFile ?? ".env"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            dotEnv = ConfigurationSources.parseDotEnv(text)
        } else if envFile != nil {
            StandardStreams.error("error: --env-file: cannot read \(path)\n")
            throw ExitCode(64)
        }
        let sources = ConfigurationSources(
            flags: Self.commandLine.values, environment: ProcessInfo.processInfo.environment, dotEnv: dotEnv)
        do {
            return try IngestConfiguration(sources: sources, requireFeed: requireFeed)
        } catch {
            StandardStreams.error("error: \(error.description)\n")
            throw ExitCode(64)
        }
    }
}

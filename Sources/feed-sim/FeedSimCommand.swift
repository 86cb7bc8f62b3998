import ArgumentParser
import FeedSimulator
import Foundation
import Hummingbird
import Logging
import UnixSignals

@main
struct FeedSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed-sim",
        abstract: "A local Polygon-compatible options WebSocket feed with a deterministic, seeded trade stream.",
        discussion: """
            Prints {"event":"listening","port":N} once bound, and {"sent":…,"valid":…,"invalid":…} on exit \
            (SIGINT/SIGTERM or --exit-after-count).
            """
    )

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0 = any free port).") var port = 8765
    @Option(help: "Seed of the trade stream: same seed, same trades.") var seed: UInt64 = 1
    @Option(help: "Trades per second over all clients (0 = flat out).") var rate: Double = 1000
    @Option(help: "Stop sending after this many trades; clients stay connected.") var count: Int?
    @Option(help: "Distinct option contracts in the stream.") var symbols = 200
    @Option(help: "Share of deliberately invalid trades, 0…1.") var invalidFraction: Double = 0
    @Option(help: "Most events per frame.") var frameSize = 100
    @Option(help: "CSV of every trade written to a client (sym,t,q,p,s,x,valid,c).") var ledger: String?
    @Option(help: "A client authenticating with this key gets auth_failed.") var rejectKey: String?
    @Flag(help: "Exit once --count trades were written to clients.") var exitAfterCount = false
    @Option(help: "Log level of the simulator's own log (stderr).") var logLevel = "warning"

    func validate() throws {
        guard (0...1).contains(invalidFraction) else { throw ValidationError("--invalid-fraction must be within 0…1") }
        guard rate >= 0 else { throw ValidationError("--rate must be ≥ 0") }
        guard symbols >= 1, frameSize >= 1 else { throw ValidationError("--symbols and --frame-size must be ≥ 1") }
        if exitAfterCount, count == nil { throw ValidationError("--exit-after-count needs --count") }
    }

    func run() async throws {
        var logger = Logger(label: "feed-sim", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        var configuration = FeedSimulator.Configuration()
        configuration.seed = seed
        configuration.rate = rate
        configuration.count = count
        configuration.symbols = symbols
        configuration.invalidFraction = invalidFraction
        configuration.frameSize = frameSize
        configuration.rejectKey = rejectKey
        configuration.ledgerPath = ledger
        let simulator = try FeedSimulator(configuration: configuration)
        let server = SimServer(simulator: simulator, host: host, port: port, logger: logger)
        let app = server.application { port in
            FileHandle.standardOutput.write(Data(#"{"event":"listening","host":"\#(host)","port":\#(port)}"#.utf8 + [0x0A]))
        }
        let serverTask = Task { try await app.run() }

        let finish: @Sendable () async -> Never = {
            server.stop()
            // Give connections a moment to send their close frames.
            try? await Task.sleep(for: .milliseconds(300))
            simulator.closeLedger()
            FileHandle.standardOutput.write(Data(simulator.totals.json.utf8 + [0x0A]))
            Foundation.exit(0)
        }
        if exitAfterCount {
            Task {
                await simulator.waitUntilAllSent()
                await finish()
            }
        }
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        for await _ in signals {
            await finish()
        }
        _ = try await serverTask.value
    }
}

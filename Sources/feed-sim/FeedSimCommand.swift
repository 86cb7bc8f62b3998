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
        abstract: "A local Polygon-compatible options WebSocket feed and REST API with a deterministic, seeded trade stream.",
        discussion: """
            Prints {"event":"listening","host":…,"port":N} once bound, and \
            {"sent":…,"valid":…,"invalid":…,"connections":…,"skipped":…,"hostile":…,"forgotten":…,"rest_requests":…,\
            "rest_throttled":…,"rest_faults":…,"bars":…,"quotes":…,"fmv":…} on exit (SIGINT/SIGTERM or \
            --exit-after-count). With --rate > 0 the stream runs on the clock: trades that come due while no client \
            is subscribed are skipped (a gap in q), as on the real feed.

            Besides T trades a client may subscribe to A and AM bars of the stream's own trades, Q quotes \
            (named contracts only, at most 1 000 per connection: Q.* is refused with an error status and a \
            close) and FMV fair values (docs/feed-sim.md, "Other event types").

            On the same port, Polygon's REST API serves every valid trade of the stream, sent or skipped: \
            GET /v3/trades/{optionsTicker} and GET /v3/snapshot/options/{underlying} (docs/feed-sim.md).

            Fault options (for exercising a client's reconnect, watchdog and decoder paths) count time per \
            connection from its subscribe.
            """
    )

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0 = any free port).") var port = 8765
    @Option(help: "Seed of the trade stream: same seed, same trades.") var seed: UInt64 = 1
    @Option(help: "Trades per second over all clients (0 = flat out).") var rate: Double = 1000
    @Option(help: "Stop after this many trades were written to clients (skipped ones do not count); clients stay connected.")
    var count: Int?
    @Option(help: "Distinct option contracts in the stream.") var symbols = 200
    @Option(help: "Share of deliberately invalid trades, 0…1.") var invalidFraction: Double = 0
    @Option(help: "Most events per frame.") var frameSize = 100
    @Option(
        help: ArgumentHelp(
            "Fewest events per frame: each frame carries a seeded number between this and --frame-size (default: all full).",
            discussion: "At a set rate a frame is full at min(rate / 100, --frame-size) trades; the trades and their due times do not change.",
            valueName: "n"))
    var minFrameSize: Int?
    @Option(help: "CSV of every trade written to a client (sym,t,q,p,s,x,valid,c).") var ledger: String?
    @Option(help: "A client authenticating with this key gets auth_failed.") var rejectKey: String?
    @Option(
        help: ArgumentHelp(
            "CSV of the whole stream, sent or skipped (sym,t,q,p,s,x,valid,c,sent,sip_timestamp).",
            discussion: "One line per trade once its fate is known (written to a client: sent=1; skipped in a gap: sent=0).",
            valueName: "path"))
    var streamLedger: String?
    @Option(help: ArgumentHelp("Most trades the REST API's archive holds; past it the oldest are forgotten.", valueName: "n"))
    var archiveCap = StreamArchive.defaultCapacity
    @Option(
        help: ArgumentHelp(
            "The key the REST API accepts (apiKey=KEY or Authorization: Bearer KEY); default: any key but --reject-key.",
            valueName: "key"))
    var apiKey: String?
    @Option(help: ArgumentHelp("REST requests per second; beyond it HTTP 429 with Retry-After: 1 (default: unlimited).", valueName: "n"))
    var restRateLimit: Double?
    @Option(help: ArgumentHelp("Share of REST answers that are HTTP 500, 0…1 (seeded).", valueName: "share"))
    var restErrorFraction: Double = 0
    @Option(help: ArgumentHelp("Share of REST answers whose JSON body is cut in half, 0…1 (seeded).", valueName: "share"))
    var restTruncateFraction: Double = 0
    @Option(help: ArgumentHelp("Every REST answer waits this many seconds first.", valueName: "seconds"))
    var restDelay: Double?
    @Option(
        help: ArgumentHelp(
            "Quotes per second per connection, over the contracts it subscribed to with Q.O:… (round robin).",
            valueName: "n"))
    var quoteRate: Double = 100
    @Option(
        name: .customLong("fmv-rate"),
        help: ArgumentHelp("Fair values (FMV) per second per connection, over the contracts it subscribed to.", valueName: "n"))
    var fairValueRate: Double = 10
    @Option(
        help: ArgumentHelp(
            "CSV of every bar, quote and fair value written to a client, the event type first (no header).",
            discussion: "A/AM: ev,sym,s,e,o,h,l,c,v,vw,z,av,op,a; Q: ev,sym,t,q,bx,bp,bs,ax,ap,as; FMV: ev,sym,t,fmv (t in ns).",
            valueName: "path"))
    var eventLedger: String?
    @Flag(help: "Exit once --count trades were written to clients.") var exitAfterCount = false
    @Option(help: "Log level of the simulator's own log (stderr).") var logLevel = "warning"

    @Option(
        help: ArgumentHelp(
            "Close each streaming connection cleanly this many seconds after it subscribed.",
            discussion: "Every frame already written reaches the client first, then a close frame 1001 (goingAway).",
            valueName: "seconds"))
    var dropEvery: Double?
    @Option(
        help: ArgumentHelp(
            "Reset each streaming connection (TCP RST, no close frame) this many seconds after it subscribed.",
            discussion: "SO_LINGER {on, 0} and close; the ledger holds only trades written before the reset.",
            valueName: "seconds"))
    var resetEvery: Double?
    @Flag(
        help: ArgumentHelp(
            "After --fault-after seconds of streaming, go silent: no more data and no pongs.",
            discussion: "The server stops reading the socket, so pings go unanswered; it stays open until the client closes it."))
    var noPong = false
    @Option(help: ArgumentHelp("Seconds of streaming before --no-pong takes effect.", valueName: "seconds"))
    var faultAfter = Double(FaultPlan.defaultFaultAfter.components.seconds)
    @Option(
        help: ArgumentHelp(
            "Stop sending data this many seconds after a connection subscribed, but keep it open and answer pings.",
            valueName: "seconds"))
    var stallAfter: Double?
    @Option(help: ArgumentHelp("Every Nth frame to a client is malformed JSON (no trades, not in the ledger).", valueName: "n"))
    var garbageEvery: Int?
    @Option(
        help: ArgumentHelp(
            "Every Nth frame to a client is a ~1.5 MiB text frame, beyond a 1 MiB client limit (not in the ledger).",
            valueName: "n"))
    var oversizedEvery: Int?
    @Option(
        help: ArgumentHelp(
            "Every Nth frame to a client carries hostile trade events before its trades (not in the ledger).",
            discussion: """
                Well-formed JSON that no client may accept: 70 000 condition codes, a 70 000-byte symbol, a \
                12-character underlying, O:SPY251219X00650000, a lowercase symbol, a 7-digit strike; counted as \
                "hostile" in the exit line.
                """,
            valueName: "n"))
    var hostileEvery: Int?
    @Option(
        help: ArgumentHelp(
            "Live authenticated connections per API key (default: unlimited).",
            discussion: "One more makes the oldest with that key get status max_connections and a close frame, as on the real feed.",
            valueName: "n"))
    var maxConnections: Int?
    @Flag(
        help: ArgumentHelp(
            "Serve POST /control/fault/KIND (drop, reset, stall, silence): end every running stream that way now.",
            discussion: """
                For scripts/chaos: faults at chosen times without restarting the simulator (one ledger, q rising). \
                Also POST /control/rest/KIND?count=N[&seconds=S] (error, truncate, slow): the next N REST answers fail so.
                """))
    var control = false
    @Option(
        help: ArgumentHelp(
            "Refuse connections for this many seconds after start, then listen (the listening line is printed then).",
            valueName: "seconds"))
    var refuseFor: Double?

    /// The highest `--rate`: far above what a socket carries, and small enough
    /// that the pacing arithmetic stays in integer range (`inf` or `1e300` would trap it).
    static let maximumRate = 100_000_000.0
    /// The longest time option (~31 years): `Duration.seconds` of a larger
    /// Double overflows and traps.
    static let maximumSeconds = 1_000_000_000.0

    func validate() throws {
        guard (0...1).contains(invalidFraction) else { throw ValidationError("--invalid-fraction must be within 0…1") }
        guard rate >= 0, rate <= Self.maximumRate else { throw ValidationError("--rate must be within 0…\(Int(Self.maximumRate))") }
        for (name, share) in [("--rest-error-fraction", restErrorFraction), ("--rest-truncate-fraction", restTruncateFraction)] {
            guard (0...1).contains(share) else { throw ValidationError("\(name) must be within 0…1") }
        }
        guard restErrorFraction + restTruncateFraction <= 1 else {
            throw ValidationError("--rest-error-fraction plus --rest-truncate-fraction must be ≤ 1")
        }
        if let restRateLimit, !(restRateLimit > 0 && restRateLimit <= Self.maximumRate) {
            throw ValidationError("--rest-rate-limit must be > 0 and ≤ \(Int(Self.maximumRate))")
        }
        for (name, perSecond) in [("--quote-rate", quoteRate), ("--fmv-rate", fairValueRate)] {
            guard perSecond > 0, perSecond <= Self.maximumRate else {
                throw ValidationError("\(name) must be > 0 and ≤ \(Int(Self.maximumRate))")
            }
        }
        guard archiveCap >= 1 else { throw ValidationError("--archive-cap must be ≥ 1") }
        guard symbols >= 1, frameSize >= 1 else { throw ValidationError("--symbols and --frame-size must be ≥ 1") }
        if let minFrameSize, !(1...frameSize).contains(minFrameSize) {
            throw ValidationError("--min-frame-size must be within 1…--frame-size")
        }
        if exitAfterCount, count == nil { throw ValidationError("--exit-after-count needs --count") }
        for (name, seconds) in [
            ("--drop-every", dropEvery), ("--reset-every", resetEvery), ("--stall-after", stallAfter),
            ("--fault-after", faultAfter), ("--refuse-for", refuseFor), ("--rest-delay", restDelay),
        ] {
            if let seconds, !(seconds > 0 && seconds <= Self.maximumSeconds) {
                throw ValidationError("\(name) must be > 0 and ≤ \(Int(Self.maximumSeconds)) seconds")
            }
        }
        for (name, n) in [
            ("--garbage-every", garbageEvery), ("--oversized-every", oversizedEvery), ("--hostile-every", hostileEvery),
            ("--max-connections", maxConnections),
        ] {
            if let n, n < 1 { throw ValidationError("\(name) must be ≥ 1") }
        }
    }

    /// The fault options as the simulator's plan.
    var faults: FaultPlan {
        var plan = FaultPlan()
        plan.dropEvery = dropEvery.map { .seconds($0) }
        plan.resetEvery = resetEvery.map { .seconds($0) }
        plan.silenceAfter = noPong ? .seconds(faultAfter) : nil
        plan.stallAfter = stallAfter.map { .seconds($0) }
        plan.garbageEvery = garbageEvery
        plan.oversizedEvery = oversizedEvery
        plan.hostileEvery = hostileEvery
        plan.maxConnections = maxConnections
        plan.refuseFor = refuseFor.map { .seconds($0) }
        return plan
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
        configuration.minFrameSize = minFrameSize
        configuration.rejectKey = rejectKey
        configuration.ledgerPath = ledger
        configuration.streamLedgerPath = streamLedger
        configuration.archiveCapacity = archiveCap
        configuration.apiKey = apiKey
        configuration.restRateLimit = restRateLimit
        configuration.restFaults.errorFraction = restErrorFraction
        configuration.restFaults.truncateFraction = restTruncateFraction
        configuration.restFaults.delay = restDelay.map { .seconds($0) }
        configuration.faults = faults
        configuration.control = control
        configuration.quoteRate = quoteRate
        configuration.fairValueRate = fairValueRate
        configuration.eventLedgerPath = eventLedger
        let simulator = try FeedSimulator(configuration: configuration)
        let server = SimServer(simulator: simulator, host: host, port: port, logger: logger)
        let host = host
        let serverTask = Task {
            try await server.run { port in
                FileHandle.standardOutput.write(Data(#"{"event":"listening","host":"\#(host)","port":\#(port)}"#.utf8 + [0x0A]))
            }
        }

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

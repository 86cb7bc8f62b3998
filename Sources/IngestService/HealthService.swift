#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import OptionsFeed
import ServiceLifecycle
import UnixSignals

/// Keeps the health picture current and shows it (docs/design.md §5.4): every second
/// it advances alerts and staleness (`HealthMonitor.tick`); on SIGUSR1 it
/// prints the report as one JSON line on stdout and logs it (`HEALTH
/// REPORT`); every `HEALTH_REPORT_INTERVAL_MS` (5 min) it logs it. The signal
/// only wakes this service: the report is built here, off the hot path.
public struct HealthService: Service {
    let monitor: HealthMonitor
    let interval: Duration
    let tick: Duration
    let logger: Logger
    /// Writes the SIGUSR1 report on stdout: the log backend's console, so a
    /// report line never interleaves with a log line.
    let stdout: @Sendable (String) -> Void

    public init(
        monitor: HealthMonitor, interval: Duration = .seconds(300), tick: Duration = .seconds(1), logger: Logger,
        stdout: @escaping @Sendable (String) -> Void = { print($0) }
    ) {
        self.monitor = monitor
        self.interval = interval
        self.tick = tick
        self.logger = logger
        self.stdout = stdout
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals {
                    emit(toStdout: true)
                }
            }
            group.addTask {
                var nextReport = ContinuousClock.now.advanced(by: interval)
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    if Task.isCancelled { return }
                    monitor.tick(logger: logger)
                    if ContinuousClock.now >= nextReport {
                        emit(toStdout: false)
                        nextReport = ContinuousClock.now.advanced(by: interval)
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Builds the report; prints it on stdout (SIGUSR1) and logs it.
    func emit(toStdout: Bool) {
        let report = monitor.report()
        guard let data = try? JSONEncoder.health.encode(report) else { return }
        let json = String(decoding: data, as: UTF8.self)
        if toStdout { stdout(json) }
        logger.info("HEALTH REPORT", metadata: ["report": .stringConvertible(RawJSON(json)), "status": "\(report.status.rawValue)"])
    }
}

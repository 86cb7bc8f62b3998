import Foundation

extension ManagedProcess {
    /// Whether the child has a handler installed for `signal`: the `SigCgt` mask of
    /// `/proc/PID/status` (Linux). Before that, SIGUSR1 would end the child instead
    /// of asking it for a report.
    public func isCatching(_ signal: Int32) -> Bool {
        guard isRunning, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
            let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    /// The health reports an ingester printed on stdout so far: the objects with `uptime_s` and no
    /// `msg` (stdout also carries the log lines).
    public var healthReports: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["uptime_s"] != nil, object["msg"] == nil
            else { return nil }
            return object
        }
    }

    /// Asks a running ingester for its health report (SIGUSR1, once it catches it) and returns the report it prints.
    public func requestHealthReport(timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        _ = try await waitFor(timeout: timeout, what: "\(name) to catch SIGUSR1") { isCatching(SIGUSR1) ? true : nil }
        let before = healthReports.count
        signal(SIGUSR1)
        return try await waitFor(timeout: timeout, what: "a report from \(name) after SIGUSR1") {
            let reports = healthReports
            return reports.count > before ? reports.last : nil
        }
    }
}

import Foundation

/// The process's own resource use, read from `/proc/self` (docs/design.md §5.4
/// `system`: RSS, CPU %, threads, open file descriptors). Linux only.
public struct SystemSample: Sendable, Equatable {
    public var rssBytes: Int
    /// CPU time used since start, in seconds (user + system).
    public var cpuSeconds: Double
    public var threads: Int
    public var openFDs: Int

    /// Reads the current values; a value that cannot be read is 0.
    public static func read() -> SystemSample {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var sample = SystemSample(rssBytes: 0, cpuSeconds: 0, threads: 0, openFDs: 0)
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { sample.rssBytes = pages * pageSize }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3; utime 14, stime 15, num_threads 20.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 17, let user = Double(fields[11]), let system = Double(fields[12]), ticks > 0 {
                sample.cpuSeconds = (user + system) / ticks
                sample.threads = Int(fields[17]) ?? 0
            }
        }
        sample.openFDs = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1
        return sample
    }

    /// CPU % between two samples `wallSeconds` apart (100 % = one core busy).
    public static func cpuPercent(from earlier: SystemSample, to later: SystemSample, wallSeconds: Double) -> Double {
        guard wallSeconds > 0 else { return 0 }
        return max(0, (later.cpuSeconds - earlier.cpuSeconds) / wallSeconds * 100)
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's own resource use, read from `/proc/self` (docs/design.md §5.4
/// `system`: RSS, CPU %, threads, open file descriptors). Linux only.
public struct SystemSample: Sendable, Equatable {
    public var rssBytes: Int
    /// CPU time used since start, in seconds (user + system).
    public var cpuSeconds: Double
    public var threads: Int
    public var openFDs: Int

    /// Reads the current values; a value that cannot be read is 0. Called
    /// every second by the health tick, so it reads the files into a stack
    /// buffer and parses the numbers in place: no `String`, no Foundation
    /// file API, no array of directory entries (docs/design.md §7).
    public static func read() -> SystemSample {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Int(sysconf(Int32(_SC_CLK_TCK)))
        var sample = SystemSample(rssBytes: 0, cpuSeconds: 0, threads: 0, openFDs: 0)
        withProcFile("/proc/self/statm") { bytes in
            // size resident shared …: the second field, in pages.
            if let pages = field(1, of: bytes[...]) { sample.rssBytes = pages * pageSize }
        }
        withProcFile("/proc/self/stat") { bytes in
            // The command name may hold spaces and parentheses: fields count from the last ")".
            // After it: state is field 3 (index 0 here); utime 14, stime 15, num_threads 20.
            guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), ticks > 0 else { return }
            let rest = bytes[(close + 1)...]
            if let user = field(11, of: rest), let system = field(12, of: rest) {
                sample.cpuSeconds = Double(user + system) / Double(ticks)
                sample.threads = field(17, of: rest) ?? 0
            }
        }
        if let directory = opendir("/proc/self/fd") {
            var entries = 0
            while let entry = readdir(directory) {
                let name = entry.pointee.d_name.0
                if name != UInt8(ascii: ".") { entries += 1 }
            }
            closedir(directory)
            // The directory's own descriptor, open while it is read, is not one of the process's.
            sample.openFDs = max(0, entries - 1)
        }
        return sample
    }

    /// Calls `body` with the file's first 1 KiB (a `/proc` file of a few numbers); not at all if it cannot be read.
    private static func withProcFile(_ path: String, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            guard count > 0 else { return }
            body(UnsafeMutableBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// The `index`th space-separated field of `bytes` as a non-negative integer; `nil` if it is not one.
    static func field(_ index: Int, of bytes: Slice<UnsafeMutableBufferPointer<UInt8>>) -> Int? {
        var position = bytes.startIndex
        var current = 0
        while position < bytes.endIndex {
            while position < bytes.endIndex, bytes[position] == UInt8(ascii: " ") { position += 1 }
            guard position < bytes.endIndex else { return nil }
            if current == index {
                var value = 0
                var digits = 0
                while position < bytes.endIndex, let digit = Int(exactly: bytes[position] &- UInt8(ascii: "0")), digit < 10, digits < 18 {
                    value = value * 10 + digit
                    digits += 1
                    position += 1
                }
                return digits > 0 ? value : nil
            }
            while position < bytes.endIndex, bytes[position] != UInt8(ascii: " ") { position += 1 }
            current += 1
        }
        return nil
    }

    /// CPU % between two samples `wallSeconds` apart (100 % = one core busy).
    public static func cpuPercent(from earlier: SystemSample, to later: SystemSample, wallSeconds: Double) -> Double {
        guard wallSeconds > 0 else { return 0 }
        return max(0, (later.cpuSeconds - earlier.cpuSeconds) / wallSeconds * 100)
    }
}

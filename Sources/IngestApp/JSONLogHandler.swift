#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed
import Synchronization

/// How log lines are written (docs/design.md §5.4 Logs).
public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line: `ts`, `level`, `logger`, `msg`, then metadata.
    case json
    /// `ts LEVEL [logger] msg key=value …`, for people.
    case text
}

/// Where log lines go: the console (stdout, or stderr) and, optionally, a
/// file. Lines from many threads never interleave, and no logging thread ever
/// waits for the console: console lines queue for a writer thread of their
/// own and are dropped (counted in `consoleLinesDropped`) when the console
/// stops reading, so a stalled terminal or pipe cannot stop ingestion. The
/// file (`LOG_FILE`) keeps every line, in order: it is local I/O, written
/// under the sink's lock.
public final class LogSink: Sendable {
    /// The log file's descriptor, `nil` for none; its lock orders file and console lines alike.
    private let file: Mutex<Int32?>
    public let format: LogFormat
    /// The console: stdout for the service; stderr for `replay`, whose stdout
    /// carries only its JSON summary line.
    private let console: ConsoleWriter
    /// Stdout for `writeStdout` when the console is another descriptor; made on first use.
    private let stdout: Mutex<ConsoleWriter?>
    private let consoleCapacityBytes: Int

    /// The log file's mode whatever the umask: the owner writes, the owner's group (operators) reads, nobody else.
    public static let fileMode: mode_t = 0o640

    /// Opens (appends to) `filePath`, creating its directory and the file
    /// (mode 0640); `nil` or empty logs to the console only.
    /// - Parameter consoleCapacityBytes: console output that may wait for a slow console (1 MiB).
    public init(
        format: LogFormat, filePath: String?, console: Int32 = STDOUT_FILENO, consoleCapacityBytes: Int = 1 << 20
    ) throws {
        self.format = format
        self.consoleCapacityBytes = consoleCapacityBytes
        var descriptor: Int32? = nil
        if let filePath, !filePath.isEmpty {
            let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            descriptor = try Self.openLogFile(filePath)
        }
        self.file = Mutex(descriptor)
        self.console = ConsoleWriter(
            descriptor: console, capacityBytes: consoleCapacityBytes, summary: Self.droppedSummary(format: format))
        self.stdout = Mutex(console == STDOUT_FILENO ? self.console : nil)
    }

    /// Appends to `path`; a file made here gets `fileMode` exactly, and one that
    /// exists loses any access beyond it (it may hold lines of an older run).
    private static func openLogFile(_ path: String) throws -> Int32 {
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC
        var descriptor = open(path, flags | O_CREAT | O_EXCL, fileMode)
        if descriptor >= 0 {
            fchmod(descriptor, fileMode)
        } else if errno == EEXIST {
            descriptor = open(path, flags)
            var status = stat()
            if descriptor >= 0, fstat(descriptor, &status) == 0, status.st_mode & ~fileMode & 0o777 != 0 {
                fchmod(descriptor, status.st_mode & fileMode)
            }
        }
        guard descriptor >= 0 else {
            throw LogFileError(path: path, code: errno)
        }
        return descriptor
    }

    /// The line that reports console lines dropped, in the sink's format.
    private static func droppedSummary(format: LogFormat) -> @Sendable (Int) -> [UInt8] {
        { count in
            let line = JSONLogHandler.format(
                format: format, timestamp: JSONLogHandler.timestamp(), level: .warning, logger: "system",
                message: "\(count) console lines dropped",
                metadata: ["console_lines_dropped": "\(count)",
                           "note": "the console did not keep up; LOG_FILE has every line"])
            return Array((line + "\n").utf8)
        }
    }

    /// The sink `IngestApp.bootstrapLogging` made, for output that must not
    /// interleave with log lines (the SIGUSR1 report on stdout).
    public static let current = Mutex<LogSink?>(nil)

    /// Console lines dropped so far because the console did not keep up (or was closed).
    public var consoleLinesDropped: Int {
        let other = stdout.withLock { $0 }.flatMap { $0 === console ? nil : $0 }
        return console.dropped + (other?.dropped ?? 0)
    }

    /// Writes one line to stdout only, in order with log lines; never waits for stdout.
    public func writeStdout(_ line: String) {
        let writer = stdout.withLock { writer in
            if let writer { return writer }
            let made = ConsoleWriter(
                descriptor: STDOUT_FILENO, capacityBytes: consoleCapacityBytes, summary: Self.droppedSummary(format: format))
            writer = made
            return made
        }
        let bytes = Array((line + "\n").utf8)
        file.withLock { _ in writer.enqueue(bytes) }
    }

    /// Writes `line` on stdout through the current sink, or prints it when logging was not bootstrapped.
    public static func writeStdoutOrPrint(_ line: String) {
        if let sink = current.withLock({ $0 }) { sink.writeStdout(line) } else { print(line) }
    }

    /// Writes one log line to the file (all of it) and queues it for the console.
    public func write(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        file.withLock { file in
            if let file {
                // A full disk loses the line; logging must not fail the caller.
                try? DescriptorWrite.all(bytes, to: file)
            }
            console.enqueue(bytes)
        }
    }

    /// Waits until the console took every queued line, at most `timeout`
    /// (at exit: the last lines are not lost to a console that reads, and a
    /// stalled one does not hold the exit). `false` when time ran out.
    @discardableResult
    public func flushConsole(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        let other = stdout.withLock { $0 }.flatMap { $0 === console ? nil : $0 }
        let flushed = console.flush(until: deadline)
        return (other?.flush(until: deadline) ?? true) && flushed
    }
}

/// A swift-log handler writing JSON lines (or text) to a `LogSink`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let sink: LogSink

    public init(label: String, sink: LogSink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        sink.write(Self.format(
            format: sink.format, timestamp: Self.timestamp(), level: event.level, logger: label,
            message: "\(event.message)", metadata: merged))
    }

    /// Renders one line; pure, for tests.
    static func format(
        format: LogFormat, timestamp: String, level: Logger.Level, logger: String, message: String,
        metadata: Logger.Metadata
    ) -> String {
        switch format {
        case .json:
            var line = "{\"ts\":\(JSONString.quoted(timestamp)),\"level\":\(JSONString.quoted(level.rawValue)),\"logger\":\(JSONString.quoted(logger)),\"msg\":\(JSONString.quoted(message))"
            for key in metadata.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
                line += ",\(JSONString.quoted(key)):\(jsonValue(metadata[key]!))"
            }
            return line + "}"
        case .text:
            var line = "\(timestamp) \(level.rawValue.uppercased()) [\(logger)] \(message)"
            for key in metadata.keys.sorted() {
                line += " \(key)=\(metadata[key]!)"
            }
            return line
        }
    }

    static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text):
            // Counters and sizes logged as strings are written as JSON numbers.
            if let number = Int64(text) { return String(number) }
            return JSONString.quoted(text)
        case .stringConvertible(let raw as RawJSON):
            return raw.json
        case .stringConvertible(let convertible):
            if let number = convertible as? any BinaryInteger { return "\(number)" }
            if let number = convertible as? Double, number.isFinite { return "\(number)" }
            if let flag = convertible as? Bool { return flag ? "true" : "false" }
            return JSONString.quoted(convertible.description)
        case .array(let values):
            return "[" + values.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\(JSONString.quoted($0)):\(jsonValue(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// UTC, millisecond precision: `2026-11-24T06:02:57.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return CivilTime.isoTimestamp(micros: Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000), precision: .milliseconds)
    }
}

/// `LOG_FILE` cannot be opened for appending.
struct LogFileError: Error, CustomStringConvertible {
    let path: String
    let code: Int32
    var description: String { "cannot open the log file \(path): \(String(cString: strerror(code))) (errno \(code))" }
}

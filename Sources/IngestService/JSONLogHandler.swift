import Foundation
import Logging
import Synchronization

/// How log lines are written (SPEC §5.4 Logs).
public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line: `ts`, `level`, `logger`, `msg`, then metadata.
    case json
    /// `ts LEVEL [logger] msg key=value …`, for people.
    case text
}

/// Where log lines go: stdout (or stderr) and, optionally, a file. One lock
/// per line; lines from many threads never interleave.
public final class LogSink: Sendable {
    private let file: Mutex<UnsafeMutablePointer<FILE>?>
    public let format: LogFormat
    /// The console descriptor: stdout for the service; stderr for `replay`,
    /// whose stdout carries only its JSON summary line.
    private let console: Int32

    /// Opens (appends to) `filePath`, creating its directory; `nil` or empty logs to the console only.
    public init(format: LogFormat, filePath: String?, console: Int32 = STDOUT_FILENO) throws {
        self.format = format
        self.console = console
        var handle: UnsafeMutablePointer<FILE>? = nil
        if let filePath, !filePath.isEmpty {
            let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard let opened = fopen(filePath, "a") else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: filePath])
            }
            handle = opened
        }
        self.file = Mutex(handle)
    }

    /// The sink `IngestApp.bootstrapLogging` made, for output that must not
    /// interleave with log lines (the SIGUSR1 report on stdout).
    public static let current = Mutex<LogSink?>(nil)

    /// Writes one line to stdout only, under the same lock as log lines.
    public func writeStdout(_ line: String) {
        file.withLock { _ in Self.writeLine(line, to: STDOUT_FILENO, alsoTo: nil) }
    }

    public func write(_ line: String) {
        file.withLock { file in Self.writeLine(line, to: console, alsoTo: file) }
    }

    /// One line to `console` (all of it, across short writes) and to `file`.
    private static func writeLine(_ line: String, to console: Int32, alsoTo file: UnsafeMutablePointer<FILE>?) {
        var line = line
        line.append("\n")
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(console, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { break }
                offset += written
            }
            if let file {
                _ = fwrite(bytes.baseAddress, 1, bytes.count, file)
                fflush(file)
            }
        }
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
            var line = "{\"ts\":\(jsonString(timestamp)),\"level\":\(jsonString(level.rawValue)),\"logger\":\(jsonString(logger)),\"msg\":\(jsonString(message))"
            for key in metadata.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
                line += ",\(jsonString(key)):\(jsonValue(metadata[key]!))"
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
            return jsonString(text)
        case .stringConvertible(let raw as RawJSON):
            return raw.json
        case .stringConvertible(let convertible):
            if let number = convertible as? any BinaryInteger { return "\(number)" }
            if let number = convertible as? Double, number.isFinite { return "\(number)" }
            if let flag = convertible as? Bool { return flag ? "true" : "false" }
            return jsonString(convertible.description)
        case .array(let values):
            return "[" + values.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\(jsonString($0)):\(jsonValue(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// UTC, millisecond precision: `2026-11-24T06:02:57.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(millis, 3))Z"
    }
}

/// A metadata value that is already JSON (the health report inside its log
/// line): written as is in JSON format, as text in text format.
public struct RawJSON: CustomStringConvertible, Sendable {
    public let json: String
    public init(_ json: String) { self.json = json }
    public var description: String { json }
}

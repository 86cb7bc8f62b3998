import Foundation
import Logging
import Testing

@testable import IngestService

/// The one shape of an `ALERT` line (docs/operations.md §1).
@Suite("Alert log lines")
struct AlertLogTests {
    @Test("an alert line is msg ALERT at the level given, with its name, its state and its figures", arguments: [
        (AlertName.feedStale, AlertState.open, Logger.Level.warning), (.feedStale, .resolved, .notice),
        (.authenticationError, .open, .critical), (.recordingFailed, .open, .error),
    ])
    func shape(_ name: AlertName, _ state: AlertState, _ level: Logger.Level) throws {
        let logs = CapturedLogs()
        logs.logger("alerts").alert(name, state, level: level, metadata: ["silent_s": "130"])
        let line = try #require(logs.all.first)
        #expect(logs.all.count == 1)
        #expect(line.message == "ALERT")
        #expect(line.level == level)
        #expect(line.metadata == ["alert": name.rawValue, "state": state.rawValue, "silent_s": "130"])
    }

    @Test("the figures cannot overwrite the alert's name or state")
    func figuresDoNotOverwrite() throws {
        let logs = CapturedLogs()
        logs.logger("alerts").alert(.bufferHigh, .resolved, level: .notice, metadata: ["alert": "other", "state": "backoff"])
        let line = try #require(logs.all.first)
        #expect(line.metadata["alert"] == "buffer_high")
        #expect(line.metadata["state"] == "resolved")
    }

    @Test("alert names and states are the snake_case words the docs and log parsers use")
    func names() {
        #expect(AlertState.allCases.map(\.rawValue) == ["open", "resolved"])
        for name in AlertName.allCases {
            #expect(name.rawValue.allSatisfy { $0.isLowercase || $0 == "_" }, "\(name)")
        }
        #expect(Set(AlertName.allCases.map(\.rawValue)).count == AlertName.allCases.count)
    }
}

/// The operator's table of alerts lists every alert the service can raise.
@Suite("Alert documentation")
struct AlertDocumentationTests {
    static let operations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/operations.md")

    @Test("the alert table in docs/operations.md has one row per alert name, and no other")
    func everyAlertHasARow() throws {
        let lines = try String(contentsOf: Self.operations, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0.hasPrefix("| alert | opens when |") }, "no alert table")
        let rows = lines[header...].dropFirst(2).prefix { $0.hasPrefix("|") }
        let documented = rows.map { String($0.dropFirst(3).prefix { $0 != "`" }) }
        #expect(documented.sorted() == AlertName.allCases.map(\.rawValue).sorted())
    }
}

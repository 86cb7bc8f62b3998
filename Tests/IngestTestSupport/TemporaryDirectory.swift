import Foundation
import Testing

/// A fresh directory for each test, removed when the test ends, whether it
/// passed, failed or threw. On a suite it applies to every test in it:
/// `@Suite(.temporaryDirectory("status"))`, and the tests read
/// `TemporaryDirectory.current`.
public struct TemporaryDirectory: TestTrait, SuiteTrait, TestScoping {
    /// The directory of the test running in this task, if it has one.
    @TaskLocal public static var current: URL?

    /// The start of the directory's name, to tell the tests' directories apart.
    public let prefix: String
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite's scope holds no directory; each of its test cases gets its own.
        guard testCase != nil else { return try await function() }
        try await withTemporaryDirectory(prefix) { directory in
            try await Self.$current.withValue(directory) { try await function() }
        }
    }

    /// The directory of the running test; fails the test when it has no `.temporaryDirectory` trait.
    public static func required() throws -> URL {
        guard let current else { throw TestSetupError("this test has no .temporaryDirectory trait") }
        return current
    }
}

extension Trait where Self == TemporaryDirectory {
    /// A fresh temporary directory for each test, removed when it ends (see `TemporaryDirectory`).
    public static func temporaryDirectory(_ prefix: String) -> Self { TemporaryDirectory(prefix: prefix) }
}

/// Runs `body` with a new empty directory and removes the directory afterwards, even when `body` throws
/// (unless `KEEP_TEST_DIRECTORIES` is set: then the logs and files of a run stay for a look).
public func withTemporaryDirectory<T>(_ prefix: String, _ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRECTORIES"] == nil { try? FileManager.default.removeItem(at: directory) } }
    return try await body(directory)
}

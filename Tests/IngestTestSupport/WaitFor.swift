/// Polls `probe` every 50 ms until it returns a value, and returns that value;
/// throws after `timeout`. End-to-end tests wait for a condition with this
/// instead of sleeping for a time that is long enough on a fast machine only.
public func waitFor<T>(
    timeout: Duration, what: String, every interval: Duration = .milliseconds(50), _ probe: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while true {
        if let value = try await probe() { return value }
        guard ContinuousClock.now < deadline else { throw TestSetupError("timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

/// Runs `body`, then `cleanup`, also when `body` throws: a `defer` that can await
/// (stopping a private Postgres server runs a script).
public func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}

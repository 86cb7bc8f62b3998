import IngestPipeline
import Synchronization

/// Broadcasts status events to the `/events` clients (docs/design.md §5.4 status
/// server). Each client has its own bounded queue: publishing never waits, so
/// a slow or gone client never blocks the pipeline; a client whose queue is
/// full is dropped (its stream ends) and counted.
public final class EventHub: Sendable {
    /// Events one client may have waiting before it is dropped.
    public static let clientQueueLimit = 256

    private struct State {
        var clients: [Int: AsyncStream<String>.Continuation] = [:]
        var nextID = 0
        var dropped = 0
    }

    private let state = Mutex(State())
    /// Wakes the one task in `waitForClient`.
    private let clientArrived = Wakeup()

    public init() {}

    /// A new client's stream of events (already formatted SSE text).
    public func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(Self.clientQueueLimit))
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.clients[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.clients.removeValue(forKey: id) }
        }
        clientArrived.signal()
        return stream
    }

    /// Returns once a client is subscribed (at once if one is), or when the
    /// task is cancelled. With nobody listening, the status server's ticker
    /// waits here instead of waking every interval. One waiting task at a time.
    public func waitForClient() async {
        while clientCount == 0, !Task.isCancelled {
            await clientArrived.wait()
        }
    }

    /// Sends `event` to every client; a client that cannot take it is dropped.
    public func publish(_ event: String) {
        let clients = state.withLock { $0.clients }
        var full: [Int] = []
        for (id, continuation) in clients {
            if case .dropped = continuation.yield(event) { full.append(id) }
        }
        guard !full.isEmpty else { return }
        let finished: [AsyncStream<String>.Continuation] = state.withLock { state in
            state.dropped += full.count
            return full.compactMap { state.clients.removeValue(forKey: $0) }
        }
        finished.forEach { $0.finish() }
    }

    public var clientCount: Int { state.withLock { $0.clients.count } }
    /// Clients dropped because they did not keep up.
    public var droppedClients: Int { state.withLock { $0.dropped } }

    /// One Server-Sent Event: `event: NAME` and its data line.
    public static func format(event: String, data: String) -> String {
        "event: \(event)\ndata: \(data)\n\n"
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestPipeline
import Logging
import NIOCore
import NIOPosix
import OptionsFeed
import Synchronization

/// Why the feed service stopped for good.
public enum FeedError: Error, Sendable, CustomStringConvertible {
    /// The feed rejected the key (`auth_failed`, `auth_timeout`): exit 77, no retry (docs/design.md §5.1).
    case authenticationRejected(String)
    /// `WS_MAX_RECONNECT_ATTEMPTS` consecutive attempts failed: exit 75 (docs/design.md §2.2).
    case gaveUp(String)

    public var description: String {
        switch self {
        case .authenticationRejected(let message): "the feed rejected the API key: \(message)"
        case .gaveUp(let reason): "gave up reconnecting: \(reason)"
        }
    }
}

/// One connection to the feed: connect, wait for `connected`, authenticate,
/// subscribe, then stream frames into the intake until the socket ends or a
/// step takes too long (docs/design.md §5.1 wire protocol). Each attempt owns its event
/// loop, so a hung TCP connect or upgrade is ended by shutting that loop down.
public struct FeedSession: Sendable {
    public typealias Failure = FeedMonitor.Machine.Failure
    public let configuration: FeedSessionConfiguration
    let intake: FeedIntake
    let monitor: FeedMonitor
    /// Appends every text frame to the recording (`--record`), if any.
    let recorder: FrameRecorder?
    let logger: Logger
    let badFrameLog = LogThrottle<BadFrameKind>()
    /// Stamps each frame's receive time (`received_at`) and the gaps the feed service opens.
    public let wallClock: WallClock

    public init(
        configuration: FeedSessionConfiguration, intake: FeedIntake, monitor: FeedMonitor, recorder: FrameRecorder? = nil,
        wallClock: WallClock = .system, logger: Logger
    ) {
        self.wallClock = wallClock
        self.configuration = configuration
        self.intake = intake
        self.monitor = monitor
        self.recorder = recorder
        self.logger = logger
    }

    /// What one attempt knows while it runs: the watchdog and how it ended.
    final class Attempt: Sendable {
        struct State {
            var watchdog: SessionWatchdog<ContinuousClock.Instant>
            var failure: Failure?
            var streaming = false
        }

        let state: Mutex<State>
        let mask: SecretMask

        init(watchdog: SessionWatchdog<ContinuousClock.Instant>, mask: SecretMask) {
            state = Mutex(State(watchdog: watchdog))
            self.mask = mask
        }

        /// Records how the attempt ended, its reason masked (it may echo the URL or the key); the first reason wins.
        func end(_ failure: Failure) {
            let masked: Failure = switch failure {
            case .connection(let reason): .connection(mask(reason))
            case .takenOver(let reason): .takenOver(mask(reason))
            case .rejected(let reason): .rejected(mask(reason))
            }
            state.withLock { if $0.failure == nil { $0.failure = masked } }
        }

        var failure: Failure? { state.withLock { $0.failure } }

        /// The task putting records into a full buffer (no spool) while the connection's reads are off.
        private let handOffTask = Mutex<Task<Void, Never>?>(nil)

        func handOff(_ task: Task<Void, Never>) {
            handOffTask.withLock { $0 = task }
        }

        /// Waits for the records being put in, if any.
        func handedOff() async {
            await handOffTask.withLock { $0 }?.value
        }

        /// A stop while records wait for room: the waiting ends and the rest is counted as dropped.
        func cancelHandOff() {
            handOffTask.withLock { $0 }?.cancel()
        }
    }

    /// What ends the wait for one connection attempt: the client ended, the
    /// watchdog ended it, the session was cancelled; then, while the client
    /// is being stopped, its close grace ran out, or it was abandoned.
    private enum AttemptEnd: Sendable {
        case client, watchdog, cancelled, grace, abandoned
    }

    /// How long a streaming connection that is being ended may take to close
    /// before its event loop is shut down under it (the close handshake waits 2 s).
    static let closeGrace: Duration = .seconds(3)

    /// Runs one attempt to its end and says how it ended; `wasStreaming` tells
    /// whether data flowed (a gap opens only when a streaming connection is lost).
    public func runAttempt() async -> (failure: Failure, wasStreaming: Bool) {
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let attempt = Attempt(watchdog: SessionWatchdog(configuration: configuration.watchdog, now: .now), mask: configuration.mask)
        let session = self
        let loop = eventLoops.next()
        // The frame parser's limit is kept well above ours, so that a frame a little over
        // WS_MAX_FRAME_BYTES is counted and skipped, not fatal to the connection.
        let maxFrameSize = max(configuration.maxFrameBytes * 4, 4 << 20)
        // The client and the watchdog run as separate tasks that report to `ended`; the attempt
        // ends with the first of them. Not a task group: a group waits for every child, and a
        // client stuck in a connect whose event loop was shut down under it would then hang the
        // feed service, and with it SIGTERM, for ever.
        let (ended, finished) = AsyncStream<AttemptEnd>.makeStream()
        let client = Task {
            do {
                let target = try FeedSocket.Target(url: session.configuration.url)
                // Frames are read, decoded and buffered on the connection's thread (FeedFrameHandler).
                let channel = try await FeedSocket.connect(to: target, on: loop) {
                    FeedFrameHandler(session: session, attempt: attempt, maxFrameSize: maxFrameSize)
                }
                try await withTaskCancellationHandler {
                    try await channel.closeFuture.get()
                    // Records still waiting for room in the buffer (no spool) are put in before the attempt ends.
                    await attempt.handedOff()
                } onCancel: {
                    attempt.cancelHandOff()
                    channel.eventLoop.execute {
                        guard let handler = try? channel.pipeline.syncOperations.handler(type: FeedFrameHandler.self) else {
                            channel.close(promise: nil)
                            return
                        }
                        handler.close()
                    }
                }
            } catch {
                attempt.end(.connection("\(error)"))
            }
            finished.yield(.client)
        }
        let watchdog = Task {
            await session.watch(attempt)
            finished.yield(.watchdog)
        }
        var events = ended.makeAsyncIterator()
        let first = await withTaskCancellationHandler {
            await events.next()
        } onCancel: {
            finished.yield(.cancelled)
        }
        // End the other one: cancel the client, then shut its event loop down, which is what stops a
        // hung connect or upgrade (the library ignores cancellation there). Wait for the client a
        // bounded time; one that still does not end 4 s later is abandoned with its (shut down) loop.
        client.cancel()
        watchdog.cancel()
        var loopShutDown = false
        if first != .client {
            // A streaming client ends on cancellation within moments (its close handshake waits at most 2 s);
            // a hung connect or upgrade needs its loop shut down at once.
            let streamed = attempt.state.withLock { $0.streaming }
            let grace = Task {
                try? await Task.sleep(for: streamed ? Self.closeGrace : .milliseconds(100))
                finished.yield(.grace)
                try? await Task.sleep(for: .seconds(4))
                finished.yield(.abandoned)
            }
            waiting: while let next = await events.next() {
                switch next {
                case .client:
                    break waiting
                case .grace:
                    try? await eventLoops.shutdownGracefully()
                    loopShutDown = true
                case .abandoned:
                    logger.warning("a WebSocket attempt did not end after its event loop was shut down; abandoned")
                    break waiting
                default:
                    continue
                }
            }
            grace.cancel()
        }
        if !loopShutDown { try? await eventLoops.shutdownGracefully() }
        finished.finish()
        let (failure, streaming) = attempt.state.withLock { ($0.failure, $0.streaming) }
        return (failure ?? .connection("connection ended"), streaming)
    }

    /// Sleeps until the watchdog's next deadline and acts on its verdict, until
    /// it aborts the attempt or the attempt ends (cancellation).
    private func watch(_ attempt: Attempt) async {
        while !Task.isCancelled {
            let (next, settled) = attempt.state.withLock {
                ($0.watchdog.nextCheck, $0.watchdog.phase == .streaming && !$0.watchdog.isStaleAlertOpen)
            }
            // During the handshake, re-check at least every 250 ms: a phase change can bring the deadline
            // forward; so can data after a stale alert (it resolves the alert). Streaming with no alert open,
            // data only moves the deadline later: sleep until it, so an idle feed wakes nobody (docs/design.md §7).
            let now = ContinuousClock.now
            let wake = max(next, now.advanced(by: .milliseconds(10)))
            do {
                try await Task.sleep(until: settled ? wake : min(wake, now.advanced(by: .milliseconds(250))), clock: .continuous)
            } catch {
                return
            }
            let verdict = attempt.state.withLock { $0.watchdog.check(now: .now) }
            switch verdict {
            case .fine:
                continue
            case .stale(let silence):
                intake.stats.staleAlerts.add(1)
                logger.alert(
                    .feedStale, .open, level: .warning,
                    metadata: ["silent_s": "\(silence.components.seconds)",
                               "reconnect_after_s": "\(configuration.watchdog.reconnectAfter.components.seconds)"])
            case .recovered:
                logger.alert(.feedStale, .resolved, level: .notice)
            case .abort(let reason):
                attempt.end(.connection(reason))
                logger.warning("feed attempt aborted", metadata: ["reason": "\(reason)"])
                return
            }
        }
    }

    /// Events of a type the decoder does not know: counted, and logged at most once a minute.
    func unknownEvents(_ unknown: Int) {
        guard unknown > 0 else { return }
        intake.stats.badFrames.add(.unknownEvent, unknown)
        if let suppressed = badFrameLog.admit(.unknownEvent) {
            logger.info("unknown feed events skipped", metadata: ["events": "\(unknown)", "suppressed": "\(suppressed)"])
        }
    }

    func badFrame(_ kind: BadFrameKind, _ metadata: Logger.Metadata) {
        intake.stats.badFrames.add(kind)
        intake.health?.errors.record(.data, message: "bad frame: \(kind.rawValue)")
        guard let suppressed = badFrameLog.admit(kind) else { return }
        var metadata = metadata
        metadata["kind"] = "\(kind.rawValue)"
        metadata["count"] = "\(intake.stats.badFrames.count(kind))"
        metadata["suppressed"] = "\(suppressed)"
        logger.warning("bad frame skipped", metadata: metadata)
    }
}

import IngestDatabase
import IngestPipeline
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the feed only while this instance holds the leader lock
/// (`HA_MODE=leader`, docs/design.md §5.5). It drives the `LeaderElection` machine: a
/// standby asks for the lock every `HA_RETRY_MS`; the leader runs the
/// `FeedService` in a task of its own and checks the lock every `HA_CHECK_MS`;
/// a lost lock connection, or no good check for `HA_LEASE_MS`, cancels that
/// task at once (what it read stays in the buffer and is written or spooled
/// as usual) and the instance is a standby again.
///
/// Gaps: the new leader records the time between the previous leader's last
/// stored trade and its own first one as a `failover` gap (`restart` when it
/// got the lock at its very first attempt: nobody was leading), or, when rows
/// are open (a graceful handover's `shutdown` gap), closes those by id at its
/// first trade. A leader that loses the lock records none itself and drops
/// the gap changes it has not written; at graceful shutdown it records the
/// usual `shutdown` gap, which the next leader's first trade closes.
///
/// At graceful shutdown it stops the feed and returns; the caller releases the
/// lock once the flusher has drained (`IngestApp`), so the standby takes over
/// only after everything this leader read is in the table.
public struct LeaderService: Service {
    public typealias Election = LeaderElection<ContinuousClock.Instant>

    let election: Election.Configuration
    let lock: LeaderLock
    let feed: FeedService
    let gaps: GapLedger
    let role: InstanceRole
    let logger: Logger

    public init(
        election: Election.Configuration, lock: LeaderLock, feed: FeedService, gaps: GapLedger, role: InstanceRole, logger: Logger
    ) {
        self.election = election
        self.lock = lock
        self.feed = feed
        self.gaps = gaps
        self.role = role
        self.logger = logger
    }

    /// A value shared with the feed's task.
    private final class Box<Value: Sendable>: Sendable {
        private let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        var current: Value { value.withLock { $0 } }
        func set(_ new: Value) { value.withLock { $0 = new } }
    }

    public func run() async throws {
        var machine = Election(configuration: election)
        role.set(.standby)
        logger.info("standby: asking for the leader lock", metadata: ["group": "\(lock.group)", "role": "\(InstanceRole.Role.standby.rawValue)"])
        let stopGapReason = Box<String?>("shutdown")
        let feedFailure = Box<(any Error)?>(nil)
        var feedTask: Task<Void, any Error>?
        var next = ContinuousClock.now
        var firstAttempt = true
        var failingSince: ContinuousClock.Instant?

        while true {
            do {
                let until = next
                try await cancelWhenGracefulShutdown { try await Task.sleep(until: until, clock: .continuous) }
            } catch {
                break
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            // The feed ended by itself (gave up reconnecting, key rejected): the process exits as it would alone.
            if let error = feedFailure.current { throw error }

            var actions: [Election.Action] = []
            switch machine.state {
            case .standby:
                do {
                    if let term = try await lock.tryAcquire() {
                        let gap: LeaderLock.GapBeforeLeading
                        do {
                            gap = try await lock.gapBeforeLeading()
                        } catch {
                            logger.warning("the gap before this leader could not be measured; it starts now", metadata: ["error": "\(error)"])
                            gap = .init(start: .local(feed.session.wallClock.nowMicros()), openGapIDs: [])
                        }
                        gaps.leadershipAcquired(
                            gapStart: gap.start, openGapIDs: gap.openGapIDs, reason: firstAttempt ? "restart" : "failover", fence: term,
                            fromT: gap.fromT)
                        actions = machine.lockAcquired(now: .now)
                    } else {
                        actions = machine.lockRefused(now: .now)
                    }
                    if let since = failingSince {
                        logger.notice("leader lock reachable again", metadata: ["down_s": "\(since.duration(to: .now).components.seconds)"])
                        failingSince = nil
                    }
                } catch {
                    if failingSince == nil {
                        failingSince = .now
                        logger.error("the leader lock cannot be asked for; retrying", metadata: ["error": "\(error)"])
                    }
                    actions = machine.lockConnectionLost(now: .now)
                }
                firstAttempt = false
            case .leader:
                guard let deadline = machine.leaseDeadline else { break }
                let lock = self.lock
                switch await Self.value(by: deadline, of: { await lock.check() }) {
                case nil:
                    logger.error("leader lock not confirmed within the lease: stopping the feed", metadata: ["lease_ms": "\(election.lease.milliseconds)"])
                    actions = machine.leaseExpired(now: .now)
                case .held:
                    actions = machine.leaseCheckOK(now: .now)
                case .lost(let reason):
                    logger.error("leader lock lost: stopping the feed at once", metadata: ["reason": "\(reason)"])
                    actions = machine.lockConnectionLost(now: .now)
                case .unsure(let reason):
                    logger.warning("leader lock check failed", metadata: ["reason": "\(reason)"])
                    actions = machine.leaseCheckFailed(now: .now)
                }
            case .stopped:
                return
            }

            for action in actions {
                switch action {
                case .startFeed:
                    role.set(.leader)
                    logger.notice(
                        "leader: holding the lock, starting the feed",
                        metadata: ["group": "\(lock.group)", "role": "\(InstanceRole.Role.leader.rawValue)", "term": "\(machine.terms)"])
                    stopGapReason.set("shutdown")
                    let feed = self.feed
                    feedTask = Task {
                        do {
                            try await feed.run(stopGapReason: { stopGapReason.current })
                        } catch {
                            feedFailure.set(error)
                            throw error
                        }
                    }
                case .stopFeed:
                    // No gap row from here: the next leader records it. What this leader has not
                    // written is dropped first, so that nothing it queued lands late (`GapLedger.leadershipLost`).
                    stopGapReason.set(nil)
                    let dropped = gaps.leadershipLost()
                    if dropped > 0 {
                        logger.warning("gap changes not written before the lock was lost are dropped; the next leader records the gap",
                                       metadata: ["dropped": "\(dropped)"])
                    }
                    feedTask?.cancel()
                    _ = await feedTask?.result
                    feedTask = nil
                    role.set(.standby)
                    logger.notice("standby: feed stopped, asking for the leader lock again", metadata: ["role": "\(InstanceRole.Role.standby.rawValue)"])
                case .release:
                    await lock.release()
                case .retryAt(let instant), .checkAt(let instant):
                    next = instant
                }
            }
        }

        // Graceful shutdown: stop reading; the lock is released after the drain (IngestApp).
        _ = machine.shutdown()
        if let feedTask {
            stopGapReason.set("shutdown")
            feedTask.cancel()
            if case .failure(let error) = await feedTask.result, !(error is CancellationError), feedFailure.current != nil {
                throw error
            }
        }
    }

    /// The operation's value if it comes by `deadline`, else `nil`; a late
    /// operation is left to finish on its own (a hung libpq call cannot be interrupted).
    package static func value<T: Sendable>(by deadline: ContinuousClock.Instant, of operation: @escaping @Sendable () async -> T) async -> T? {
        let first = FirstResult<T?>()
        return await withCheckedContinuation { continuation in
            first.wait(continuation)
            Task { first.resume(with: await operation()) }
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                first.resume(with: nil)
            }
        }
    }

    /// Resumes a continuation once, with whichever value comes first.
    private final class FirstResult<T: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)
        func wait(_ continuation: CheckedContinuation<T, Never>) { self.continuation.withLock { $0 = continuation } }
        func resume(with value: T) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }
}

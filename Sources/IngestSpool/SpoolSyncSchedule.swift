/// When the spool makes what it wrote durable (`fdatasync`): group commit,
/// as Vector's disk buffer does it. A record written at `t` is synced by
/// `t + interval` at the latest (`SPOOL_SYNC_MS`, default 500 ms): one
/// `fdatasync` covers every record written in that window, so a busy spool
/// pays one sync per interval, not one per record. An interval of zero means
/// every record is synced before `append` returns.
///
/// A value type with no I/O: the spool tells it when records are written
/// and synced, and asks whether a sync is due (on `append`) and until when
/// its background thread may sleep.
public struct SpoolSyncSchedule<Instant: InstantProtocol>: Sendable, Equatable where Instant.Duration == Duration {
    /// Longest a written record waits for its sync.
    public let interval: Duration
    /// When the oldest record not yet synced was written; `nil`: everything is synced.
    public private(set) var unsyncedSince: Instant?

    public init(interval: Duration) {
        self.interval = max(.zero, interval)
    }

    /// When the next sync is due; `nil` while there is nothing to sync.
    public var deadline: Instant? { unsyncedSince.map { $0.advanced(by: interval) } }

    /// Whether a sync is due at `now`.
    public func isDue(at now: Instant) -> Bool {
        guard let deadline else { return false }
        return now >= deadline
    }

    /// A record was written at `now`; returns whether to sync before the append returns.
    public mutating func written(at now: Instant) -> Bool {
        if unsyncedSince == nil { unsyncedSince = now }
        return isDue(at: now)
    }

    /// Everything written so far is synced (a sync, or the segment sealed with `fsync`).
    public mutating func synced() {
        unsyncedSince = nil
    }

    /// A sync at `now` failed: what was written stays unsynced, and the next
    /// try is due one interval later (not at once, over and over, on a disk
    /// that keeps failing).
    public mutating func syncFailed(at now: Instant) {
        if unsyncedSince != nil { unsyncedSince = now }
    }
}

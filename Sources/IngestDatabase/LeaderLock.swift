import Logging

/// The leader lock of an active/standby pair (docs/design.md §5.5): a session-level
/// PostgreSQL advisory lock held on a connection of its own, on a thread of
/// its own (libpq blocks, docs/design.md §1.4).
///
/// **Key.** The two-integer form `pg_try_advisory_lock(hashtext('ingest-options:ha'),
/// hashtext(HA_GROUP))`, computed by the server, so every instance of a group
/// agrees whatever it runs on, and the key cannot collide with the
/// single-integer lock the migrations take (`hashtext('ingest-options:migrate')`).
/// Advisory locks are per database: instances writing to different databases
/// never compete. In `pg_locks` the lock shows as `locktype = 'advisory'`,
/// `objsubid = 2`.
///
/// **Who frees it.** The server frees a session lock when the session ends.
/// A leader killed with `kill -9` has its socket closed by its kernel, so the
/// server frees the lock at once. A leader whose machine vanished is only
/// noticed by TCP keepalives: this connection asks the server for short ones
/// (`SET tcp_keepalives_idle/interval/count`, `HA_KEEPALIVE_IDLE_S` then 1 s × 3
/// probes), and uses the same on the client side, plus `tcp_user_timeout` so
/// that a check sent into a dead network fails instead of hanging. Over a Unix
/// socket keepalives do not apply (nothing to lose there).
public final class LeaderLock: Sendable {
    /// What a check found.
    public enum Check: Sendable, Equatable {
        /// The server confirms this session holds the lock.
        case held
        /// The session is gone, or holds no lock: the lock is lost for sure.
        case lost(String)
        /// The check failed on a connection that is not known to be dead.
        case unsure(String)
    }

    /// TCP keepalive settings of the lock connection (both ends).
    public struct Keepalive: Sendable, Equatable {
        /// Idle seconds before the first probe (`HA_KEEPALIVE_IDLE_S`, 5).
        public var idleSeconds: Int
        /// Seconds between probes (1).
        public var intervalSeconds: Int
        /// Unanswered probes before the peer is declared dead (3).
        public var count: Int
        /// Unacknowledged data for this long breaks the connection (client side; `HA_LEASE_MS`).
        public var userTimeoutMs: Int

        public init(idleSeconds: Int = 5, intervalSeconds: Int = 1, count: Int = 3, userTimeoutMs: Int = 5000) {
            self.idleSeconds = idleSeconds
            self.intervalSeconds = intervalSeconds
            self.count = count
            self.userTimeoutMs = userTimeoutMs
        }
    }

    /// The connection, owned by the lock's thread.
    private final class Session: @unchecked Sendable {
        var connection: PGConnection?
        var held = false
    }

    public let group: String
    private let conninfo: String
    private let keepalive: Keepalive
    private let thread: ConnectionThread
    private let session = Session()
    private let logger: Logger

    static let classKey = "hashtext('ingest-options:ha')"

    /// - Parameter group: `HA_GROUP`; instances with the same group and database compete.
    public init(conninfo: String, group: String, keepalive: Keepalive = .init(), logger: Logger) {
        self.conninfo = conninfo
        self.group = group
        self.keepalive = keepalive
        self.logger = logger
        self.thread = ConnectionThread(name: "db-leader")
        thread.start()
    }

    /// Asks for the lock without waiting (`pg_try_advisory_lock`); connects first
    /// if needed. Got: raises the leadership term (`ingest_state.leader_term`)
    /// and answers it, the fence of this leader's `feed_gaps` writes (the
    /// raise waits for a gap transaction of the previous leader that is
    /// already past its check; later ones see the new term and write nothing).
    /// `nil` when another session holds the lock. Throws when the database
    /// cannot be asked; a lock got but whose term could not be raised is given back.
    public func tryAcquire() async throws -> Int64? {
        let session = self.session
        let group = self.group
        return try await run { () throws -> Int64? in
            let connection = try self.connected()
            do {
                let rows = try connection.query("SELECT pg_try_advisory_lock(\(Self.classKey), hashtext($1))", [group])
                session.held = (rows.first?.first ?? nil) == "t"
                guard session.held else { return nil }
                do {
                    let term = try connection.query(IngestState.raiseLeaderTerm).first?.first.flatMap { $0 }.flatMap { Int64($0) }
                    guard let term else { throw DatabaseError(kind: .other, sqlState: nil, message: "raising the leadership term returned no term") }
                    return term
                } catch {
                    if connection.isHealthy { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.classKey), hashtext($1))", [group]) }
                    session.held = false
                    throw error
                }
            } catch {
                if !connection.isHealthy { session.connection = nil }
                throw error
            }
        }
    }

    /// Whether this session still holds the lock (`pg_locks`), asked on the lock connection.
    public func check() async -> Check {
        let session = self.session
        do {
            return try await run { () throws -> Check in
                guard let connection = session.connection, session.held else { return .lost("no lock connection") }
                guard connection.isHealthy else {
                    session.connection = nil
                    return .lost("lock connection broken")
                }
                do {
                    let rows = try connection.query(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid = pg_backend_pid())")
                    if (rows.first?.first ?? nil) == "t" { return .held }
                    session.held = false
                    return .lost("the server says this session holds no lock")
                } catch {
                    let failure = error as? DatabaseError
                    if !connection.isHealthy || failure?.kind == .connection {
                        session.connection = nil
                        session.held = false
                        return .lost(failure?.message ?? "\(error)")
                    }
                    return .unsure(failure?.message ?? "\(error)")
                }
            }
        } catch {
            return .unsure("\(error)")
        }
    }

    /// What a new leader finds when it gets the lock.
    public struct GapBeforeLeading: Sendable, Equatable {
        /// When the newest stored trade was received (the database's clock),
        /// if no `feed_gaps` row is open: where the gap between the previous leader and this one starts.
        public var start: GapTime?
        /// The rows open now (a graceful handover's `shutdown` gap): they are
        /// the gap, and this leader's first trade closes them, by id.
        public var openGapIDs: [Int64]
        /// The newest committed trade's feed time (`ingest_state.last_trade_t`, Unix ms),
        /// with `start`: the failover gap's `from_t` (docs/design.md §5.8).
        public var fromT: Int64?

        public init(start: GapTime?, openGapIDs: [Int64], fromT: Int64? = nil) {
            self.start = start
            self.openGapIDs = openGapIDs
            self.fromT = fromT
        }
    }

    /// Measures the gap before this leader, on the lock connection: one row
    /// of `ingest_state` and the open `feed_gaps` rows (a partial index), so
    /// within the connection's 5 s statement timeout whatever the size of `options_trades`.
    public func gapBeforeLeading() async throws -> GapBeforeLeading {
        try await run { () throws -> GapBeforeLeading in
            let connection = try self.connected()
            let open = try connection.query("SELECT id FROM feed_gaps WHERE ended_at IS NULL ORDER BY id")
                .compactMap { $0.first.flatMap { $0 }.flatMap { Int64($0) } }
            guard open.isEmpty else { return GapBeforeLeading(start: nil, openGapIDs: open) }
            let gap = IngestState.unrecordedGap(try connection.query(IngestState.unrecordedGapStart))
            return GapBeforeLeading(start: gap?.start, openGapIDs: [], fromT: gap?.lastTradeT)
        }
    }

    /// Gives the lock back (`pg_advisory_unlock`, when the session lives) and
    /// closes the connection, which frees it on the server in any case.
    public func release() async {
        let session = self.session
        let group = self.group
        _ = try? await run { () -> Void in
            if session.held, let connection = session.connection, connection.isHealthy {
                _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.classKey), hashtext($1))", [group])
            }
            session.held = false
            session.connection = nil
        }
    }

    /// Releases the lock and stops the lock's thread (at exit).
    public func close() async {
        await release()
        await thread.shutdown()
    }

    private func run<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try await thread.run(body)
    }

    /// The lock connection, made on first use: short keepalives both ways.
    private func connected() throws(DatabaseError) -> PGConnection {
        if let connection = session.connection, connection.isHealthy { return connection }
        session.connection = nil
        session.held = false
        let connection = try PGConnection(
            conninfo: conninfo, applicationName: "ingest-options-leader-lock",
            overrides: [
                "keepalives_idle": String(keepalive.idleSeconds), "keepalives_interval": String(keepalive.intervalSeconds),
                "keepalives_count": String(keepalive.count), "tcp_user_timeout": String(keepalive.userTimeoutMs),
            ])
        // The server side: notice a vanished leader as fast as the client would, so its lock is freed.
        // Over a Unix socket these are ignored; a server that refuses them keeps its own (logged).
        do {
            try connection.execute(
                "SET tcp_keepalives_idle = \(keepalive.idleSeconds); SET tcp_keepalives_interval = \(keepalive.intervalSeconds); "
                    + "SET tcp_keepalives_count = \(keepalive.count); SET statement_timeout = 5000")
        } catch {
            logger.warning("the server refused short keepalives on the lock connection", metadata: ["error": "\(error)"])
        }
        session.connection = connection
        return connection
    }
}

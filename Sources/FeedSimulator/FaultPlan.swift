/// The failures `feed-sim` stages on purpose, so that a client's reconnect,
/// watchdog and decoder paths can be exercised against a local feed.
///
/// Every field is off (`nil`) by default: a plain run behaves like a healthy
/// feed. Times count from the moment a connection started streaming (its
/// first `subscribe`), per connection.
public struct FaultPlan: Sendable, Equatable {
    /// `--drop-every`: close each streaming connection cleanly (close frame
    /// 1001 goingAway) this long after it started streaming, once every frame
    /// already written has reached the socket.
    public var dropEvery: Duration?
    /// `--reset-every`: like `dropEvery` but abrupt: SO_LINGER {on, 0} and
    /// close, so the client sees a TCP RST and no close frame.
    public var resetEvery: Duration?
    /// `--no-pong` with `--fault-after` (default 2 s): this long after a
    /// connection started streaming the server stops sending and stops reading
    /// the socket, so the client's pings go unanswered; the socket stays open
    /// until the client closes it.
    public var silenceAfter: Duration?
    /// `--stall-after`: this long after a connection started streaming the
    /// server stops sending data but keeps reading, so pings are still answered.
    public var stallAfter: Duration?
    /// `--garbage-every`: every Nth frame of a connection's stream is malformed
    /// JSON; it holds no trades and is not in the ledger.
    public var garbageEvery: Int?
    /// `--oversized-every`: every Nth frame of a connection's stream is a
    /// text frame of about 1.5 MiB, above the 1 MiB a feed client is expected
    /// to accept (docs/feed-sim.md, "Why the faults look so"); not in the ledger.
    public var oversizedEvery: Int?
    /// `--hostile-every`: every Nth frame of a connection's stream carries,
    /// before its trades, one of each `HostileTrades` event: well-formed
    /// JSON, but no trade a client may accept (70 000 condition codes, a
    /// 70 000-byte symbol, symbols that almost match). They are not in the
    /// ledger; the exit line counts them as `hostile`.
    public var hostileEvery: Int?
    /// `--max-connections`: live authenticated connections per API key. A new
    /// one beyond it makes the oldest receive `max_connections` and be closed,
    /// as the real feed does (docs/feed-sim.md, "Why the faults look so"). `nil` = unlimited.
    public var maxConnections: Int?
    /// `--refuse-for`: no listener for this long after start, so connections are refused.
    public var refuseFor: Duration?

    /// Default of `--fault-after`: long enough for a client to authenticate,
    /// subscribe and receive some trades before the fault.
    public static let defaultFaultAfter: Duration = .seconds(2)

    public init() {}
}

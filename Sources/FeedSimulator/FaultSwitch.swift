import Synchronization

/// Faults injected while the simulator runs (`feed-sim --control`, used by
/// `scripts/chaos`): `POST /control/fault/KIND` ends every stream running at
/// that moment the way KIND says (`drop`, `reset`, `stall`, `silence`), as the
/// `--drop-every`/`--reset-every`/`--stall-after`/`--no-pong` faults would;
/// streams that start afterwards are not touched. The stream sequence goes on
/// (one ledger, `q` rising), so a chaos run never restarts the simulator.
public final class FaultSwitch: Sendable {
    private struct State {
        var generation = 0
        var kind: StreamSession.Ending?
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream remembers this when it starts.
    public var generation: Int { state.withLock { $0.generation } }

    /// Ends every running stream with `kind`; returns the new generation.
    @discardableResult
    public func trigger(_ kind: StreamSession.Ending) -> Int {
        state.withLock { state in
            state.generation += 1
            state.kind = kind
            return state.generation
        }
    }

    /// The fault triggered since a stream started at `generation`, if any.
    public func fault(since generation: Int) -> StreamSession.Ending? {
        state.withLock { $0.generation > generation ? $0.kind : nil }
    }

    /// `drop`, `reset`, `stall`, `silence` (the `--no-pong` fault).
    public static func kind(named name: String) -> StreamSession.Ending? {
        switch name {
        case "drop": .drop
        case "reset": .reset
        case "stall": .stall
        case "silence", "no-pong": .silence
        default: nil
        }
    }
}

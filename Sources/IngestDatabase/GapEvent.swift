/// One change to the `feed_gaps` table (SPEC §4: every period in which the
/// feed was not streaming).
public enum GapEvent: Sendable, Equatable {
    /// The feed stopped streaming at this time (Unix µs) for this reason.
    case opened(atMicros: Int64, reason: String)
    /// Data flows again: every open gap ends at this time (Unix µs).
    case closed(atMicros: Int64)
}

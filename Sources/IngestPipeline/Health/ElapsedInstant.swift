/// A monotonic instant held as the `Duration` since an origin the caller
/// chose: 16 bytes whose layout this package knows. Code generic over an
/// instant and specialised for `ContinuousClock.Instant` still reaches that
/// type's value witnesses through the runtime on every copy, compare and
/// optional check, because the standard library may change its layout; per
/// trade that cost more than the work itself (docs/performance.md). The
/// staleness tracker runs on this instead.
public struct ElapsedInstant: InstantProtocol, Hashable, Sendable {
    /// Time since the origin.
    public var sinceOrigin: Duration

    @inlinable
    public init(sinceOrigin: Duration) {
        self.sinceOrigin = sinceOrigin
    }

    @inlinable
    public func advanced(by duration: Duration) -> ElapsedInstant {
        ElapsedInstant(sinceOrigin: sinceOrigin + duration)
    }

    @inlinable
    public func duration(to other: ElapsedInstant) -> Duration {
        other.sinceOrigin - sinceOrigin
    }

    @inlinable
    public static func < (lhs: ElapsedInstant, rhs: ElapsedInstant) -> Bool {
        lhs.sinceOrigin < rhs.sinceOrigin
    }
}

/// Why a REST response body gave no page (docs/design.md §5.8.1). Carries no
/// request text, so it can be logged as it is: no URL, no key.
public enum RESTPageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The body ends before its JSON does: a dropped connection or a cut
    /// proxy response, worth another attempt.
    case truncated(offset: Int)
    /// The body is not the JSON the API promises: bad syntax, a field of the
    /// wrong type, a number that does not fit its field, a result without a
    /// price, size or time.
    case malformed(offset: Int, reason: String)
    /// The API answered with a `status` other than `OK`/`DELAYED`, or an
    /// `error`: its status and message, for the log and the gap row.
    case apiError(status: String, message: String)

    public var description: String {
        switch self {
        case .truncated(let offset): "truncated response body at byte \(offset)"
        case .malformed(let offset, let reason): "malformed response body at byte \(offset): \(reason)"
        case .apiError(let status, let message): "API error \(status): \(message)"
        }
    }
}

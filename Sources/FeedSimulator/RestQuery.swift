import Foundation
import OptionsFeed

/// A request the REST API refuses: its HTTP status and the `error` text of the JSON answer.
public struct RestError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    static func badRequest(_ message: String) -> RestError { RestError(status: 400, message: message) }
}

/// The parameters of `GET /v3/trades/{optionsTicker}` (docs/feed-sim.md, "REST API"),
/// bounds made inclusive in SIP ns. A `cursor` carries the whole query of the
/// page before it plus where that page ended; other parameters are then ignored.
public struct TradesQuery: Sendable, Equatable {
    public static let defaultLimit = 1000
    public static let maximumLimit = 50_000

    public var lower: Int64?
    public var upper: Int64?
    public var ascending = false
    public var limit = Self.defaultLimit
    /// The last trade of the page before (from a cursor).
    public var after: ArchiveKey?

    public init(lower: Int64? = nil, upper: Int64? = nil, ascending: Bool = false, limit: Int = Self.defaultLimit, after: ArchiveKey? = nil) {
        self.lower = lower
        self.upper = upper
        self.ascending = ascending
        self.limit = limit
        self.after = after
    }

    /// Parses the query parameters (percent-decoded).
    public init(parameters: [String: String]) throws(RestError) {
        if let cursor = parameters["cursor"] {
            self = try Self(cursor: cursor)
            return
        }
        for (name, value) in parameters {
            switch name {
            case "timestamp":
                let (start, end) = try Self.timestampRange(value, name: name)
                lower = Self.tighter(lower, start, by: max)
                upper = Self.tighter(upper, end, by: min)
            case "timestamp.gte":
                lower = Self.tighter(lower, try Self.timestampRange(value, name: name).start, by: max)
            case "timestamp.gt":
                let end = try Self.timestampRange(value, name: name).end
                lower = Self.tighter(lower, end == .max ? .max : end + 1, by: max)
            case "timestamp.lte":
                upper = Self.tighter(upper, try Self.timestampRange(value, name: name).end, by: min)
            case "timestamp.lt":
                let start = try Self.timestampRange(value, name: name).start
                upper = Self.tighter(upper, start == .min ? .min : start - 1, by: min)
            case "order":
                guard value == "asc" || value == "desc" else { throw .badRequest("order must be asc or desc") }
                ascending = value == "asc"
            case "sort":
                guard value == "timestamp" else { throw .badRequest("sort must be timestamp") }
            case "limit":
                limit = try Self.limit(value, maximum: Self.maximumLimit)
            default:
                break
            }
        }
    }

    static func tighter(_ bound: Int64?, _ value: Int64, by pick: (Int64, Int64) -> Int64) -> Int64 {
        bound.map { pick($0, value) } ?? value
    }

    /// `1764772200000000000` → that ns alone; `2025-12-03` → the whole UTC day in ns.
    static func timestampRange(_ text: String, name: String) throws(RestError) -> (start: Int64, end: Int64) {
        if let ns = Int64(text) { return (ns, ns) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { throw .badRequest("\(name) must be Unix nanoseconds or YYYY-MM-DD") }
        let start = Int64(CivilTime.daysFromCivil(year: year, month: month, day: day)) * Self.nanosecondsPerDay
        return (start, start + Self.nanosecondsPerDay - 1)
    }

    static let nanosecondsPerDay: Int64 = 86_400 * 1_000_000_000

    static func limit(_ text: String, maximum: Int) throws(RestError) -> Int {
        guard let limit = Int(text), (1...maximum).contains(limit) else {
            throw .badRequest("limit must be an integer within 1…\(maximum)")
        }
        return limit
    }

    /// The opaque `cursor` of the page after one ending at `last`.
    public func cursor(after last: ArchiveKey) -> String {
        let fields = [
            "t1", ascending ? "asc" : "desc", String(limit), lower.map(String.init) ?? "", upper.map(String.init) ?? "",
            String(last.sip), String(last.q),
        ]
        return RestCursor.encode(fields)
    }

    init(cursor: String) throws(RestError) {
        guard let fields = RestCursor.decode(cursor), fields.count == 7, fields[0] == "t1",
            fields[1] == "asc" || fields[1] == "desc", let limit = Int(fields[2]), (1...Self.maximumLimit).contains(limit),
            fields[3].isEmpty || Int64(fields[3]) != nil, fields[4].isEmpty || Int64(fields[4]) != nil,
            let sip = Int64(fields[5]), let q = Int64(fields[6])
        else { throw .badRequest("invalid cursor") }
        self.init(
            lower: Int64(fields[3]), upper: Int64(fields[4]), ascending: fields[1] == "asc", limit: limit,
            after: ArchiveKey(sip: sip, q: q))
    }
}

/// The parameters of `GET /v3/snapshot/options/{underlying}`.
public struct SnapshotQuery: Sendable, Equatable {
    public static let defaultLimit = 10
    public static let maximumLimit = 250

    public var limit = Self.defaultLimit
    /// The last ticker of the page before (from a cursor).
    public var after: String?

    public init(limit: Int = Self.defaultLimit, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    public init(parameters: [String: String]) throws(RestError) {
        if let cursor = parameters["cursor"] {
            guard let fields = RestCursor.decode(cursor), fields.count == 3, fields[0] == "s1", let limit = Int(fields[1]),
                (1...Self.maximumLimit).contains(limit)
            else { throw .badRequest("invalid cursor") }
            self.init(limit: limit, after: fields[2])
            return
        }
        self.init(limit: try parameters["limit"].map { text throws(RestError) in try TradesQuery.limit(text, maximum: Self.maximumLimit) } ?? Self.defaultLimit)
    }

    /// The opaque `cursor` of the page after one ending at `ticker`.
    public func cursor(after ticker: String) -> String {
        RestCursor.encode(["s1", String(limit), ticker])
    }
}

/// Cursors are base64url (no padding) of `|`-joined fields: opaque to a client,
/// and safe in a URL without escaping.
public enum RestCursor {
    public static func encode(_ fields: [String]) -> String {
        Data(fields.joined(separator: "|").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ cursor: String) -> [String]? {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: text), let joined = String(data: data, encoding: .utf8) else { return nil }
        return joined.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
    }
}

/// The REST API's base URL (docs/design.md §5.8.1: `POLYGON_REST_URL`, default
/// `https://api.polygon.io`), parsed once: scheme, host, port. A `next_url`
/// is followed only to this same origin (`RESTRequest.following`), so a
/// page cannot send the client, and its key, elsewhere.
public struct RESTEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// The host, lowercased.
    public let host: String
    /// The port; the scheme's (443 or 80) when the URL names none.
    public let port: Int
    /// A path prefix without the trailing `/` (empty for the API itself).
    public let basePath: String

    /// The default base URL (docs/design.md §5.8.1).
    public static let defaultURL = "https://api.polygon.io"

    /// Parses `scheme://host[:port][/path]`; `nil` for another scheme, no
    /// host, a bad port, user info (`user:key@`), a query or a fragment.
    public init?(_ url: String) {
        guard let (scheme, host, port, rest) = Self.split(url), !rest.contains("?"), !rest.contains("#") else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = rest.hasSuffix("/") ? String(rest.dropLast()) : rest
    }

    /// `scheme://host[:port]`, the port only when it is not the scheme's.
    public var origin: String {
        port == Self.defaultPort(scheme) ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)"
    }

    public var description: String { origin + basePath }

    /// The path and query of `url` when it is on this endpoint's origin and under its base path.
    func pathAndQuery(ofSameOrigin url: String) -> String? {
        guard let (scheme, host, port, rest) = Self.split(url), scheme == self.scheme, host == self.host, port == self.port,
            rest.hasPrefix(basePath + "/")
        else { return nil }
        return rest
    }

    private static func defaultPort(_ scheme: String) -> Int { scheme == "https" ? 443 : 80 }

    /// Scheme (lowercased), host (lowercased), port, and the rest from the first `/`, `?` or `#` on.
    private static func split(_ url: String) -> (String, String, Int, String)? {
        guard let colon = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<colon.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { return nil }
        let afterScheme = url[colon.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard !authority.contains("@"), !authority.isEmpty else { return nil }
        var host = Substring(authority)
        var port = defaultPort(scheme)
        if let portColon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let value = Int(authority[authority.index(after: portColon)...]), (1...65535).contains(value) else { return nil }
            host = authority[..<portColon]
            port = value
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        return (scheme, host.lowercased(), port, String(afterScheme[authorityEnd...]))
    }
}

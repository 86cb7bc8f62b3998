#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Takes known secrets out of text before it is shown (logs, errors, the
/// health report): each secret becomes `***`, and a URL that may carry one
/// (a feed URL with `?apiKey=…`, user info) becomes its masked form. Error
/// messages of libraries echo what they were given, so every failure reason
/// goes through here.
public struct SecretMask: Sendable {
    /// Longest first, so that a secret containing another is replaced whole.
    private let replacements: [(secret: String, shown: String)]

    /// Secrets shorter than this are not replaced: they would mangle ordinary words.
    public static let minimumLength = 4

    /// - Parameters:
    ///   - secrets: values never to show (API key, passwords, tokens).
    ///   - urls: URLs never to show as given: the URL itself, its password, user and query values.
    public init(secrets: [String] = [], urls: [String] = []) {
        var replacements: [(String, String)] = []
        for url in urls where !url.isEmpty {
            let masked = Self.maskedURL(url)
            if masked != url { replacements.append((url, masked)) }
            guard let components = URLComponents(string: url) else { continue }
            var parts = [components.password, components.percentEncodedPassword, components.user, components.percentEncodedUser]
            parts += (components.queryItems ?? []).map(\.value) + (components.percentEncodedQueryItems ?? []).map(\.value)
            parts.append(components.percentEncodedQuery)
            replacements += parts.compactMap { $0 }.map { ($0, "***") }
        }
        replacements += secrets.map { ($0, "***") }
        self.replacements = replacements.filter { $0.0.count >= Self.minimumLength }.sorted { $0.0.count > $1.0.count }
    }

    /// `text` with every known secret replaced.
    public func callAsFunction(_ text: String) -> String {
        replacements.reduce(text) { $0.contains($1.secret) ? $0.replacing($1.secret, with: $1.shown) : $0 }
    }

    /// A URL for logs: no user info, no query (keys sometimes ride there), no fragment.
    public static func maskedURL(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "***" }
        components.user = nil
        components.password = nil
        if components.query != nil { components.query = "***" }
        components.fragment = nil
        return components.string ?? "***"
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space (spaces, tabs,
    /// newlines: Unicode's White_Space). The service's own, so that it needs
    /// only FoundationEssentials (docs/design.md §1.4).
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}

import FeedSimulator
import Testing

@Suite("ConnectionRegistry: --max-connections per API key")
struct ConnectionRegistryTests {
    @Test("with a limit of 1 a new connection with the same key displaces the older one")
    func limitOneDisplacesOldest() {
        var registry = ConnectionRegistry<String>(limit: 1)
        #expect(registry.authenticated(1, key: "K", connection: "a").isEmpty)
        #expect(registry.authenticated(2, key: "K", connection: "b") == ["a"])
        #expect(registry.count(for: "K") == 1)
        #expect(registry.authenticated(3, key: "K", connection: "c") == ["b"])
    }

    @Test("with a limit of 2 the third connection displaces the oldest only")
    func limitTwo() {
        var registry = ConnectionRegistry<String>(limit: 2)
        _ = registry.authenticated(1, key: "K", connection: "a")
        _ = registry.authenticated(2, key: "K", connection: "b")
        #expect(registry.authenticated(3, key: "K", connection: "c") == ["a"])
        #expect(registry.count(for: "K") == 2)
    }

    @Test("other keys and unlimited registries are unaffected")
    func otherKeysAndUnlimited() {
        var limited = ConnectionRegistry<String>(limit: 1)
        _ = limited.authenticated(1, key: "K", connection: "a")
        #expect(limited.authenticated(2, key: "L", connection: "b").isEmpty)
        var unlimited = ConnectionRegistry<String>(limit: nil)
        for id in 0..<50 { #expect(unlimited.authenticated(id, key: "K", connection: "\(id)").isEmpty) }
        #expect(unlimited.count(for: "K") == 50)
    }

    @Test("an ended connection no longer counts, and re-authenticating is not a new connection")
    func endedAndReauth() {
        var registry = ConnectionRegistry<String>(limit: 1)
        _ = registry.authenticated(1, key: "K", connection: "a")
        #expect(registry.authenticated(1, key: "K", connection: "a").isEmpty)
        registry.ended(1)
        #expect(registry.count(for: "K") == 0)
        #expect(registry.authenticated(2, key: "K", connection: "b").isEmpty)
    }
}

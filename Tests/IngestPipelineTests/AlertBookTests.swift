import Testing

@testable import IngestPipeline

/// docs/design.md §5.4 alerts: open and resolve events, each alert at most once while open.
@Suite("Alert book")
struct AlertBookTests {
    typealias Book = AlertBook<String, ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ seconds: Int) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("an alert opens once however many checks find it still active, and its values stay current")
    func opensOnce() {
        var book = Book()
        let first = book.update("buffer_over_1000", isActive: true, values: ["items": "1200"], now: at(0))
        #expect(first == .opened(name: "buffer_over_1000", since: at(0), values: ["items": "1200"]))
        for second in 1...100 {
            let again = book.update("buffer_over_1000", isActive: true, values: ["items": "\(1200 + second)"], now: at(second))
            #expect(again == nil)
        }
        #expect(book.active["buffer_over_1000"] == Book.ActiveAlert(name: "buffer_over_1000", since: at(0), values: ["items": "1300"]))
    }

    @Test("it resolves once with its opening time, and staying inactive is silent")
    func resolvesOnce() {
        var book = Book()
        _ = book.update("rss_over_500mb", isActive: true, values: ["rss": "600"], now: at(0))
        let resolved = book.update("rss_over_500mb", isActive: false, values: ["rss": "400"], now: at(30))
        #expect(resolved == .resolved(name: "rss_over_500mb", since: at(0), values: ["rss": "400"]))
        #expect(book.active.isEmpty)
        let quiet = book.update("rss_over_500mb", isActive: false, now: at(31))
        #expect(quiet == nil)
        let neverOpened = book.update("trades_dropped", isActive: false, now: at(32))
        #expect(neverOpened == nil)
    }

    @Test("resolving without values reports the last values it had while open")
    func resolveKeepsLastValues() {
        var book = Book()
        _ = book.update("feed_disconnected", isActive: true, values: ["for_s": "130"], now: at(0))
        let resolved = book.update("feed_disconnected", isActive: false, now: at(10))
        #expect(resolved == .resolved(name: "feed_disconnected", since: at(0), values: ["for_s": "130"]))
    }

    @Test("it re-opens after a resolve with a new since")
    func reopens() {
        var book = Book()
        _ = book.update("db_connection_lost", isActive: true, now: at(0))
        _ = book.update("db_connection_lost", isActive: false, now: at(5))
        let reopened = book.update("db_connection_lost", isActive: true, now: at(60))
        #expect(reopened == .opened(name: "db_connection_lost", since: at(60), values: [:]))
        #expect(book.active["db_connection_lost"]?.since == at(60))
    }

    @Test("active alerts are listed oldest first, ties by name")
    func listing() {
        var book = Book()
        _ = book.update("b", isActive: true, now: at(5))
        _ = book.update("z", isActive: true, now: at(1))
        _ = book.update("a", isActive: true, now: at(5))
        #expect(book.activeAlerts.map(\.name) == ["z", "a", "b"])
    }
}

import IngestTestSupport
import Testing

@testable import IngestDatabase

@Suite("Connection options")
struct ConnectionOptionsTests {
    @Test("writer connections notice a vanished server within seconds: keepalives and tcp_user_timeout are set")
    func keepalives() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let options = try PGConnection(conninfo: database.url).options
        #expect(options["keepalives"] == "1")
        #expect(options["keepalives_idle"] == "5")
        #expect(options["keepalives_interval"] == "2")
        #expect(options["keepalives_count"] == "3")
        #expect(options["tcp_user_timeout"] == "10000")
    }

    @Test("a cancel handle stops a statement that waits on another session's lock")
    func cancelStopsAWait() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let locker = try database.connect()
        try locker.execute("CREATE TABLE held (n int); BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        let waiter = try PGConnection(conninfo: database.url)
        let handle = waiter.makeCancelHandle()
        let canceller = Task.detached {
            try await Task.sleep(for: .milliseconds(300))
            handle.cancel()
        }
        #expect(throws: DatabaseError.self) { try waiter.execute("SELECT * FROM held") }
        try await canceller.value
        try locker.execute("COMMIT")
    }
}

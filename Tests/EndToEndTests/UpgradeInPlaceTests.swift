import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// The upgrade of a running deployment to daily partitions (docs/operations.md,
/// "Upgrading in place"): an ingester of the old layout stopped, `ingest-options
/// migrate`, the ingester started again, against feed-sim over a real socket.
@Suite("Upgrade in place", .serialized, .temporaryDirectory("upgrade"))
struct UpgradeInPlaceTests {
    /// The keys the table must hold after a run of `ledger`: valid trades at or above the 10 000 USD threshold.
    static func expectedKeys(_ ledger: String) throws -> Set<String> {
        Set(try EndToEndTests.readLedger(ledger).valid.filter { $0.notional >= 10_000 }.map(\.key))
    }

    @Test(
        "a table of the old layout filled by an ingester, migrated with the ingester stopped, then written by it again: every trade once, the old table attached as it was"
    )
    func upgradeWithIngesterStoppedAndRestarted() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let directory = try TemporaryDirectory.required()
        let old = try migrations(upTo: "0006_backfill.sql", in: directory)

        // Today's deployment: the ingester applies migrations 0001–0006 and streams.
        let first = try await EndToEndTests.ingestOnce(
            seed: 5151, count: 8_000, database: database, directory: directory, tag: "old", writeMode: "copy", settings: ["MIGRATIONS_DIR": old])
        #expect(first.exitStatus == 0)
        let connection = try database.connect()
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["r"]])
        let expectedFirst = try Self.expectedKeys(first.ledger)
        #expect(Set(try EndToEndTests.storedKeys(database.url)) == expectedFirst)
        let fingerprint = "SELECT count(*), md5(string_agg(sym || ts::text || seq || price || size || conditions::text || received_at::text, ',' ORDER BY sym, ts, seq)) FROM options_trades"
        let before = try connection.query(fingerprint)
        let file = try connection.query("SELECT pg_relation_filenode('options_trades')")

        // The upgrade, by the command, with the ingester stopped.
        let (status, printed) = try await runBuilt(
            "ingest-options", ["migrate"], environment: ["DATABASE_URL": database.url, "LOG_FILE": directory.appendingPathComponent("migrate.log").path],
            directory: repositoryRoot, input: "")
        #expect(status == 0)
        #expect(printed.contains("0007_daily_partitions"))
        #expect(try connection.query("SELECT relkind::text FROM pg_class WHERE oid = 'options_trades'::regclass") == [["p"]])
        #expect(try connection.query(fingerprint) == before, "every row, once, unchanged")
        #expect(try connection.query("SELECT pg_relation_filenode('options_trades_legacy')") == file, "attached, not copied")
        #expect(try connection.query("SELECT count(*) FROM options_trades_legacy") == [[before[0][0]]])
        #expect(try SchemaCheck.problems(conninfo: database.url) == [])

        // The ingester of the new layout, started again: the same stream adds nothing, a new one lands once.
        let again = try await EndToEndTests.ingestOnce(
            seed: 5151, count: 8_000, database: database, directory: directory, tag: "again", writeMode: "copy")
        #expect(again.exitStatus == 0)
        #expect(try connection.query(fingerprint) == before, "the same trades again: nothing doubled")
        let next = try await EndToEndTests.ingestOnce(
            seed: 5152, count: 8_000, database: database, directory: directory, tag: "next", writeMode: "copy")
        #expect(next.exitStatus == 0)
        let stored = try EndToEndTests.storedKeys(database.url)
        #expect(stored.count == Set(stored).count, "no key twice")
        #expect(Set(stored) == expectedFirst.union(try Self.expectedKeys(next.ledger)))
        #expect(try connection.query("SELECT count(*) FROM dead_letters WHERE source = 'database'") == [["0"]], "no row refused")
    }
}

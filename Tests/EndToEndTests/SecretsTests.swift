import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// No secret in any output: the API key (also riding in the feed URL's query),
/// the database password and the status token never reach stdout, stderr,
/// LOG_FILE or the SIGUSR1 report, and a DATABASE_URL libpq cannot parse is
/// named, never quoted.
@Suite("Secrets", .serialized, .temporaryDirectory("secrets"))
struct SecretsTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    static let badURL = "postgresql://u:p%zzSECRETzz@127.0.0.1/db"

    @Test("an API key in POLYGON_WS_URL's query, a distinctive database password and the status token appear nowhere: stdout, stderr, LOG_FILE, the SIGUSR1 report, through connects, drops and failed reconnects")
    func keyInTheURL() async throws {
        let apiKey = "url-key-Q7xK9mZ2pL4w"
        let password = "Pw-Distinct-9f3K2z"
        let token = "status-tok-77aaQ1"
        let database = try TestDatabase.create()
        defer { database.drop() }
        // The test server trusts local connections: the password is carried, not checked.
        let databaseURL = database.url.replacingOccurrences(of: "postgresql://postgres@", with: "postgresql://postgres:\(password)@")
        #expect(databaseURL.contains(password))
        let (sim, port) = try await ManagedProcess.feedSim(["--seed", "5", "--rate", "300", "--drop-every", "2"], directory: directory)
        let log = directory.appendingPathComponent("key-in-url.log").path
        // The key rides in the feed URL's query as well as in POLYGON_API_KEY.
        let ingester = try await ManagedProcess.ingester(
            port: port, databaseURL: databaseURL, logFile: log,
            ["LOG_LEVEL": "debug", "FLUSH_INTERVAL_MS": "200", "WS_BACKOFF_INITIAL_MS": "200", "WS_BACKOFF_MAX_MS": "500",
             "WS_MAX_RECONNECT_ATTEMPTS": "0", "STATUS_ADDR": "127.0.0.1:0", "STATUS_TOKEN": token, "POLYGON_API_KEY": apiKey,
             "POLYGON_WS_URL": "ws://127.0.0.1:\(port)/options?apiKey=\(apiKey)&cluster=x"],
            directory: directory)

        // Dropped every 2 s: at least two connects, each logged.
        _ = try await waitFor(timeout: .seconds(30), what: "two streaming connections") {
            logLines(log, message: "feed streaming").count >= 2 ? true : nil
        }
        let report = try await ingester.requestHealthReport()
        // The feed goes away: the reconnects fail, and each failure's reason is logged.
        sim.signal(SIGTERM)
        let failures = logLines(log, message: "feed disconnected").count
        _ = try await waitFor(timeout: .seconds(30), what: "failed reconnects") {
            logLines(log, message: "feed disconnected").count >= failures + 2 ? true : nil
        }
        #expect(try await ingester.stop(timeout: .seconds(30)) == 0)

        let connects = logLines(log, message: "feed connecting")
        #expect(connects.count >= 3)
        #expect(connects.allSatisfy { $0["url"] as? String == "ws://127.0.0.1:\(port)/options?***" }, "the masked URL")
        let reportText = String(decoding: try JSONSerialization.data(withJSONObject: report), as: UTF8.self)
        let everything = [ingester.stdout, ingester.stderr, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "", reportText]
        #expect(!everything[0].isEmpty && !everything[2].isEmpty, "stdout and LOG_FILE hold the log")
        for secret in [apiKey, password, token] {
            #expect(!everything.contains { $0.contains(secret) }, "\(secret) shown")
        }
    }

    @Test("a DATABASE_URL libpq cannot parse (a bad percent-encoding around a secret) exits 64 with one line naming DATABASE_URL and none of its value", arguments: [[], ["migrate"]])
    func unparsableDatabaseURL(_ arguments: [String]) async throws {
        let log = directory.appendingPathComponent("bad-url-\(arguments.count).log").path
        let ingester = try await ManagedProcess.ingester(
            port: 1, databaseURL: Self.badURL, logFile: log, ["LOG_LEVEL": "debug"], arguments: arguments,
            directory: directory)
        #expect(try await ingester.waitForExit(timeout: .seconds(30)) == 64)
        let lines = ingester.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(ingester.stderr)")
        #expect(lines.first?.contains("DATABASE_URL") == true)
        let everything = ingester.stdout + ingester.stderr + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        #expect(!everything.contains("SECRET"), "\(everything)")
        #expect(!everything.contains("p%zz"))
    }

    @Test("a connect with a connection string libpq cannot parse fails naming DATABASE_URL, not quoting it; validation says why without the value")
    func unparsableAtConnect() throws {
        let problem = try #require(PGConnection.validate(conninfo: Self.badURL))
        #expect(problem == "invalid percent-encoded token")
        #expect(PGConnection.validate(conninfo: "host=db passwrd=SECRETzz") == #"invalid connection option "…""#)
        #expect(PGConnection.validate(conninfo: "postgresql://u:pw@h/db?xSECRETzz")?.contains("SECRET") == false)
        do {
            _ = try PGConnection(conninfo: Self.badURL, connectTimeoutSeconds: 1)
            Issue.record("connected with a malformed connection string")
        } catch {
            #expect(error.message.contains("DATABASE_URL"))
            #expect(!error.message.contains("SECRET"), "\(error.message)")
            #expect(!"\(error)".contains("SECRET"))
        }
    }
}

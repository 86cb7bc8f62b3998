#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CLibPQ

/// One libpq connection. Blocking: use it from one thread only (the writer's
/// own thread, docs/design.md §1.4), never from the Swift concurrency pool.
public final class PGConnection {
    private let handle: OpaquePointer

    /// Connects with libpq. `conninfo` is a libpq URI or key=value string;
    /// settings it names win over the defaults given here.
    /// - Parameters:
    ///   - connectTimeoutSeconds: docs/design.md §5.3: 10 s.
    ///   - overrides: libpq keywords that replace these defaults (e.g. the
    ///     leader lock's shorter keepalives); the connection string still wins.
    public init(
        conninfo: String, connectTimeoutSeconds: Int = 10, applicationName: String = "ingest-options", overrides: [String: String] = [:]
    ) throws(DatabaseError) {
        // Defaults first: with expand_dbname the URI in "dbname" overrides them.
        var pairs: [(String, String)] = [
            ("connect_timeout", String(connectTimeoutSeconds)),
            // A server that vanished (no FIN, no RST) is noticed within seconds, not the
            // kernel's minutes: keepalive probes after 5 s idle, 3 unanswered 2 s apart,
            // and unacknowledged data gives up after 10 s (docs/faults.md, "Shutdown").
            ("keepalives", "1"),
            ("keepalives_idle", "5"),
            ("keepalives_interval", "2"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
            ("application_name", applicationName),
        ].map { key, value in (key, overrides[key] ?? value) }
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) where !pairs.contains(where: { $0.0 == key }) {
            pairs.append((key, value))
        }
        pairs.append(("dbname", conninfo))
        let connection = withCStringArray(pairs.map(\.0)) { keywords in
            withCStringArray(pairs.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let connection else {
            throw DatabaseError(kind: .connection, sqlState: nil, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.connectFailure(Self.trimmed(PQerrorMessage(connection)), conninfo: conninfo)
            PQfinish(connection)
            let kind: DatabaseError.Kind = message.contains("authentication") || message.contains("password") ? .auth : .connection
            throw DatabaseError(kind: kind, sqlState: nil, message: message)
        }
        // Server notices ("relation already exists, skipping") would go to stderr: drop them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.handle = connection
    }

    deinit {
        PQfinish(handle)
    }

    /// A handle another thread may use to stop what this connection is doing
    /// (`CancelHandle`). It keeps the connection alive while it exists, so its
    /// socket is never a descriptor reused by something else.
    public func makeCancelHandle() -> CancelHandle {
        CancelHandle(connection: self, cancel: PQgetCancel(handle), socket: PQsocket(handle))
    }

    /// The libpq options in effect (keyword → value), for checks and tests.
    public var options: [String: String] {
        guard let options = PQconninfo(handle) else { return [:] }
        defer { PQconninfoFree(options) }
        return Self.values(of: options)
    }

    /// keyword → value of a libpq option array (the ones that have a value).
    private static func values(of options: UnsafeMutablePointer<PQconninfoOption>) -> [String: String] {
        var result: [String: String] = [:]
        var index = 0
        while let keyword = options[index].keyword {
            if let value = options[index].val { result[String(cString: keyword)] = String(cString: value) }
            index += 1
        }
        return result
    }

    /// Whether libpq still considers the connection usable.
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Runs SQL (one or more statements, no parameters) and returns the
    /// affected row count of the last command, when it has one.
    @discardableResult
    public func execute(_ sql: String) throws(DatabaseError) -> Int {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        return Self.affectedRows(result)
    }

    /// Runs a query with bound text parameters and returns its rows as text (`nil` for NULL).
    public func query(_ sql: String, _ parameters: [String?] = []) throws(DatabaseError) -> [[String?]] {
        let result: OpaquePointer? = withOptionalCStringArray(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var table: [[String?]] = []
        table.reserveCapacity(rows)
        for row in 0..<rows {
            var values: [String?] = []
            values.reserveCapacity(columns)
            for column in 0..<columns {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            table.append(values)
        }
        return table
    }

    /// Runs a statement with bound text parameters and returns its affected row count.
    public func executeCounting(_ sql: String, _ parameters: [String?]) throws(DatabaseError) -> Int {
        let result: OpaquePointer? = withOptionalCStringArray(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        return Self.affectedRows(result)
    }

    /// Runs a `COPY … FROM STDIN` statement and streams `data` into it.
    public func copyIn(_ sql: String, data: UnsafeRawBufferPointer) throws(DatabaseError) {
        do {
            try copyIn(sql) { send in try send(data) }
        } catch let error as DatabaseError {
            throw error
        } catch {
            preconditionFailure("sending bytes throws only DatabaseError: \(error)")
        }
    }

    /// Runs a `COPY … FROM STDIN` statement; `produce` makes the data and
    /// hands each piece to `send` as it goes, so the whole stream need never
    /// be in memory at once. An error of `produce` or `send` leaves the COPY
    /// unfinished: the caller closes the connection, as after any failed write.
    public func copyIn(_ sql: String, produce: (_ send: (UnsafeRawBufferPointer) throws(DatabaseError) -> Void) throws -> Void) throws {
        let start = PQexec(handle, sql)
        do {
            defer { PQclear(start) }
            try check(start, expecting: [PGRES_COPY_IN])
        }
        try produce { data throws(DatabaseError) in
            // In 64 KiB pieces: libpq copies each into its output buffer, which grows to the
            // largest piece and stays that size for the connection's life (1 MiB pieces kept
            // ~2 MiB per pooled connection; docs/performance.md).
            let chunk = 64 << 10
            var offset = 0
            while offset < data.count {
                let length = min(chunk, data.count - offset)
                let sent = PQputCopyData(handle, data.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(length))
                guard sent == 1 else {
                    throw connectionError(fallback: "COPY data could not be sent")
                }
                offset += length
            }
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            throw connectionError(fallback: "COPY could not be ended")
        }
        var failure: DatabaseError?
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            if failure == nil {
                do { try check(result, expecting: [PGRES_COMMAND_OK]) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    private func check(_ result: OpaquePointer?, expecting statuses: [ExecStatusType]) throws(DatabaseError) {
        guard let result else {
            throw connectionError(fallback: "no result from the server")
        }
        let status = PQresultStatus(result)
        if statuses.contains(status) { return }
        let sqlState = PQresultErrorField(result, CLIBPQ_DIAG_SQLSTATE).map { String(cString: $0) }
        var message = PQresultErrorField(result, CLIBPQ_DIAG_MESSAGE_PRIMARY).map { String(cString: $0) } ?? ""
        if message.isEmpty { message = Self.trimmed(PQresultErrorMessage(result)) }
        if message.isEmpty { message = Self.trimmed(PQerrorMessage(handle)) }
        let kind = DatabaseError.kind(sqlState: sqlState, message: message, connectionHealthy: isHealthy)
        let constraint = PQresultErrorField(result, CLIBPQ_DIAG_CONSTRAINT_NAME).map { String(cString: $0) }
        throw DatabaseError(kind: kind, sqlState: sqlState, message: message, constraint: constraint)
    }

    private func connectionError(fallback: String) -> DatabaseError {
        let message = Self.trimmed(PQerrorMessage(handle))
        return DatabaseError(kind: .connection, sqlState: nil, message: message.isEmpty ? fallback : message)
    }

    private static func affectedRows(_ result: OpaquePointer?) -> Int {
        guard let result, let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).trimmingWhitespace()
    }

    /// Validates a libpq connection string (URI or key=value) without connecting.
    /// Returns libpq's reason when it is malformed, without the parts of the
    /// string libpq quotes (they may be the password: `invalid percent-encoded token: "…"`).
    public static func validate(conninfo: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            defer { PQfreemem(error) }
            return withoutQuotedInput(error.map { String(cString: $0) } ?? "malformed")
        }
        defer { PQconninfoFree(options) }
        var index = 0
        while let keyword = options[index].keyword {
            if String(cString: keyword) == "port", let value = options[index].val {
                let port = String(cString: value)
                for part in port.split(separator: ",") where Int(part).map({ !(1...65535).contains($0) }) ?? true {
                    return "invalid port"
                }
            }
            index += 1
        }
        return nil
    }

    /// What a failed connect reports: a connection string libpq cannot parse is
    /// named, not quoted (its parse errors echo pieces of it, the password
    /// among them); any other message with the password, if libpq repeated it, masked.
    static func connectFailure(_ message: String, conninfo: String) -> String {
        if let problem = validate(conninfo: conninfo) {
            return "the connection string (DATABASE_URL) is not valid: \(problem)"
        }
        guard let password = password(in: conninfo), password.count >= 4 else { return message }
        return message.replacing(password, with: "***")
    }

    /// libpq's parse error without the input it quotes: everything from the
    /// first `: "` on (the echoed string), and any other quoted part longer
    /// than one character (`invalid connection option "…"`).
    static func withoutQuotedInput(_ message: String) -> String {
        var text = message.trimmingWhitespace()
        if let echo = text.firstRange(of: ": \"") { text = String(text[..<echo.lowerBound]) }
        let pieces = text.split(separator: "\"", omittingEmptySubsequences: false)
        return pieces.enumerated().map { index, piece in index % 2 == 1 && piece.count > 1 ? "…" : String(piece) }
            .joined(separator: "\"")
    }

    /// The password a connection string carries, if any: a secret to mask wherever text is shown.
    public static func password(in conninfo: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            PQfreemem(error)
            return nil
        }
        defer { PQconninfoFree(options) }
        var index = 0
        while let keyword = options[index].keyword {
            if String(cString: keyword) == "password", let value = options[index].val { return String(cString: value) }
            index += 1
        }
        return nil
    }

    /// The connection string with any password replaced by `***`, for logs.
    public static func masked(conninfo: String) -> String {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            PQfreemem(error)
            return "***"
        }
        defer { PQconninfoFree(options) }
        let parts = values(of: options)
        let user = parts["user"].map { $0 + (parts["password"] != nil ? ":***" : "") + "@" } ?? ""
        let host = parts["host"] ?? parts["hostaddr"] ?? ""
        let port = parts["port"].map { ":" + $0 } ?? ""
        let database = parts["dbname"].map { "/" + $0 } ?? ""
        return "postgresql://\(user)\(host)\(port)\(database)"
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStringArray(strings.map(Optional.some), body)
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
    defer { duplicates.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Stops a connection's statement from another thread: `cancel()` asks the
/// server to cancel it (`PQcancel`, thread-safe, but it opens a connection of
/// its own and may block while the server does not answer), `abort()` shuts
/// the socket down so the blocked libpq call returns with a connection error
/// at once. Used at the shutdown deadline (docs/faults.md, "Shutdown").
public final class CancelHandle: @unchecked Sendable {
    /// Held only so that the connection (and its socket) outlive this handle.
    private let connection: PGConnection
    private let cancelObject: OpaquePointer?
    private let socket: Int32

    init(connection: PGConnection, cancel: OpaquePointer?, socket: Int32) {
        self.connection = connection
        self.cancelObject = cancel
        self.socket = socket
    }

    deinit {
        if let cancelObject { PQfreeCancel(cancelObject) }
    }

    /// Asks the server to cancel the running statement; `false` when the request could not be sent.
    @discardableResult
    public func cancel() -> Bool {
        guard let cancelObject else { return false }
        var message = [CChar](repeating: 0, count: 256)
        return PQcancel(cancelObject, &message, Int32(message.count)) == 1
    }

    /// Shuts the socket down: whatever libpq is blocked on returns with an error.
    public func abort() {
        guard socket >= 0 else { return }
        _ = Glibc.shutdown(socket, Int32(SHUT_RDWR))
    }
}

import Foundation

/// A minimal HTTP/1.1 client on a POSIX socket for tests of the status
/// server: one request, `Connection: close`, read until the server closes or
/// `readFor` runs out (for `/events`, which never ends by itself).
public struct HTTPProbe {
    public struct Reply: Sendable {
        public var status: Int
        public var head: String
        /// The body as received (chunked transfer framing left in: tests look for text in it).
        public var body: String

        /// The body without chunked framing.
        public var content: String {
            guard head.lowercased().contains("transfer-encoding: chunked") else { return body }
            var rest = Substring(body)
            var out = ""
            while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
                let start = lineEnd.upperBound
                guard let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.utf8.endIndex) else { break }
                out += rest[start..<end]
                rest = rest[end...].dropFirst(2)
            }
            return out
        }
    }

    public static func get(port: Int, _ path: String, headers: [String: String] = [:], readFor: Duration = .seconds(10)) throws -> Reply {
        try request(port: port, method: "GET", path, headers: headers, readFor: readFor)
    }

    /// A `POST` without a body (feed-sim's control routes).
    public static func post(port: Int, _ path: String, readFor: Duration = .seconds(10)) throws -> Reply {
        try request(port: port, method: "POST", path, headers: ["Content-Length": "0"], readFor: readFor)
    }

    static func request(port: Int, method: String, _ path: String, headers: [String: String], readFor: Duration) throws -> Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestSetupError("connect to 127.0.0.1:\(port) failed") }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }

        let deadline = ContinuousClock.now.advanced(by: readFor)
        var received = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = ContinuousClock.now.duration(to: deadline)
            let ready = poll(&poller, 1, Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            if ready <= 0 { break }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            received += chunk[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestSetupError("no HTTP reply from \(path): \(text.prefix(200))") }
        let head = String(text[..<split.lowerBound])
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Reply(status: status, head: head, body: String(text[split.upperBound...]))
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 GET/POST on a plain socket (`Connection: close`,
/// read to the end), enough to see feed-sim's REST answers as a client does.
/// Blocking, so run it on its own thread (`onOwnThread`).
struct RawHTTP {
    struct Answer: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: String

        /// The body as a JSON object, `nil` when it does not parse.
        var object: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    }

    enum Failure: Error {
        case connect(Int32)
        case malformed
    }

    static func request(
        _ method: String = "GET", port: Int, path: String, headers: [String: String] = [:], readTimeout: Double = 5
    ) throws -> Answer {
        let fd = try connectLoopback(port: port) { Failure.connect($0) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(readTimeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: 0\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.malformed }
            written += n
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += chunk[..<n]
        }
        let end = Array("\r\n\r\n".utf8)
        guard let split = received.indices.dropLast(3).first(where: { Array(received[$0..<$0 + 4]) == end }) else {
            throw Failure.malformed
        }
        let lines = String(decoding: received[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { throw Failure.malformed }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(received[(split + 4)...])
        if let length = fields["content-length"].flatMap(Int.init), length < body.count { body = Array(body.prefix(length)) }
        return Answer(status: status, headers: fields, body: String(decoding: body, as: UTF8.self))
    }
}

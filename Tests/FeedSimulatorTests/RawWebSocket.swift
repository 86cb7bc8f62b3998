import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking WebSocket client on a plain socket: just enough to see
/// feed-sim's frames, close codes, pongs and resets the way a client does,
/// without a WebSocket library in the test target. Blocking, so scripts using
/// it run on their own thread (`onOwnThread`), off the cooperative pool the
/// server's tasks need.
final class RawWebSocket {
    enum Frame: Equatable {
        case text(String)
        case close(code: UInt16)
        case ping
        case pong
    }

    enum Failure: Error, Equatable {
        case connect(Int32)
        case handshake
        /// The server closed the TCP connection (FIN).
        case closed
        /// The server reset the TCP connection (RST).
        case reset
        case timeout
        case io(Int32)
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, readTimeout: Double = 3) throws {
        fd = try connectLoopback(port: port) { Failure.connect($0) }
        setReadTimeout(readTimeout)
        try sendBytes(
            Array(
                ("GET /options HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        let end = Array("\r\n\r\n".utf8)
        while buffer.count < 4 || !buffer.indices.dropLast(3).contains(where: { Array(buffer[$0..<$0 + 4]) == end }) {
            try fill()
        }
        let headerEnd = buffer.indices.dropLast(3).first { Array(buffer[$0..<$0 + 4]) == end }! + 4
        let head = String(decoding: buffer[..<headerEnd], as: UTF8.self)
        buffer.removeFirst(headerEnd)
        guard head.hasPrefix("HTTP/1.1 101") else { throw Failure.handshake }
    }

    deinit {
        Glibc.close(fd)
    }

    func setReadTimeout(_ seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws {
        try sendFrame(opcode: 0x1, payload: Array(text.utf8))
    }

    func sendPing() throws {
        try sendFrame(opcode: 0x9, payload: Array("probe".utf8))
    }

    /// The next frame from the server.
    func next() throws -> Frame {
        try need(2)
        let opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F)
        var headerLength = 2
        if length == 126 {
            try need(4)
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            headerLength = 4
        } else if length == 127 {
            try need(10)
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            headerLength = 10
        }
        try need(headerLength + length)
        let payload = Array(buffer[headerLength..<headerLength + length])
        buffer.removeFirst(headerLength + length)
        switch opcode {
        case 0x1: return .text(String(decoding: payload, as: UTF8.self))
        case 0x8: return .close(code: payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005)
        case 0x9: return .ping
        case 0xA: return .pong
        default: throw Failure.io(-Int32(opcode))
        }
    }

    private func sendFrame(opcode: UInt8, payload: [UInt8]) throws {
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        frame += mask
        frame += payload.enumerated().map { $1 ^ mask[$0 % 4] }
        try sendBytes(frame)
    }

    private func sendBytes(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw errno == ECONNRESET ? Failure.reset : Failure.io(errno) }
            offset += written
        }
    }

    private func need(_ count: Int) throws {
        while buffer.count < count { try fill() }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if received > 0 {
            buffer += chunk[..<received]
            return
        }
        if received == 0 { throw Failure.closed }
        switch errno {
        case EAGAIN, EWOULDBLOCK: throw Failure.timeout
        case ECONNRESET: throw Failure.reset
        case let code: throw Failure.io(code)
        }
    }
}

/// A TCP socket connected to 127.0.0.1:`port`; `failure` makes the error of a failed connect from errno.
func connectLoopback(port: Int, failure: (Int32) -> Error) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let code = errno
        Glibc.close(fd)
        throw failure(code)
    }
    return fd
}

/// Runs a blocking client script on a thread of its own.
func onOwnThread<T: Sendable>(_ script: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try script() }) }
    }
}

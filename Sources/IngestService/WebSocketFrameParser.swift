import NIOCore
import NIOWebSocket

/// Cuts WebSocket frames (RFC 6455 §5.2) out of the bytes the socket reads,
/// for the feed's frame handler (docs/design.md §7). A frame whole in a read
/// is a slice of that read's buffer: no copy. Only a frame split across reads
/// is copied, and only its own bytes: the next read gives what it lacks and
/// the frames after it are again slices.
///
/// A frame the server masked is unmasked (a server should not mask; NIO's
/// decoder, which this replaces, accepted one too). No extension is
/// negotiated, so a reserved bit set, an unknown opcode, a control frame
/// fragmented or over 125 bytes, and a frame longer than `maxFrameSize` are
/// protocol errors that end the connection.
struct WebSocketFrameParser {
    struct Frame {
        var fin: Bool
        var opcode: WebSocketOpcode
        /// The payload, unmasked.
        var data: ByteBuffer
    }

    /// Why the bytes are no WebSocket frame this client accepts.
    enum Failure: Error, Equatable, CustomStringConvertible {
        case reservedBits
        case unknownOpcode(UInt8)
        case invalidControlFrame
        case tooLarge(length: UInt64, limit: Int)

        var description: String {
            switch self {
            case .reservedBits: "a WebSocket frame with a reserved bit set (no extension was negotiated)"
            case .unknownOpcode(let code): "a WebSocket frame with the unknown opcode \(code)"
            case .invalidControlFrame: "a WebSocket control frame that is fragmented or longer than 125 bytes"
            case .tooLarge(let length, let limit): "a WebSocket frame of \(length) bytes, over the limit of \(limit)"
            }
        }

        /// The close code (RFC 6455 §7.4.1) this side sends before it closes.
        var closeCode: WebSocketErrorCode {
            if case .tooLarge = self { return .messageTooLarge }
            return .protocolError
        }
    }

    /// A frame's header: its fields and how many bytes it and the payload take.
    struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var maskKey: WebSocketMaskingKey?
        var headerLength: Int
        var payloadLength: Int
    }

    /// The longest payload accepted; a longer frame is a protocol error.
    let maxFrameSize: Int
    /// The bytes so far of a frame split across reads.
    private var partial: ByteBuffer?

    init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes of a split frame held until the next read.
    var heldBytes: Int { partial?.readableBytes ?? 0 }

    /// The next whole frame from `input` (read from it), or `nil` when `input`
    /// holds no more of one; then its last bytes, the start of a frame, are held
    /// for the next call.
    mutating func next(from input: inout ByteBuffer) throws(Failure) -> Frame? {
        guard var held = partial else {
            guard let header = try Self.header(of: input, limit: maxFrameSize),
                input.readableBytes >= header.headerLength + header.payloadLength
            else {
                if input.readableBytes > 0 { partial = input.readSlice(length: input.readableBytes) }
                return nil
            }
            input.moveReaderIndex(forwardBy: header.headerLength)
            return Self.frame(header, payload: input.readSlice(length: header.payloadLength)!)
        }
        partial = nil
        // Only the split frame's own bytes are taken from `input`: what follows it stays there.
        while true {
            let header = try Self.header(of: held, limit: maxFrameSize)
            let wanted = header.map { $0.headerLength + $0.payloadLength } ?? Self.headerLength(of: held)
            let missing = wanted - held.readableBytes
            if missing == 0, let header {
                held.moveReaderIndex(forwardBy: header.headerLength)
                return Self.frame(header, payload: held.readSlice(length: header.payloadLength)!)
            }
            guard input.readableBytes > 0 else {
                partial = held
                return nil
            }
            if header != nil { held.reserveCapacity(minimumWritableBytes: missing) }
            var piece = input.readSlice(length: min(missing, input.readableBytes))!
            held.writeBuffer(&piece)
        }
    }

    private static func frame(_ header: Header, payload: ByteBuffer) -> Frame {
        var data = payload
        if let key = header.maskKey { data.webSocketUnmask(key) }
        return Frame(fin: header.fin, opcode: header.opcode, data: data)
    }

    /// How long the header at the start of `bytes` is, as far as its first two
    /// bytes tell (2 until they are there).
    private static func headerLength(of bytes: ByteBuffer) -> Int {
        guard let second = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt8.self) else { return 2 }
        let lengthBytes = switch second & 0x7F {
        case 126: 2
        case 127: 8
        default: 0
        }
        return 2 + lengthBytes + (second & 0x80 != 0 ? 4 : 0)
    }

    /// The header at the start of `bytes`, or `nil` when not all of it is there.
    static func header(of bytes: ByteBuffer, limit: Int) throws(Failure) -> Header? {
        let start = bytes.readerIndex
        guard let first = bytes.getInteger(at: start, as: UInt8.self),
            let second = bytes.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        guard first & 0x70 == 0 else { throw .reservedBits }
        guard let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F), opcode.isKnown else {
            throw .unknownOpcode(first & 0x0F)
        }
        let fin = first & 0x80 != 0
        var length = UInt64(second & 0x7F)
        var offset = 2
        if length == 126 {
            guard let extended = bytes.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = UInt64(extended)
            offset = 4
        } else if length == 127 {
            guard let extended = bytes.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            length = extended
            offset = 10
        }
        if opcode.isControlOpcode, !fin || length > 125 { throw .invalidControlFrame }
        guard length <= UInt64(limit) else { throw .tooLarge(length: length, limit: limit) }
        var maskKey: WebSocketMaskingKey?
        if second & 0x80 != 0 {
            guard let key = bytes.getBytes(at: start + offset, length: 4) else { return nil }
            maskKey = WebSocketMaskingKey(key)
            offset += 4
        }
        return Header(fin: fin, opcode: opcode, maskKey: maskKey, headerLength: offset, payloadLength: Int(length))
    }
}

extension WebSocketOpcode {
    /// One of the six opcodes RFC 6455 defines (§5.2); the others are reserved.
    fileprivate var isKnown: Bool {
        switch self {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong: true
        default: false
        }
    }
}

import NIOCore
import NIOWebSocket
import Testing

@testable import IngestService

/// The feed's own WebSocket frame parser: every length form, masks, frames
/// split at every byte, only the split frame copied, and each protocol error.
@Suite("WebSocket frame parser")
struct WebSocketFrameParserTests {
    /// A frame as a server writes it (RFC 6455 §5.2), masked when `mask` is given.
    static func encoded(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, fin: Bool = true, mask: [UInt8]? = nil) -> ByteBuffer {
        var bytes = ByteBuffer()
        bytes.writeInteger(UInt8(fin ? 0x80 : 0) | UInt8(webSocketOpcode: opcode))
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        let length = payload.readableBytes
        if length < 126 {
            bytes.writeInteger(maskBit | UInt8(length))
        } else if length <= Int(UInt16.max) {
            bytes.writeInteger(maskBit | 126)
            bytes.writeInteger(UInt16(length))
        } else {
            bytes.writeInteger(maskBit | 127)
            bytes.writeInteger(UInt64(length))
        }
        var data = payload
        if let mask {
            bytes.writeBytes(mask)
            data.webSocketMask(WebSocketMaskingKey(mask)!)
        }
        bytes.writeBuffer(&data)
        return bytes
    }

    static func payload(_ count: Int, seed: UInt8 = 0) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    /// Every frame in `reads`, fed one read at a time.
    static func frames(_ reads: [ByteBuffer], limit: Int = 1 << 20) throws -> [WebSocketFrameParser.Frame] {
        var parser = WebSocketFrameParser(maxFrameSize: limit)
        var frames: [WebSocketFrameParser.Frame] = []
        for read in reads {
            var read = read
            while let frame = try parser.next(from: &read) { frames.append(frame) }
            #expect(read.readableBytes == 0)
        }
        #expect(parser.heldBytes == 0)
        return frames
    }

    /// Frames of each length form (7-bit, 16-bit, 64-bit), one masked, a fragment and a control frame.
    static let stream: (bytes: ByteBuffer, frames: [(Bool, WebSocketOpcode, ByteBuffer)]) = {
        let frames: [(Bool, WebSocketOpcode, ByteBuffer, [UInt8]?)] = [
            (true, .text, payload(5), nil),
            (false, .text, payload(125, seed: 1), nil),
            (true, .continuation, payload(126, seed: 2), nil),
            (true, .ping, payload(3, seed: 3), [1, 2, 3, 4]),
            (true, .binary, payload(70_000, seed: 4), nil),
            (true, .text, payload(300, seed: 5), [9, 8, 7, 6]),
            (true, .text, ByteBuffer(), nil),
        ]
        var bytes = ByteBuffer()
        for (fin, opcode, data, mask) in frames {
            var frame = encoded(opcode, data, fin: fin, mask: mask)
            bytes.writeBuffer(&frame)
        }
        return (bytes, frames.map { ($0.0, $0.1, $0.2) })
    }()

    static func expectStream(_ frames: [WebSocketFrameParser.Frame]) {
        #expect(frames.count == stream.frames.count)
        for (frame, expected) in zip(frames, stream.frames) {
            #expect(frame.fin == expected.0)
            #expect(frame.opcode == expected.1)
            #expect(frame.data == expected.2)
        }
    }

    @Test("one read of every length form, masked and not, gives each frame and its payload")
    func wholeStream() throws {
        Self.expectStream(try Self.frames([Self.stream.bytes]))
    }

    @Test("the stream cut in two at every byte, and in reads of every size up to 20, gives the same frames")
    func everySplit() throws {
        let bytes = Self.stream.bytes
        // Every cut point in the headers and around them; the long payloads are cut at a stride.
        var cuts = Array(0...140)
        cuts += stride(from: 141, to: bytes.readableBytes, by: 997)
        for cut in cuts where cut <= bytes.readableBytes {
            let reads = [bytes.getSlice(at: bytes.readerIndex, length: cut)!, bytes.getSlice(at: cut, length: bytes.readableBytes - cut)!]
            Self.expectStream(try Self.frames(reads))
        }
        for size in 1...20 {
            var rest = bytes
            var reads: [ByteBuffer] = []
            // Small reads over the headers and short frames, then the rest in one.
            while rest.readableBytes > 0, reads.count < 200 { reads.append(rest.readSlice(length: min(size, rest.readableBytes))!) }
            if rest.readableBytes > 0 { reads.append(rest) }
            Self.expectStream(try Self.frames(reads))
        }
    }

    @Test("a split frame takes only its own bytes from the next read; the frames after it stay there")
    func splitFrameTakesOnlyItsBytes() throws {
        var first = Self.encoded(.text, Self.payload(300))
        var second = Self.encoded(.text, Self.payload(10, seed: 1))
        var parser = WebSocketFrameParser(maxFrameSize: 1_000)
        var read = first.readSlice(length: 100)!
        #expect(try parser.next(from: &read) == nil)
        #expect(parser.heldBytes == 100)
        var next = first
        next.writeBuffer(&second)
        let whole = try parser.next(from: &next)
        #expect(whole?.data == Self.payload(300))
        #expect(parser.heldBytes == 0)
        #expect(next.readableBytes == 12)
        #expect(try parser.next(from: &next)?.data == Self.payload(10, seed: 1))
    }

    @Test("each protocol error: reserved bits, an unknown opcode, a control frame fragmented or over 125 bytes, a frame over the limit")
    func protocolErrors() {
        let cases: [([UInt8], WebSocketFrameParser.Failure)] = [
            ([0xC1, 0x00], .reservedBits),
            ([0x91, 0x00], .reservedBits),
            ([0x83, 0x00], .unknownOpcode(3)),
            ([0x8B, 0x00], .unknownOpcode(11)),
            ([0x09, 0x00], .invalidControlFrame),
            ([0x89, 0x7E, 0x00, 0x7E], .invalidControlFrame),
            ([0x81, 0x7E, 0x04, 0x01], .tooLarge(length: 1_025, limit: 1_024)),
            ([0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .tooLarge(length: .max, limit: 1_024)),
        ]
        for (bytes, failure) in cases {
            var parser = WebSocketFrameParser(maxFrameSize: 1_024)
            var read = ByteBuffer(bytes: bytes)
            #expect(throws: failure) { try parser.next(from: &read) }
        }
        // At the limit is accepted.
        var parser = WebSocketFrameParser(maxFrameSize: 1_024)
        var read = Self.encoded(.text, Self.payload(1_024))
        #expect((try? parser.next(from: &read))??.data.readableBytes == 1_024)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOWebSocket
import Synchronization

/// One client's socket, as the simulator's faults need it: writes that
/// complete once the bytes are in the kernel (so the ledger is exact), the
/// abrupt reset, going silent, and the eviction signal of `--max-connections`.
///
/// The `Channel` is the one Hummingbird hands to `shouldUpgrade`; after the
/// upgrade it carries the WebSocket frame codec, so a `WebSocketFrame` written
/// to it goes out as one frame. `WebSocketOutboundWriter.write` would return
/// as soon as the frame is queued, which is too early for the ledger: a close
/// or reset right after it could drop frames the ledger already lists.
final class ClientConnection: Sendable {
    /// What the connection's stream task waits for before it starts streaming.
    enum Event: Sendable {
        case subscribed
        /// A newer connection with the same key displaced this one.
        case evicted
    }

    let id: Int
    let channel: any Channel
    let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let evictedFlag = Atomic<Bool>(false)

    /// How often the kernel's send queue is checked before a reset.
    static let drainPollInterval: Duration = .milliseconds(5)

    init(id: Int, channel: any Channel) {
        self.id = id
        self.channel = channel
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
    }

    deinit {
        eventSink.finish()
    }

    var isEvicted: Bool { evictedFlag.load(ordering: .acquiring) }

    func subscribed() {
        eventSink.yield(.subscribed)
    }

    func evict() {
        evictedFlag.store(true, ordering: .releasing)
        eventSink.yield(.evicted)
    }

    /// Writes one text frame; returns once it was written to the socket.
    func write(_ text: String) async throws {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        try await channel.writeAndFlush(frame).get()
    }

    /// TCP reset: SO_LINGER {on, 0} and close, so the kernel sends RST instead
    /// of FIN and no close frame goes out. First waits (at most `drainTimeout`)
    /// for the kernel's send queue to empty, since a reset discards it and the
    /// ledger already lists what is in it.
    func reset(drainTimeout: Duration) async {
        await drainSendQueue(timeout: drainTimeout)
        if let options = channel as? SocketOptionProvider {
            try? await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close().get()
    }

    /// Stops reading the socket: the WebSocket library only answers pings it
    /// reads, so from now on the client's pings get no pong. NIO still notices
    /// the client closing (it watches for EOF even without reads).
    func silence() async {
        try? await channel.setOption(ChannelOptions.autoRead, value: false).get()
    }

    /// Waits until the kernel has sent everything and the client acknowledged
    /// it (Linux `tcp_info`: `tcpi_notsent_bytes` and `tcpi_unacked` both 0),
    /// or `timeout` passed, or the socket is gone.
    func drainSendQueue(timeout: Duration) async {
        #if os(Linux)
        guard let options = channel as? SocketOptionProvider else { return }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            guard
                let info: KernelTCPInfo = try? await options.unsafeGetSocketOption(
                    level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO)
                ).get()
            else { return }
            if info.isDrained { return }
            try? await Task.sleep(for: Self.drainPollInterval)
        }
        #endif
    }
}

/// Linux's `struct tcp_info` as raw bytes. Glibc's copy of the struct stops
/// before `tcpi_notsent_bytes`, so the fields are read at the kernel ABI's
/// offsets (`linux/tcp.h`; the struct only ever grows at the end).
struct KernelTCPInfo: Sendable {
    typealias Words = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )
    var words: Words = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// `offsetof(struct tcp_info, tcpi_unacked)`: segments sent, not yet acknowledged.
    static let unackedOffset = 24
    /// `offsetof(struct tcp_info, tcpi_notsent_bytes)` (Linux ≥ 4.6): bytes queued, not yet sent.
    static let notSentOffset = 144

    var isDrained: Bool {
        withUnsafeBytes(of: words) { bytes in
            bytes.load(fromByteOffset: Self.unackedOffset, as: UInt32.self) == 0
                && bytes.load(fromByteOffset: Self.notSentOffset, as: UInt32.self) == 0
        }
    }
}

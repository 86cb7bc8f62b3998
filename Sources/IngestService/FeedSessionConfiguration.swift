import IngestPipeline

/// The settings of a feed session (docs/design.md §5.1).
public struct FeedSessionConfiguration: Sendable, CustomStringConvertible {
    /// What any log or error shows of it: never the API key, never the URL's query or user info.
    public var description: String { "FeedSessionConfiguration(url: \(maskedURL), subscriptions: \(subscriptions), apiKey: ***)" }

    /// The URL for logs: keys sometimes ride in its query string.
    public var maskedURL: String { SecretMask.maskedURL(url) }

    /// Takes the API key and the URL's secrets out of text the feed or the WebSocket library
    /// produced (a failure reason, a close reason, a status message may echo them).
    public var mask: SecretMask { SecretMask(secrets: [apiKey], urls: [url]) }

    public var url: String
    public var apiKey: String
    public var subscriptions: [String]
    /// Frames larger than this are counted and skipped (`WS_MAX_FRAME_BYTES`, 1 MiB).
    public var maxFrameBytes: Int
    /// WebSocket ping period; a missing pong by the next ping drops the connection (`WS_PING_INTERVAL_MS`).
    public var pingInterval: Duration
    public var watchdog: SessionWatchdog<ContinuousClock.Instant>.Configuration
    /// How often the connection's thread reads the socket when frames are small and far apart (`WS_READ_COALESCE_MS`).
    public var readPacing: ReadPacing.Configuration

    public init(
        url: String, apiKey: String, subscriptions: [String], maxFrameBytes: Int, pingInterval: Duration,
        watchdog: SessionWatchdog<ContinuousClock.Instant>.Configuration, readPacing: ReadPacing.Configuration = .init()
    ) {
        self.readPacing = readPacing
        self.url = url
        self.apiKey = apiKey
        self.subscriptions = subscriptions
        self.maxFrameBytes = maxFrameBytes
        self.pingInterval = pingInterval
        self.watchdog = watchdog
    }
}

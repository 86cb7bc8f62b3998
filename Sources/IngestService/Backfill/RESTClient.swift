// TEMPORARY STUB (not committed): replaced by helper D's client.
import IngestPipeline
import Logging
public struct BackfillFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String; public var errorClass: ErrorClass; public var requests: Int
    public init(reason: String, errorClass: ErrorClass, requests: Int) { self.reason = reason; self.errorClass = errorClass; self.requests = requests }
    public var description: String { reason }
}
public struct RESTTradesFetch: Sendable, Equatable { public var trades: [RESTTrade]; public var requests: Int; public var rejected: Int }
public struct RESTSnapshotFetch: Sendable, Equatable { public var entries: [RESTSnapshotPage.Entry]; public var requests: Int }
public final class RESTClient: Sendable {
    public init(endpoint: RESTEndpoint, apiKey: String, requestsPerSecond: Double = 10,
                retry: BackfillRetry = .init(), requestTimeout: Duration = .seconds(30), maximumBodyBytes: Int = 64 << 20, logger: Logger) {}
    public func trades(ticker: String, window: BackfillWindow) async throws(BackfillFailure) -> RESTTradesFetch { fatalError() }
    public func snapshot(underlying: String) async throws(BackfillFailure) -> RESTSnapshotFetch { fatalError() }
    public var requestsSent: Int { 0 }
    public func shutdown() async {}
}

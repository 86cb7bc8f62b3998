import Logging
import OptionsFeed
import WSClient

/// The feed's status messages (docs/design.md §5.1 wire protocol): `connected`
/// → send the key, `auth_success` → subscribe, `success` → streaming; a
/// rejected key, or another client taking the connection over, ends the attempt.
extension FeedSession {
    /// Acts on a status event; `false` ends the session.
    func handle(_ status: FeedStatus, outbound: WebSocketOutboundWriter, attempt: Attempt) async throws -> Bool {
        switch status.status {
        case "connected":
            monitor.withMachine { $0.connected() }
            attempt.state.withLock { $0.watchdog.enter(.authenticating, now: .now) }
            logger.info("feed connected, authenticating", metadata: ["message": "\(attempt.mask(status.message))"])
            try await outbound.write(.text(#"{"action":"auth","params":\#(JSONString.quoted(configuration.apiKey))}"#))
        case "auth_success":
            monitor.withMachine { $0.authenticated() }
            attempt.state.withLock { $0.watchdog.enter(.subscribing, now: .now) }
            let params = configuration.subscriptions.joined(separator: ",")
            try await outbound.write(.text(#"{"action":"subscribe","params":\#(JSONString.quoted(params))}"#))
            logger.info("feed authenticated, subscribing", metadata: ["subscriptions": "\(params)"])
        case "auth_failed", "auth_timeout":
            attempt.end(.rejected("\(status.status): \(status.message)"))
            try? await outbound.close(.normalClosure, reason: nil)
            return false
        case "success":
            logger.info("feed status", metadata: ["status": "success", "message": "\(attempt.mask(status.message))"])
            becomeStreaming(attempt)
        case "max_connections", "force_disconnect":
            logger.error(
                "another client with this API key took over the feed connection; backing off at the cap",
                metadata: ["status": "\(attempt.mask(status.status))", "message": "\(attempt.mask(status.message))"])
            attempt.end(.takenOver(status.status))
            try? await outbound.close(.normalClosure, reason: nil)
            return false
        case "slow_consumer":
            intake.stats.slowConsumerWarnings.add(1)
            intake.health?.errors.record(.rateLimit, message: "slow_consumer: \(attempt.mask(status.message))")
            logger.warning(
                "the feed reports this client as a slow consumer",
                metadata: ["message": "\(attempt.mask(status.message))", "count": "\(intake.stats.slowConsumerWarnings.load(ordering: .relaxed))"])
        default:
            logger.info("feed status", metadata: ["status": "\(attempt.mask(status.status))", "message": "\(attempt.mask(status.message))"])
        }
        return true
    }

    /// The subscription was acknowledged or data arrived: the attempt is streaming (acted on once).
    func becomeStreaming(_ attempt: Attempt) {
        let first = attempt.state.withLock { state -> Bool in
            guard !state.streaming else { return false }
            state.streaming = true
            state.watchdog.enter(.streaming, now: .now)
            return true
        }
        guard first else { return }
        monitor.withMachine { $0.streaming(now: .now) }
        logger.info("feed streaming")
    }
}

import Logging
import OptionsFeed

/// The feed's status messages (docs/design.md §5.1 wire protocol): `connected`
/// → send the key, `auth_success` → subscribe, `success` → streaming; a
/// rejected key, or another client taking the connection over, ends the attempt.
extension FeedSession {
    /// What the connection does after a status: nothing more, send a message, or close.
    enum StatusReply: Equatable {
        case none
        case send(String)
        case close
    }

    /// Acts on a status event and says what the connection is to do.
    func reply(to status: FeedStatus, attempt: Attempt) -> StatusReply {
        switch status.status {
        case "connected":
            monitor.withMachine { $0.connected() }
            attempt.state.withLock { $0.watchdog.enter(.authenticating, now: .now) }
            logger.info("feed connected, authenticating", metadata: ["message": "\(attempt.mask(status.message))"])
            return .send(#"{"action":"auth","params":\#(JSONString.quoted(configuration.apiKey))}"#)
        case "auth_success":
            monitor.withMachine { $0.authenticated() }
            attempt.state.withLock { $0.watchdog.enter(.subscribing, now: .now) }
            let params = configuration.subscriptions.joined(separator: ",")
            logger.info("feed authenticated, subscribing", metadata: ["subscriptions": "\(params)"])
            return .send(#"{"action":"subscribe","params":\#(JSONString.quoted(params))}"#)
        case "auth_failed", "auth_timeout":
            attempt.end(.rejected("\(status.status): \(status.message)"))
            return .close
        case "success":
            logger.info("feed status", metadata: ["status": "success", "message": "\(attempt.mask(status.message))"])
            becomeStreaming(attempt)
        case "max_connections", "force_disconnect":
            logger.error(
                "another client with this API key took over the feed connection; backing off at the cap",
                metadata: ["status": "\(attempt.mask(status.status))", "message": "\(attempt.mask(status.message))"])
            attempt.end(.takenOver(status.status))
            return .close
        case "slow_consumer":
            intake.stats.slowConsumerWarnings.add(1)
            intake.health?.errors.record(.rateLimit, message: "slow_consumer: \(attempt.mask(status.message))")
            logger.warning(
                "the feed reports this client as a slow consumer",
                metadata: ["message": "\(attempt.mask(status.message))", "count": "\(intake.stats.slowConsumerWarnings.load(ordering: .relaxed))"])
        default:
            logger.info("feed status", metadata: ["status": "\(attempt.mask(status.status))", "message": "\(attempt.mask(status.message))"])
        }
        return .none
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

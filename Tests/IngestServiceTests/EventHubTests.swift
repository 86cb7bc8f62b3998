import Testing

@testable import IngestService

/// `/events` fan-out: publishing never waits; a client that does not keep up is dropped and counted.
@Suite("Event hub")
struct EventHubTests {
    @Test("every client gets every event, in order")
    func fanOut() async {
        let hub = EventHub()
        let first = hub.subscribe()
        let second = hub.subscribe()
        hub.publish("a")
        hub.publish("b")
        #expect(hub.clientCount == 2)
        var one = first.makeAsyncIterator()
        var two = second.makeAsyncIterator()
        #expect(await one.next() == "a")
        #expect(await one.next() == "b")
        #expect(await two.next() == "a")
    }

    @Test("a client whose queue is full is dropped, counted, and its stream ends; the others carry on")
    func slowClientDropped() async {
        let hub = EventHub()
        let slow = hub.subscribe()
        for index in 0...EventHub.clientQueueLimit { hub.publish("e\(index)") }
        #expect(hub.droppedClients == 1)
        #expect(hub.clientCount == 0)
        var received = 0
        for await _ in slow { received += 1 }
        #expect(received == EventHub.clientQueueLimit, "what was queued is still delivered, then the stream ends")
        let fresh = hub.subscribe()
        hub.publish("after")
        var iterator = fresh.makeAsyncIterator()
        #expect(await iterator.next() == "after")
    }

    @Test("the ticker's wait for a client: at once with one, released by the first subscribe, and by cancellation",
          .timeLimit(.minutes(1)))
    func waitForClient() async {
        let hub = EventHub()
        let waiter = Task { await hub.waitForClient() }
        let stream = hub.subscribe()
        await waiter.value
        #expect(hub.clientCount == 1)
        await hub.waitForClient()

        let other = EventHub()
        let cancelled = Task { await other.waitForClient() }
        cancelled.cancel()
        await cancelled.value
        #expect(other.clientCount == 0, "cancelled with nobody subscribed")
        _ = stream
    }

    @Test("SSE framing: an event line, a data line, a blank line")
    func format() {
        #expect(EventHub.format(event: "report", data: "{}") == "event: report\ndata: {}\n\n")
    }
}

import Synchronization
import Testing

import OptionsFeed

@Suite("Threads and text without Foundation")
struct ThreadsAndTextTests {
    @Test("white space is trimmed from both ends and kept inside", arguments: [
        ("", ""), ("   ", ""), ("a", "a"), ("  a b  ", "a b"), ("\t\n value \r\n", "value"), ("x\u{00A0}", "x"),
        ("\u{2003}wide\u{2003}", "wide"), ("no-space", "no-space"),
    ])
    func trimming(_ text: String, _ trimmed: String) {
        #expect(text.trimmingWhitespace() == trimmed)
        #expect(text[...].trimmingWhitespace() == trimmed)
    }

    @Test("a detached thread runs its body, and a waiter it signals wakes before its timeout")
    func detachedThreadSignals() {
        let condition = ConditionLock()
        let done = Mutex(false)
        condition.lock()
        let started = DetachedThread.start {
            condition.lock()
            done.withLock { $0 = true }
            condition.signal()
            condition.unlock()
        }
        #expect(started)
        var signalled = true
        while !done.withLock({ $0 }), signalled { signalled = condition.wait(timeout: .seconds(30)) }
        condition.unlock()
        #expect(done.withLock { $0 })
        #expect(signalled)
    }

    @Test("a wait nobody signals times out; a timeout of zero or less does not wait", arguments: [
        Duration.milliseconds(5), .zero, .seconds(-1),
    ])
    func waitTimesOut(_ timeout: Duration) {
        let condition = ConditionLock()
        condition.lock()
        defer { condition.unlock() }
        // A spurious wake-up returns true; the time running out returns false, which is what a few tries must see.
        var timedOut = false
        for _ in 0..<100 where !timedOut { timedOut = !condition.wait(timeout: timeout) }
        #expect(timedOut)
    }
}

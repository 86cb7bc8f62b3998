import Foundation
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
        let started = DetachedThread.start(name: "test-thread") {
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

    @Test("a detached thread carries its name, cut to the kernel's 15 bytes", arguments: [
        ("spool-sync", "spool-sync"), ("a-name-longer-than-fifteen", "a-name-longer-t"),
    ])
    func threadName(_ name: String, _ shown: String) {
        let seen = Mutex<String?>(nil)
        let condition = ConditionLock()
        condition.lock()
        DetachedThread.start(name: name) {
            // What `top -H` reads for this thread.
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            condition.lock()
            seen.withLock { $0 = comm.trimmingWhitespace() }
            condition.signal()
            condition.unlock()
        }
        while seen.withLock({ $0 }) == nil, condition.wait(timeout: .seconds(30)) {}
        condition.unlock()
        #expect(seen.withLock { $0 } == shown)
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

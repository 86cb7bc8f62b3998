import Testing

@testable import IngestPipeline

@Suite("Recording rotation")
struct RecordingRotationTests {
    @Test("lines go to the file until the next one would pass the limit; then it rotates first")
    func rotatesBeforePassingTheLimit() {
        var rotation = RecordingRotation(configuration: .init(maxBytes: 100, keep: 3))
        #expect(rotation.admit(lineBytes: 60) == .append)
        #expect(rotation.admit(lineBytes: 40) == .append)
        #expect(rotation.currentBytes == 100)
        #expect(rotation.admit(lineBytes: 1) == .rotateFirst)
        #expect(rotation.currentBytes == 1)
        #expect(rotation.admit(lineBytes: 99) == .append)
        #expect(rotation.admit(lineBytes: 50) == .rotateFirst)
        #expect(rotation.currentBytes == 50)
    }

    @Test("a line longer than the limit is never split: it fills a file of its own")
    func oversizedLine() {
        var rotation = RecordingRotation(configuration: .init(maxBytes: 100, keep: 3))
        #expect(rotation.admit(lineBytes: 500) == .append)
        #expect(rotation.admit(lineBytes: 500) == .rotateFirst)
        #expect(rotation.admit(lineBytes: 10) == .rotateFirst)
    }

    @Test("an existing file's size counts: a restart appends to it until the limit")
    func existingFile() {
        var rotation = RecordingRotation(configuration: .init(maxBytes: 100, keep: 3), currentBytes: 95)
        #expect(rotation.admit(lineBytes: 5) == .append)
        #expect(rotation.admit(lineBytes: 5) == .rotateFirst)
    }

    @Test("the default is 256 MiB and 5 kept files")
    func defaults() {
        let configuration = RecordingRotation.Configuration()
        #expect(configuration.maxBytes == 268_435_456)
        #expect(configuration.keep == 5)
    }

    @Test("a rotation drops the oldest kept file and shifts the rest by one, oldest first, so nothing is overwritten")
    func plan() {
        let plan = RecordingRotation.plan(path: "/rec/feed.jsonl", keep: 3)
        #expect(plan.delete == "/rec/feed.jsonl.3")
        #expect(plan.renames == [
            .init(from: "/rec/feed.jsonl.2", to: "/rec/feed.jsonl.3"),
            .init(from: "/rec/feed.jsonl.1", to: "/rec/feed.jsonl.2"),
            .init(from: "/rec/feed.jsonl", to: "/rec/feed.jsonl.1"),
        ])
        // Every rename's target was deleted or moved away before it.
        var freed: Set<String> = [plan.delete]
        for rename in plan.renames {
            #expect(freed.contains(rename.to))
            freed.insert(rename.from)
        }
    }

    @Test("with one file kept, the sealed file replaces the previous one")
    func keepOne() {
        let plan = RecordingRotation.plan(path: "f", keep: 1)
        #expect(plan.delete == "f.1")
        #expect(plan.renames == [.init(from: "f", to: "f.1")])
    }

    @Test("the replay order of a recording is oldest first, the file being written last")
    func replayOrder() {
        #expect(RecordingRotation.filesOldestFirst(path: "f", keep: 3) == ["f.3", "f.2", "f.1", "f"])
    }
}

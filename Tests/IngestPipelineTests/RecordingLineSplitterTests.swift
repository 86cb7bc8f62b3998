import Testing

@testable import IngestPipeline

@Suite("Recording line splitter")
struct RecordingLineSplitterTests {
    /// Feeds `input` in chunks of `chunkSize` and collects every line.
    func lines(_ input: String, chunkSize: Int, maximumLineBytes: Int = 1 << 20) -> [RecordingLineSplitter.Line] {
        var splitter = RecordingLineSplitter(maximumLineBytes: maximumLineBytes)
        var lines: [RecordingLineSplitter.Line] = []
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            splitter.append(bytes[offset..<min(bytes.count, offset + chunkSize)])
            offset += chunkSize
            while let line = splitter.nextLine() { lines.append(line) }
        }
        splitter.finish()
        while let line = splitter.nextLine() { lines.append(line) }
        #expect(splitter.nextLine() == nil)
        return lines
    }

    func text(_ line: RecordingLineSplitter.Line) -> String { String(decoding: line.bytes, as: UTF8.self) }

    @Test("lines are numbered from 1 whatever the chunk size", arguments: [1, 2, 3, 7, 1000])
    func numbering(_ chunkSize: Int) {
        let lines = lines("first\nsecond\n\nfourth\n", chunkSize: chunkSize)
        #expect(lines.map(text) == ["first", "second", "", "fourth"])
        #expect(lines.map(\.number) == [1, 2, 3, 4])
        #expect(lines.allSatisfy { $0.terminated && !$0.oversized })
    }

    @Test("a last line without its newline is handed out at the end, marked unterminated", arguments: [1, 4, 1000])
    func truncatedLastLine(_ chunkSize: Int) {
        let lines = lines("one\ntwo\n{\"rx\":12,\"fra", chunkSize: chunkSize)
        #expect(lines.map(text) == ["one", "two", "{\"rx\":12,\"fra"])
        #expect(lines.map(\.terminated) == [true, true, false])
        #expect(lines.last?.number == 3)
    }

    @Test("an empty input has no lines")
    func emptyInput() {
        #expect(lines("", chunkSize: 10).isEmpty)
    }

    @Test("a line longer than the limit is reported as oversized, not buffered, and the next line is whole", arguments: [1, 5, 64])
    func oversizedLine(_ chunkSize: Int) {
        let long = String(repeating: "x", count: 200)
        let lines = lines("ok\n\(long)\nnext\n\(long)", chunkSize: chunkSize, maximumLineBytes: 50)
        #expect(lines.map(\.number) == [1, 2, 3, 4])
        #expect(lines.map(\.oversized) == [false, true, false, true])
        #expect(text(lines[2]) == "next")
        #expect(lines[3].terminated == false)
    }
}

// libFuzzer entry for the frame decoder and the symbol parser (docs/guarantees.md).
// Compiled by scripts/fuzz together with Sources/OptionsFeed (same module),
// never by SwiftPM. The checks live in FrameFuzzProbe, which the corpus
// regression test (Tests/OptionsFeedTests/FuzzCorpusTests.swift) runs too.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FrameFuzzProbe.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

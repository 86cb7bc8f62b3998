// libFuzzer entry for spool segment reading (docs/guarantees.md). Compiled by
// scripts/fuzz together with the spool sources of IngestPipeline (same
// module), never by SwiftPM. The checks live in SpoolFuzzProbe, which the
// corpus regression test (Tests/IngestSpoolTests/SpoolFuzzCorpusTests.swift) runs too.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpoolSegment(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = SpoolFuzzProbe.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

import OptionsFeed

/// What the spool fuzzer (`Fuzz/SpoolSegmentFuzzer.swift`, `scripts/fuzz`)
/// and its corpus regression test run on one input (docs/guarantees.md): the bytes as a
/// segment file read back at replay, and as one record's payload (past the
/// checksum, which random bytes would almost never pass). Properties are
/// checked with `precondition`, so a violation is a crash libFuzzer reports.
enum SpoolFuzzProbe {
    struct Outcome: Sendable, Equatable {
        /// Records of the input read as a segment.
        var batches = 0
        var corruptRecords = 0
        /// Trades when the input decodes as one payload; `nil` when it does not.
        var payloadTrades: Int?
    }

    static func run(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var outcome = Outcome()
        let segment = Spool.parse(bytes)
        outcome.batches = segment.batches.count
        outcome.corruptRecords = segment.corrupt
        precondition(segment.corrupt >= 0 && segment.batches.count + segment.corrupt <= bytes.count / 8 + 1, "more records than bytes")
        for trade in segment.batches.joined() {
            precondition(SpoolRecordCodec.isPlausible(trade), "a replayed trade the writers could not store")
        }

        if let trades = SpoolRecordCodec.decode(bytes) {
            outcome.payloadTrades = trades.count
            for trade in trades { precondition(SpoolRecordCodec.isPlausible(trade), "a decoded trade the writers could not store") }
            // Decoding consumed every byte, so encoding again in the same version gives the same bytes.
            var encoded: [UInt8] = []
            if bytes.first == SpoolRecordCodec.version1 {
                precondition(SpoolRecordCodec.encodeVersion1(trades, into: &encoded), "a version 1 payload does not fit version 1")
            } else {
                SpoolRecordCodec.encode(trades, into: &encoded)
            }
            precondition(encoded.elementsEqual(bytes), "payload does not round-trip")
            // The same payload as a well-formed record of a segment reads back the same.
            guard let length = UInt32(exactly: bytes.count) else { return outcome }
            var record: [UInt8] = []
            SpoolRecordCodec.append(length, to: &record)
            SpoolRecordCodec.append(CRC32C.checksum(bytes), to: &record)
            record += bytes
            let wrapped = record.withUnsafeBytes { Spool.parse($0) }
            precondition(wrapped.corrupt == 0 && wrapped.batches == [trades], "a checksummed record reads back differently")
        }
        return outcome
    }
}

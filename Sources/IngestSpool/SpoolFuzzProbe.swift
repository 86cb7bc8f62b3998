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
        /// Records (rows) when the input decodes as one payload; `nil` when it does not.
        var payloadRecords: Int?
        /// Their kind, when it decodes.
        var payloadKind: RecordKind?
    }

    static func run(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var outcome = Outcome()
        let segment = Spool.parse(bytes)
        outcome.batches = segment.batches.count
        outcome.corruptRecords = segment.corrupt
        precondition(segment.corrupt >= 0 && segment.batches.count + segment.corrupt <= bytes.count / 8 + 1, "more records than bytes")
        for batch in segment.batches {
            precondition(SpoolRecordCodec.isPlausible(batch), "a replayed record the writers could not store")
        }
        // Batches joined across records hold the same records in the same order, one kind each.
        do {
            let reader = SpoolSegmentReader(bytes: bytes)
            var joined: [RecordBatch] = []
            while let batch = try reader.nextBatch(upTo: 3) {
                precondition(!batch.isEmpty && batch.count <= 3, "a joined batch of the wrong size")
                joined.append(batch)
            }
            precondition(RecordBatch.flattened(joined) == RecordBatch.flattened(segment.batches), "joined batches differ from the records")
        } catch {
            preconditionFailure("reading bytes in memory does no I/O: \(error)")
        }

        if let batch = SpoolRecordCodec.decode(bytes) {
            outcome.payloadRecords = batch.count
            outcome.payloadKind = batch.kind
            precondition(SpoolRecordCodec.isPlausible(batch), "a decoded record the writers could not store")
            // Decoding consumed every byte, so encoding again in the same format gives the same bytes.
            var encoded: [UInt8] = []
            if bytes.first == SpoolRecordCodec.version1 {
                precondition(SpoolRecordCodec.encodeVersion1(batch.trades, into: &encoded), "a version 1 payload does not fit version 1")
            } else {
                SpoolRecordCodec.encode(batch, into: &encoded)
            }
            precondition(encoded.elementsEqual(bytes), "payload does not round-trip")
            // The same payload as a well-formed record of a segment reads back the same.
            guard let length = UInt32(exactly: bytes.count) else { return outcome }
            var record: [UInt8] = []
            SpoolRecordCodec.append(length, to: &record)
            SpoolRecordCodec.append(CRC32C.checksum(bytes), to: &record)
            record += bytes
            let wrapped = record.withUnsafeBytes { Spool.parse($0) }
            precondition(wrapped.corrupt == 0 && wrapped.batches == [batch], "a checksummed record reads back differently")
        }
        return outcome
    }
}

extension RecordBatch {
    /// Each non-empty run of one kind as one batch, consecutive runs of a kind
    /// joined: what `SpoolSegmentReader.nextBatch` must preserve.
    static func flattened(_ batches: [RecordBatch]) -> [RecordBatch] {
        var runs: [RecordBatch] = []
        for batch in batches where !batch.isEmpty {
            guard let last = runs.last, last.kind == batch.kind else {
                runs.append(batch)
                continue
            }
            runs[runs.count - 1] = RecordBatch.grouped([last, batch])[0]
        }
        return runs
    }
}

/// The layout Polygon writes an aggregate bar in, keys in the order of its
/// documentation, no whitespace, plain numbers (docs/design.md §4.4):
///
///     {"ev":"AM","sym":"O:SPY251219C00650000","v":120,"av":4500,"op":11.5,"vw":12.0125,"o":12.1,"c":12.2,"h":12.5,"l":11.9,"a":11.98,"z":6,"s":1764772200000,"e":1764772260000}
///
/// (`ev` `A` or `AM`; `av`, `op`, `a`, `z` may be left out). As for trades
/// (`CanonicalTrade`), any other shape returns `nil` and the general scanner
/// reads the event from its start into the same `AggregateFields`, so a bar
/// is validated the same way whichever path read it.
enum CanonicalAggregate {
    /// Reads the bar starting at `start` (its `{`) into `fields`; returns the
    /// index after its `}`, or `nil` (with `fields` untouched) when the event
    /// is not in the canonical layout.
    @inline(__always)
    static func read(_ bytes: UnsafeRawBufferPointer, at start: Int, into fields: inout AggregateFields) -> Int? {
        var cursor = CanonicalTrade.Cursor(bytes: bytes, index: start)
        // {"ev":"A then M" or "; then ,"sym":"
        guard cursor.skipLiteral(#"{"ev":"A"#) else { return nil }
        _ = cursor.skip(UInt8(ascii: "M"))
        guard cursor.skipLiteral(#"","sym":""#), let sym = cursor.plainString() else { return nil }
        guard cursor.skipKey(UInt8(ascii: "v")), let v = cursor.decimal(fraction: false) else { return nil }
        var read = AggregateFields()
        read.sym = sym
        read.v = v
        if cursor.skipLiteral(#","av":"#) {
            guard let value = cursor.decimal(fraction: false) else { return nil }
            read.av = value
        }
        if cursor.skipLiteral(#","op":"#) {
            guard let value = cursor.decimal(fraction: true) else { return nil }
            read.op = value
        }
        guard cursor.skipLiteral(#","vw":"#), let vw = cursor.decimal(fraction: true),
            cursor.skipKey(UInt8(ascii: "o")), let o = cursor.decimal(fraction: true),
            cursor.skipKey(UInt8(ascii: "c")), let c = cursor.decimal(fraction: true),
            cursor.skipKey(UInt8(ascii: "h")), let h = cursor.decimal(fraction: true),
            cursor.skipKey(UInt8(ascii: "l")), let l = cursor.decimal(fraction: true)
        else { return nil }
        if cursor.skipKey(UInt8(ascii: "a")) {
            guard let value = cursor.decimal(fraction: true) else { return nil }
            read.a = value
        }
        if cursor.skipKey(UInt8(ascii: "z")) {
            guard let value = cursor.decimal(fraction: true) else { return nil }
            read.z = value
        }
        guard cursor.skipKey(UInt8(ascii: "s")), let s = cursor.decimal(fraction: false),
            cursor.skipKey(UInt8(ascii: "e")), let e = cursor.decimal(fraction: false),
            cursor.skip(UInt8(ascii: "}"))
        else { return nil }
        (read.vw, read.o, read.c, read.h, read.l, read.s, read.e) = (vw, o, c, h, l, s, e)
        fields = read
        return cursor.index
    }
}

extension CanonicalTrade.Cursor {
    /// The bytes of `text`, exactly.
    @inline(__always)
    mutating func skipLiteral(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] {
            return false
        }
        index += count
        return true
    }
}

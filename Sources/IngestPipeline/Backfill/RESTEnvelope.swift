/// The fields every page carries besides its results: `status`, `error`,
/// `message`, `next_url` (the rest, such as `request_id`, is skipped).
struct RESTEnvelope {
    var status: String?
    var error: String?
    var message: String?
    var nextURL: String?

    /// Reads a page's object: each element of `results` through `element`
    /// (a `null` list is an empty one), the envelope's fields into the
    /// envelope returned, nothing after the object; then throws the API's error if it sent one.
    static func readPage(
        _ bytes: UnsafeRawBufferPointer, element: (inout RESTJSONReader) throws(RESTPageError) -> Void
    ) throws(RESTPageError) -> RESTEnvelope {
        var reader = RESTJSONReader(bytes: bytes)
        var envelope = RESTEnvelope()
        var more = try reader.openObject()
        while more {
            let key = try reader.key()
            if reader.isKey(key, "results") {
                if try !reader.skipNull() {
                    var another = try reader.openArray()
                    while another {
                        try element(&reader)
                        another = try reader.nextElement()
                    }
                }
            } else {
                try envelope.read(key: key, from: &reader)
            }
            more = try reader.nextField()
        }
        try reader.expectEnd()
        try envelope.check()
        return envelope
    }

    /// Reads the value of `key` if it is an envelope field, else skips it.
    private mutating func read(key: Range<Int>, from reader: inout RESTJSONReader) throws(RESTPageError) {
        if try reader.skipNull() { return }
        if reader.isKey(key, "status") {
            status = try reader.string()
        } else if reader.isKey(key, "next_url") {
            nextURL = try reader.string()
        } else if reader.isKey(key, "error") {
            error = try reader.string()
        } else if reader.isKey(key, "message") {
            message = try reader.string()
        } else {
            try reader.skipValue()
        }
    }

    /// Throws the API's error: a status other than `OK` or `DELAYED` (the
    /// status of plans with delayed data), or an `error` field.
    private func check() throws(RESTPageError) {
        let failed = status.map { $0 != "OK" && $0 != "DELAYED" } ?? false
        guard failed || error != nil else { return }
        throw RESTPageError.apiError(status: status ?? "ERROR", message: error ?? message ?? "")
    }
}

/// The fields every page carries besides its results: `status`, `error`,
/// `message`, `next_url` (the rest, such as `request_id`, is skipped).
struct RESTEnvelope {
    var status: String?
    var error: String?
    var message: String?
    var nextURL: String?

    /// Reads the value of `key` if it is an envelope field, else skips it.
    mutating func read(key: Range<Int>, from reader: inout RESTJSONReader) throws(RESTPageError) {
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
    func check() throws(RESTPageError) {
        let failed = status.map { $0 != "OK" && $0 != "DELAYED" } ?? false
        guard failed || error != nil else { return }
        throw RESTPageError.apiError(status: status ?? "ERROR", message: error ?? message ?? "")
    }
}

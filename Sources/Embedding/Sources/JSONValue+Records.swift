import SwitchyardJSON

/// Why a JSON text could not be read.
struct JSONProblem: Error {
    var message: String
}

extension JSONValue {
    /// Parses one JSON text, reporting a failure as a ``JSONProblem`` message.
    static func parseResult(_ bytes: some Collection<UInt8>) -> Result<JSONValue, JSONProblem> {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { buffer in
            do { return .success(try JSONParser.parse(bytes: buffer)) } catch {
                return .failure(JSONProblem(message: "malformed JSON: \(error)"))
            }
        }
    }

    /// The value as metadata text: strings as they are, anything else as compact JSON with sorted keys.
    var metadataText: String {
        if case .string(let s) = self { return s }
        return jsonText
    }

    /// Every string value, depth first, object members in key order.
    func collectStrings(into out: inout [String]) {
        switch self {
        case .string(let s): out.append(s)
        case .array(let items): for item in items { item.collectStrings(into: &out) }
        case .object(let members):
            for key in members.keys.sorted() { members[key]!.collectStrings(into: &out) }
        case .null, .bool, .int, .uint, .double: break
        }
    }
}

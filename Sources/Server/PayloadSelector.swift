import SwitchyardJSON
import VectorStore

/// `with_payload`: `true`, `false`, a list of keys, `{"include": …}` or `{"exclude": …}`. Keys may be dotted
/// paths (`a.b`): an included path keeps only that member of the nested object; an excluded one drops it.
enum PayloadSelector: Equatable {
    case all, none
    case include([String])
    case exclude([String])

    init(_ value: JSONValue?, default fallback: PayloadSelector, field: String) throws(APIError) {
        guard let value, value != .null else {
            self = fallback
            return
        }
        switch value {
        case .bool(let b): self = b ? .all : .none
        case .array(let keys): self = .include(try Self.keys(keys, field))
        case .object(let o):
            if let inc = o["include"] {
                self = .include(try Self.keys(inc.arrayValue ?? [inc], field + ".include"))
            } else if let exc = o["exclude"] {
                self = .exclude(try Self.keys(exc.arrayValue ?? [exc], field + ".exclude"))
            } else {
                throw APIError.format("\(field): expected true, false, a list of keys, {\"include\": …} or {\"exclude\": …}")
            }
        default:
            throw APIError.format("\(field): expected true, false, a list of keys, {\"include\": …} or {\"exclude\": …}, got \(value.typeName)")
        }
    }

    private static func keys(_ values: [JSONValue], _ field: String) throws(APIError) -> [String] {
        var out: [String] = []
        for v in values {
            guard case .string(let s) = v else { throw APIError.format("\(field): keys must be strings, got \(v.typeName)") }
            out.append(s)
        }
        return out
    }

    var wantsPayload: Bool { self != .none }

    /// The payload as this selector shows it (nil when no payload is wanted).
    func apply(_ payload: Payload?) -> Payload? {
        switch self {
        case .none: return nil
        case .all: return payload ?? [:]
        case .include(let keys):
            var out: Payload = [:]
            for key in keys { Self.copy(path: key.split(separator: ".").map(String.init)[...], from: payload ?? [:], into: &out) }
            return out
        case .exclude(let keys):
            var out = payload ?? [:]
            for key in keys { Self.remove(path: key.split(separator: ".").map(String.init)[...], from: &out) }
            return out
        }
    }

    private static func copy(path: ArraySlice<String>, from source: Payload, into out: inout Payload) {
        guard let first = path.first, let value = source[first] else { return }
        if path.count == 1 {
            out[first] = value
            return
        }
        guard case .object(let inner) = value else { return }
        var nested: Payload = out[first]?.objectValue ?? [:]
        copy(path: path.dropFirst(), from: inner, into: &nested)
        if !nested.isEmpty { out[first] = .object(nested) }
    }

    private static func remove(path: ArraySlice<String>, from payload: inout Payload) {
        guard let first = path.first else { return }
        if path.count == 1 {
            payload.removeValue(forKey: first)
            return
        }
        guard case .object(var inner)? = payload[first] else { return }
        remove(path: path.dropFirst(), from: &inner)
        payload[first] = .object(inner)
    }
}

/// `with_vector(s)`: `true`, `false` or a list of vector names (only the unnamed vector, `""`, exists here).
func vectorSelector(_ value: JSONValue?, default fallback: Bool, field: String) throws(APIError) -> Bool {
    guard let value, value != .null else { return fallback }
    switch value {
    case .bool(let b): return b
    case .array(let names):
        if names.isEmpty { return false }
        if names.allSatisfy({ $0 == .string("") }) { return true }
        throw APIError.unsupported("\(field) with vector names (named vectors)")
    default:
        throw APIError.format("\(field): expected true, false or a list of vector names, got \(value.typeName)")
    }
}

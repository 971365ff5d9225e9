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

/// `with_vector(s)`: `true`, `false` or a list of vector names. Renders a point's vector as Qdrant does: a
/// list for the unnamed vector, `{"name": [...]}` for named vectors (the chosen ones).
enum VectorSelector: Equatable {
    case none, all
    case names([String])

    init(_ value: JSONValue?, default fallback: Bool, field: String) throws(APIError) {
        guard let value, value != .null else {
            self = fallback ? .all : .none
            return
        }
        switch value {
        case .bool(let b): self = b ? .all : .none
        case .array(let items):
            var names: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw APIError.format("\(field): vector names must be strings, got \(item.typeName)") }
                names.append(s)
            }
            self = names.isEmpty ? .none : .names(names)
        default:
            throw APIError.format("\(field): expected true, false or a list of vector names, got \(value.typeName)")
        }
    }

    var wanted: Bool { self != .none }

    /// Refuses names the collection does not have.
    func check(_ spaces: [VectorSpace]?) throws(APIError) {
        guard case .names(let names) = self else { return }
        let known = Set(spaces?.map(\.name) ?? [""])
        if let bad = names.first(where: { !known.contains($0) }) { throw APIError.wrongInput("Not existing vector name error: \(bad)") }
    }

    /// The `vector` member of a record or scored point (nil: left out).
    func render(_ vector: [Float]?, spaces: [VectorSpace]?) -> JSONValue? {
        guard let vector, wanted else { return nil }
        func list(_ v: ArraySlice<Float>) -> JSONValue { .array(v.map { .double(Double($0)) }) }
        // A layout that does not fit the vector (the collection was dropped and made again between reading
        // its layout and its points) shows the vector whole rather than cutting it wrong.
        guard let spaces, spaces.reduce(0, { $0 + $1.dimension }) == vector.count else { return list(vector[...]) }
        var out: [String: JSONValue] = [:]
        var at = 0
        for s in spaces {
            if case .names(let names) = self, !names.contains(s.name) {
                at += s.dimension
                continue
            }
            out[s.name] = list(vector[at..<(at + s.dimension)])
            at += s.dimension
        }
        return .object(out)
    }
}

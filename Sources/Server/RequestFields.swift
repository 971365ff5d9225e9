import SwitchyardJSON
import VectorStore

/// Typed access to a JSON request body's members, with errors that name the member (`Format error in JSON
/// body: limit: expected an unsigned integer, got string`).
package struct Fields {
    package let members: [String: JSONValue]
    /// Where these members are, for messages (`searches[2].`).
    package let path: String

    package init(_ value: JSONValue?, path: String = "") throws(APIError) {
        switch value {
        case nil, .null?: members = [:]
        case .object(let m)?: members = m
        case let other?: throw APIError.format("\(path.isEmpty ? "body" : String(path.dropLast())): expected an object, got \(other.typeName)")
        }
        self.path = path
    }

    package subscript(_ key: String) -> JSONValue? {
        switch members[key] {
        case nil, .null?: nil
        case let v?: v
        }
    }

    package func name(_ key: String) -> String { path + key }

    package func has(_ key: String) -> Bool { self[key] != nil }

    package func object(_ key: String) throws(APIError) -> Fields? {
        guard let v = self[key] else { return nil }
        guard case .object = v else { throw APIError.format("\(name(key)): expected an object, got \(v.typeName)") }
        return try Fields(v, path: "\(name(key)).")
    }

    package func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let v = self[key] else { return nil }
        guard case .array(let a) = v else { throw APIError.format("\(name(key)): expected an array, got \(v.typeName)") }
        return a
    }

    package func string(_ key: String) throws(APIError) -> String? {
        guard let v = self[key] else { return nil }
        guard case .string(let s) = v else { throw APIError.format("\(name(key)): expected a string, got \(v.typeName)") }
        return s
    }

    /// A list of strings.
    package func strings(_ key: String) throws(APIError) -> [String]? {
        guard let values = try array(key) else { return nil }
        var out: [String] = []
        for v in values {
            guard case .string(let s) = v else { throw APIError.format("\(name(key)): expected a list of strings, got \(v.typeName) in it") }
            out.append(s)
        }
        return out
    }

    /// An object of names and numbers (`{"min_self_recall": 0.9}`).
    package func numbers(_ key: String) throws(APIError) -> [String: Double]? {
        guard let v = self[key] else { return nil }
        guard case .object(let o) = v else { throw APIError.format("\(name(key)): expected an object of name: number, got \(v.typeName)") }
        var out: [String: Double] = [:]
        for (k, x) in o {
            guard let d = x.numberValue else { throw APIError.format("\(name(key)).\(k): expected a number, got \(x.typeName)") }
            out[k] = d
        }
        return out
    }

    package func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = self[key] else { return nil }
        guard case .bool(let b) = v else { throw APIError.format("\(name(key)): expected a boolean, got \(v.typeName)") }
        return b
    }

    /// An unsigned integer (`limit`, `offset`, `size`).
    package func uint(_ key: String) throws(APIError) -> Int? {
        guard let v = self[key] else { return nil }
        switch v {
        case .int(let i) where i >= 0: return Int(i)
        case .uint(let u) where u <= UInt64(Int.max): return Int(u)
        default: throw APIError.format("\(name(key)): expected an unsigned integer, got \(Self.describe(v))")
        }
    }

    package func float(_ key: String) throws(APIError) -> Float? {
        guard let v = self[key] else { return nil }
        guard let d = v.numberValue else { throw APIError.format("\(name(key)): expected a number, got \(v.typeName)") }
        return Float(d)
    }

    /// A filter, parsed by the store's Qdrant filter parser.
    package func filter(_ key: String = "filter") throws(APIError) -> Filter? {
        guard let v = self[key] else { return nil }
        do { return try Filter(json: v) } catch {
            throw APIError.format("\(name(key)): \(error.message)")
        }
    }

    /// Rejects members this server does not implement, naming the first one present.
    package func refuse(_ keys: [String: String]) throws(APIError) {
        for key in keys.keys.sorted() where has(key) { throw APIError.unsupported(keys[key]!) }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .int(let i): "\(i)"
        case .uint(let u): "\(u)"
        case .double(let d): "\(d)"
        default: v.typeName
        }
    }
}

extension APIError {
    /// A point id from JSON: an unsigned integer or a UUID string.
    static func pointID(_ v: JSONValue, _ what: String) throws(APIError) -> PointID {
        guard let id = PointID(json: v) else {
            throw APIError.format("\(what): expected an unsigned integer or a UUID, got \(Fields.describe(v))")
        }
        return id
    }

    /// A dense vector from JSON, checked for finite components.
    static func vector(_ v: JSONValue, _ what: String) throws(APIError) -> [Float] {
        guard case .array(let items) = v else {
            if case .object = v { throw APIError.unsupported("\(what): named vectors") }
            throw APIError.format("\(what): expected an array of numbers, got \(v.typeName)")
        }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            switch item {
            case .array: throw APIError.unsupported("\(what): multivectors")
            case .object: throw APIError.unsupported("\(what): sparse vectors")
            default: break
            }
            guard let d = item.numberValue else { throw APIError.format("\(what)[\(i)]: expected a number, got \(item.typeName)") }
            let f = Float(d)
            guard f.isFinite else { throw APIError.wrongInput("\(what)[\(i)]: the vector holds a non-finite number (\(d))") }
            out.append(f)
        }
        return out
    }
}

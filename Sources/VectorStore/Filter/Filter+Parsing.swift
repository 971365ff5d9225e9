extension Filter {
    /// Parses a filter from JSON text in Qdrant's REST format.
    ///
    /// - Throws: ``StoreError`` (`invalidArgument`) naming the offending place, e.g.
    ///   `filter.must[1].match: unknown member 'vale'`.
    public init(json text: String) throws(StoreError) {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch { throw .invalid("malformed filter: \(error)") }
        try self.init(json: value)
    }

    /// Parses a filter from a JSON value in Qdrant's REST format.
    public init(json value: JSONValue) throws(StoreError) {
        self = try FilterParser.filter(value, at: "filter")
    }
}

enum FilterParser {
    static func object(_ v: JSONValue, at path: String) throws(StoreError) -> [String: JSONValue] {
        guard case .object(let o) = v else { throw .invalid("\(path): expected an object, got \(v.typeName)") }
        return o
    }

    static func checkMembers(_ o: [String: JSONValue], allowed: Set<String>, at path: String) throws(StoreError) {
        for k in o.keys.sorted() where !allowed.contains(k) {
            throw .invalid("\(path): unknown member '\(k)' (expected one of \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    static func filter(_ v: JSONValue, at path: String) throws(StoreError) -> Filter {
        let o = try object(v, at: path)
        try checkMembers(o, allowed: ["must", "should", "must_not", "min_should"], at: path)
        var f = Filter()
        f.must = try conditions(o["must"], at: path + ".must")
        f.should = try conditions(o["should"], at: path + ".should")
        f.mustNot = try conditions(o["must_not"], at: path + ".must_not")
        if let ms = o["min_should"], ms != .null {
            let mo = try object(ms, at: path + ".min_should")
            try checkMembers(mo, allowed: ["conditions", "min_count"], at: path + ".min_should")
            guard let c = mo["conditions"] else { throw .invalid("\(path).min_should: missing 'conditions'") }
            guard case .int(let n)? = mo["min_count"], n >= 0 else {
                throw .invalid("\(path).min_should.min_count: expected a non-negative integer")
            }
            f.minShould = .init(conditions: try conditions(c, at: path + ".min_should.conditions"), minCount: Int(n))
        }
        return f
    }

    static func conditions(_ v: JSONValue?, at path: String) throws(StoreError) -> [Condition] {
        guard let v, v != .null else { return [] }
        if case .array(let a) = v {
            var out: [Condition] = []
            for (i, e) in a.enumerated() { out.append(try condition(e, at: "\(path)[\(i)]")) }
            return out
        }
        return [try condition(v, at: path)]
    }

    static func condition(_ v: JSONValue, at path: String) throws(StoreError) -> Condition {
        let o = try object(v, at: path)
        for unsupported in ["geo_radius", "geo_bounding_box", "geo_polygon"] where o[unsupported] != nil {
            throw .invalid("\(path): '\(unsupported)' conditions are not supported")
        }
        if let key = o["key"] {
            try checkMembers(o, allowed: ["key", "match", "range", "values_count"], at: path)
            guard case .string(let k) = key else { throw .invalid("\(path).key: expected a string") }
            let p = try payloadPath(k, at: path + ".key")
            var fc = FieldCondition()
            if let m = o["match"] { fc.match = try match(m, at: path + ".match") }
            if let r = o["range"] { fc.range = try bounds(r, at: path + ".range", integers: false) }
            if let c = o["values_count"] { fc.valuesCount = try bounds(c, at: path + ".values_count", integers: true) }
            if fc.match == nil && fc.range == nil && fc.valuesCount == nil {
                throw .invalid("\(path): a field condition needs 'match', 'range' or 'values_count'")
            }
            return .field(key: p, fc)
        }
        if let e = o["is_empty"] {
            try checkMembers(o, allowed: ["is_empty"], at: path)
            return .isEmpty(key: try keyOf(e, at: path + ".is_empty"))
        }
        if let e = o["is_null"] {
            try checkMembers(o, allowed: ["is_null"], at: path)
            return .isNull(key: try keyOf(e, at: path + ".is_null"))
        }
        if let ids = o["has_id"] {
            try checkMembers(o, allowed: ["has_id"], at: path)
            if path.contains(".nested.filter") {
                throw .invalid("\(path).has_id: not allowed inside a nested filter (it applies to points, not to array elements)")
            }
            guard case .array(let a) = ids else { throw .invalid("\(path).has_id: expected an array of ids") }
            var set = Set<PointID>()
            for (i, e) in a.enumerated() {
                guard let id = PointID(json: e) else {
                    throw .invalid("\(path).has_id[\(i)]: not a point id (a non-negative integer or a UUID string)")
                }
                set.insert(id)
            }
            return .hasID(set)
        }
        if let n = o["nested"] {
            try checkMembers(o, allowed: ["nested"], at: path)
            let no = try object(n, at: path + ".nested")
            try checkMembers(no, allowed: ["key", "filter"], at: path + ".nested")
            let key = try keyOf(n, at: path + ".nested")
            guard let inner = no["filter"] else { throw .invalid("\(path).nested: missing 'filter'") }
            return .nested(key: key, try filter(inner, at: path + ".nested.filter"))
        }
        if o.keys.contains(where: { ["must", "should", "must_not", "min_should"].contains($0) }) {
            return .filter(try filter(v, at: path))
        }
        if o.isEmpty { return .filter(Filter()) }
        throw .invalid("\(path): unknown condition with members \(o.keys.sorted().joined(separator: ", "))")
    }

    static func keyOf(_ v: JSONValue, at path: String) throws(StoreError) -> PayloadPath {
        let o = try object(v, at: path)
        guard case .string(let k)? = o["key"] else { throw .invalid("\(path).key: expected a string") }
        return try payloadPath(k, at: path + ".key")
    }

    /// Parses a payload key, naming the place in the filter when it is malformed.
    static func payloadPath(_ key: String, at path: String) throws(StoreError) -> PayloadPath {
        do { return try PayloadPath(key) } catch { throw .invalid("\(path): \(error.message)") }
    }

    static func matchValue(_ v: JSONValue, at path: String) throws(StoreError) -> MatchValue {
        switch v {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .bool(let b): return .bool(b)
        default: throw .invalid("\(path): match value must be a string, an integer or a boolean, got \(v.typeName) \(v.jsonText)")
        }
    }

    static func matchList(_ v: JSONValue, at path: String) throws(StoreError) -> [MatchValue] {
        guard case .array(let a) = v else { throw .invalid("\(path): expected an array") }
        var out: [MatchValue] = []
        for (i, e) in a.enumerated() {
            switch e {
            case .string(let s): out.append(.string(s))
            case .int(let n): out.append(.int(n))
            default: throw .invalid("\(path)[\(i)]: expected a string or an integer, got \(e.typeName)")
            }
        }
        return out
    }

    static func match(_ v: JSONValue, at path: String) throws(StoreError) -> Match {
        let o = try object(v, at: path)
        try checkMembers(o, allowed: ["value", "any", "except", "text"], at: path)
        guard o.count == 1, let (k, x) = o.first else {
            throw .invalid("\(path): expected exactly one of value, any, except, text")
        }
        switch k {
        case "value": return .value(try matchValue(x, at: path + ".value"))
        case "any": return .any(try matchList(x, at: path + ".any"))
        case "except": return .except(try matchList(x, at: path + ".except"))
        default:
            guard case .string(let s) = x else { throw .invalid("\(path).text: expected a string") }
            return .text(s)
        }
    }

    static func bounds(_ v: JSONValue, at path: String, integers: Bool) throws(StoreError) -> RangeBounds {
        let o = try object(v, at: path)
        try checkMembers(o, allowed: ["gt", "gte", "lt", "lte"], at: path)
        var r = RangeBounds()
        func num(_ name: String) throws(StoreError) -> Double? {
            guard let x = o[name], x != .null else { return nil }
            if case .string = x { throw .invalid("\(path).\(name): datetime ranges are not supported; use a number") }
            guard let d = x.numberValue else { throw .invalid("\(path).\(name): expected a number, got \(x.typeName)") }
            if integers, case .double = x { throw .invalid("\(path).\(name): expected an integer") }
            return d
        }
        r.gt = try num("gt")
        r.gte = try num("gte")
        r.lt = try num("lt")
        r.lte = try num("lte")
        return r
    }
}

import SwitchyardJSON

extension Filter {
    /// The filter in Qdrant's REST format, as ``init(json:)-(JSONValue)`` reads it (absent clauses are left out):
    /// what a client sends to a Qdrant server.
    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if !must.isEmpty { o["must"] = .array(must.map(\.json)) }
        if !should.isEmpty { o["should"] = .array(should.map(\.json)) }
        if !mustNot.isEmpty { o["must_not"] = .array(mustNot.map(\.json)) }
        if let minShould {
            o["min_should"] = ["conditions": .array(minShould.conditions.map(\.json)), "min_count": .int(Int64(minShould.minCount))]
        }
        return .object(o)
    }
}

extension Condition {
    /// The condition in Qdrant's REST format.
    public var json: JSONValue {
        switch self {
        case .field(let key, let c):
            var o: [String: JSONValue] = ["key": .string(key.description)]
            if let m = c.match { o["match"] = m.json }
            if let r = c.range { o["range"] = r.json }
            if let v = c.valuesCount { o["values_count"] = v.json(integers: true) }
            return .object(o)
        case .isEmpty(let key): return ["is_empty": ["key": .string(key.description)]]
        case .isNull(let key): return ["is_null": ["key": .string(key.description)]]
        case .hasID(let ids): return ["has_id": .array(ids.sorted().map(\.json))]
        case .nested(let key, let f): return ["nested": ["key": .string(key.description), "filter": f.json]]
        case .filter(let f): return f.json
        }
    }
}

extension Match {
    var json: JSONValue {
        switch self {
        case .value(let v): ["value": v.json]
        case .any(let vs): ["any": .array(vs.map(\.json))]
        case .except(let vs): ["except": .array(vs.map(\.json))]
        case .text(let t): ["text": .string(t)]
        }
    }
}

extension MatchValue {
    var json: JSONValue {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        case .bool(let b): .bool(b)
        }
    }
}

extension RangeBounds {
    var json: JSONValue { json(integers: false) }

    func json(integers: Bool) -> JSONValue {
        func value(_ d: Double) -> JSONValue {
            integers && d == d.rounded() && abs(d) < 9e15 ? .int(Int64(d)) : .double(d)
        }
        var o: [String: JSONValue] = [:]
        if let gt { o["gt"] = value(gt) }
        if let gte { o["gte"] = value(gte) }
        if let lt { o["lt"] = value(lt) }
        if let lte { o["lte"] = value(lte) }
        return .object(o)
    }
}

extension Filter {
    /// Whether a point with this id and payload satisfies the filter.
    ///
    /// - Complexity: proportional to the conditions and the payload values they touch.
    public func matches(id: PointID, payload: Payload) -> Bool {
        evaluate(root: .object(payload), id: id)
    }

    func evaluate(root: JSONValue, id: PointID?) -> Bool {
        for c in must where !c.holds(root: root, id: id) { return false }
        for c in mustNot where c.holds(root: root, id: id) { return false }
        if !should.isEmpty && !should.contains(where: { $0.holds(root: root, id: id) }) { return false }
        if let ms = minShould {
            var n = 0
            for c in ms.conditions where c.holds(root: root, id: id) { n += 1 }
            if n < ms.minCount { return false }
        }
        return true
    }
}

extension Condition {
    func holds(root: JSONValue, id: PointID?) -> Bool {
        switch self {
        case .field(let key, let fc):
            let values = key.values(in: root)
            let leaves = Self.leaves(values)
            if let m = fc.match, !Self.matches(m, leaves) { return false }
            if let r = fc.range, !leaves.contains(where: { $0.numberValue.map(r.contains) ?? false }) { return false }
            if let c = fc.valuesCount {
                let count = values.reduce(0) { n, v in
                    if case .array(let a) = v { return n + a.count }
                    return n + (v == .null ? 0 : 1)
                }
                if !c.contains(Double(count)) { return false }
            }
            return true
        case .isEmpty(let key):
            return key.values(in: root).allSatisfy { v in
                if v == .null { return true }
                if case .array(let a) = v { return a.isEmpty }
                return false
            }
        case .isNull(let key):
            return key.values(in: root).contains(.null)
        case .hasID(let ids):
            guard let id else { return false }
            return ids.contains(id)
        case .nested(let key, let inner):
            // As Qdrant: the nested key names an array (`key` means `key[]`); each element is tried alone.
            for v in key.values(in: root) {
                if case .array(let a) = v, a.contains(where: { inner.evaluate(root: $0, id: nil) }) { return true }
            }
            return false
        case .filter(let f):
            return f.evaluate(root: root, id: id)
        }
    }

    /// The values a match compares: arrays contribute their elements.
    static func leaves(_ values: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = []
        for v in values {
            if case .array(let a) = v { out.append(contentsOf: a) } else { out.append(v) }
        }
        return out
    }

    static func matches(_ m: Match, _ leaves: [JSONValue]) -> Bool {
        switch m {
        case .value(let x): return leaves.contains { x.equals($0) }
        case .any(let xs): return leaves.contains { l in xs.contains { $0.equals(l) } }
        case .except(let xs):
            return leaves.contains { l in l != .null && !xs.contains { $0.equals(l) } }
        case .text(let t):
            return leaves.contains { l in
                if case .string(let s) = l { return t.isEmpty || s.contains(t) }
                return false
            }
        }
    }
}

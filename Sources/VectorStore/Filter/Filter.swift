/// A Qdrant filter: `must`, `should`, `must_not` and `min_should` clauses over payload conditions.
///
/// ```swift
/// let f = try Filter(json: #"{"must": [{"key": "city", "match": {"value": "Berlin"}}]}"#)
/// f.matches(id: .number(1), payload: ["city": "Berlin"])   // true
/// ```
/// Semantics follow Qdrant: a missing field makes `match`, `range` and `except` false; an empty
/// `should` imposes no constraint; an integer `match` never equals a stored float; an array field
/// matches when any element does; `nested` needs one array element to satisfy the whole inner filter.
public struct Filter: Sendable, Equatable {
    public var must: [Condition]
    public var should: [Condition]
    public var mustNot: [Condition]
    public var minShould: MinShould?

    /// At least `minCount` of `conditions` must hold.
    public struct MinShould: Sendable, Equatable {
        public var conditions: [Condition]
        public var minCount: Int
    }

    public init(must: [Condition] = [], should: [Condition] = [], mustNot: [Condition] = [], minShould: MinShould? = nil) {
        self.must = must
        self.should = should
        self.mustNot = mustNot
        self.minShould = minShould
    }

    /// Whether the filter imposes no condition at all.
    public var isEmpty: Bool { must.isEmpty && should.isEmpty && mustNot.isEmpty && minShould == nil }
}

/// One filter condition.
public indirect enum Condition: Sendable, Equatable {
    /// A condition on the values found at `key`.
    case field(key: PayloadPath, FieldCondition)
    /// The field is missing, `null`, or an empty array.
    case isEmpty(key: PayloadPath)
    /// The field is present and `null`.
    case isNull(key: PayloadPath)
    /// The point's id is one of these.
    case hasID(Set<PointID>)
    /// Some element of the array (or object) at `key` satisfies the inner filter on its own.
    case nested(key: PayloadPath, Filter)
    /// A sub-filter.
    case filter(Filter)
}

/// The tests a field condition makes (all given ones must hold).
public struct FieldCondition: Sendable, Equatable {
    public var match: Match?
    public var range: RangeBounds?
    public var valuesCount: RangeBounds?

    public init(match: Match? = nil, range: RangeBounds? = nil, valuesCount: RangeBounds? = nil) {
        self.match = match
        self.range = range
        self.valuesCount = valuesCount
    }
}

/// A `match` clause.
public enum Match: Sendable, Equatable {
    /// The field equals the value (a string, an integer or a boolean).
    case value(MatchValue)
    /// The field equals one of the values.
    case any([MatchValue])
    /// The field is present and equals none of the values.
    case except([MatchValue])
    /// The string field contains the text (substring, case-sensitive; Qdrant without a full-text index).
    case text(String)
}

/// A value a `match` compares with: keyword, integer or boolean, as in Qdrant.
public enum MatchValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case bool(Bool)

    func equals(_ v: JSONValue) -> Bool {
        switch (self, v) {
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        default: false
        }
    }
}

/// Numeric bounds (`gt`, `gte`, `lt`, `lte`); a missing bound is open.
public struct RangeBounds: Sendable, Equatable {
    public var gt: Double?
    public var gte: Double?
    public var lt: Double?
    public var lte: Double?

    public init(gt: Double? = nil, gte: Double? = nil, lt: Double? = nil, lte: Double? = nil) {
        self.gt = gt
        self.gte = gte
        self.lt = lt
        self.lte = lte
    }

    func contains(_ x: Double) -> Bool {
        if let gt, !(x > gt) { return false }
        if let gte, !(x >= gte) { return false }
        if let lt, !(x < lt) { return false }
        if let lte, !(x <= lte) { return false }
        return true
    }
}

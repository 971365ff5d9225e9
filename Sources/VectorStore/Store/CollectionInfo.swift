import Foundation
import SwitchyardJSON
import VectorMath

/// One named dense vector of a collection with several (Qdrant's named vectors): its name, size and distance.
/// A point's vector is then the concatenation of its named vectors, in the collection's order.
public struct VectorSpace: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var distance: Distance

    public init(name: String, dimension: Int, distance: Distance) {
        self.name = name
        self.dimension = dimension
        self.distance = distance
    }
}

/// Qdrant's scalar quantization of a collection (`quantization_config: {"scalar": {"type": "int8", …}}`):
/// the store keeps an int8 copy of every vector beside the float one and searches it first (``QuantizedSearch``).
public struct ScalarQuantization: Sendable, Equatable {
    /// The share of component values kept unclipped when the int8 range is chosen, in [0.5, 1].
    public var quantile: Double
    /// Qdrant's `always_ram` (the copy is always in memory here); kept and reported as given.
    public var alwaysRam: Bool?

    public init(quantile: Double = 0.99, alwaysRam: Bool? = nil) {
        self.quantile = quantile
        self.alwaysRam = alwaysRam
    }

    /// Refuses a quantile outside [0.5, 1] (Qdrant's range), naming it.
    public func validate() throws(StoreError) {
        guard quantile.isFinite, (0.5...1).contains(quantile) else {
            throw .invalid("quantization quantile must be between 0.5 and 1, got \(quantile)")
        }
    }

    /// Qdrant's shape: `{"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}`.
    public var json: JSONValue {
        var scalar: [String: JSONValue] = ["type": "int8", "quantile": .double(quantile)]
        if let alwaysRam { scalar["always_ram"] = .bool(alwaysRam) }
        return ["scalar": .object(scalar)]
    }

    /// Reads Qdrant's shape; `nil` for JSON null. Throws on anything else, naming the problem.
    public init?(json: JSONValue) throws(StoreError) {
        if case .null = json { return nil }
        guard case .object(let o) = json else { throw .invalid("quantization_config must be an object") }
        for key in o.keys where key != "scalar" {
            throw .invalid("quantization_config: only scalar quantization is supported, not '\(key)'")
        }
        guard case .object(let s)? = o["scalar"] else { throw .invalid("quantization_config.scalar must be an object") }
        for key in s.keys where !["type", "quantile", "always_ram"].contains(key) {
            throw .invalid("quantization_config.scalar: unknown field '\(key)'")
        }
        guard s["type"]?.stringValue == "int8" else { throw .invalid("quantization_config.scalar.type must be \"int8\"") }
        var q = ScalarQuantization()
        if let v = s["quantile"], !(v == .null) {
            guard let d = v.numberValue else { throw .invalid("quantization_config.scalar.quantile must be a number") }
            q.quantile = d
        }
        if let v = s["always_ram"], !(v == .null) {
            guard case .bool(let b) = v else { throw .invalid("quantization_config.scalar.always_ram must be true or false") }
            q.alwaysRam = b
        }
        try q.validate()
        self = q
    }
}

/// Bytes a collection's vectors hold in memory (``Store/memory(_:)``).
public struct CollectionMemory: Sendable, Equatable {
    /// The float32 rows with their norms and keys.
    public var vectorBytes: Int
    /// The int8 copy (scalar quantization), 0 without one.
    public var quantizedBytes: Int
    /// The int8 copy screening exact searches (``Store/Options/exactScreening``), 0 without one.
    public var screenBytes: Int = 0
}

/// A physical collection's configuration and size.
public struct CollectionInfo: Sendable, Equatable {
    public var name: String
    /// Components per point (for named vectors, of all of them together).
    public var dimension: Int
    public var distance: Distance
    public var createdAt: Date
    /// Points stored (exact).
    public var pointCount: Int
    /// Aliases that resolve to this collection, sorted.
    public var aliases: [String]
    /// The named vectors, in storage order; nil for a collection with one unnamed vector.
    public var vectors: [VectorSpace]? = nil
    /// Scalar quantization, when the collection has it.
    public var quantization: ScalarQuantization? = nil

    public init(name: String, dimension: Int, distance: Distance, createdAt: Date, pointCount: Int, aliases: [String],
                vectors: [VectorSpace]? = nil, quantization: ScalarQuantization? = nil) {
        self.quantization = quantization
        self.name = name
        self.dimension = dimension
        self.distance = distance
        self.createdAt = createdAt
        self.pointCount = pointCount
        self.aliases = aliases
        self.vectors = vectors
    }
}

/// A collection's name (an alias resolved), dimension and distance.
public struct CollectionShape: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var distance: Distance
    /// The named vectors, in storage order; nil for one unnamed vector.
    public var vectors: [VectorSpace]? = nil
}

/// An alias and the collection it resolves to.
public struct AliasInfo: Sendable, Equatable {
    public var alias: String
    public var collection: String

    public init(alias: String, collection: String) {
        self.alias = alias
        self.collection = collection
    }
}

/// One change to the alias table. A batch of actions is applied all or nothing.
public enum AliasAction: Sendable, Equatable {
    /// Creates `alias` → `collection`, or re-points an existing alias (as Qdrant does).
    case create(alias: String, collection: String)
    /// Deletes `alias`; it must exist.
    case delete(alias: String)
    /// Renames `from` to `to`; `from` must exist and `to` must not.
    case rename(from: String, to: String)
}

/// One page of a scroll.
public struct ScrollPage: Sendable, Equatable {
    public var points: [Record]
    /// The id to pass as `offset` for the next page, or `nil` at the end.
    public var nextPageOffset: PointID?

    public init(points: [Record], nextPageOffset: PointID?) {
        self.points = points
        self.nextPageOffset = nextPageOffset
    }
}

/// What opening a store found and rebuilt.
public struct OpenReport: Sendable, Equatable {
    /// Bytes in the write-ahead log when the store was opened: committed work not yet checkpointed
    /// into the main file (after a crash, what SQLite replays).
    public var walBytesAtOpen: Int
    /// Collections in the catalog.
    public var collections: Int
    /// Points loaded into memory, per collection name (collections loaded at open).
    public var pointsLoaded: [String: Int]
    /// Seconds spent opening and rebuilding memory.
    public var seconds: Double
}

/// A search query against one collection.
public struct SearchRequest: Sendable {
    /// The query vector (normalised by the store for cosine collections).
    public var vector: [Float]
    /// Results wanted, at least 1.
    public var limit: Int
    /// Results to skip before `limit` (paging).
    public var offset: Int
    /// Only points satisfying this filter are candidates.
    public var filter: Filter?
    /// Only results strictly better than this score are returned (higher for cosine/dot, lower for euclid/manhattan).
    public var scoreThreshold: Float?
    public var withPayload: Bool
    public var withVector: Bool
    /// How the search uses the collection's int8 copy (Qdrant's `params.quantization`); nil: the defaults
    /// (use it when there is one, rescore, no oversampling). Ignored by collections without quantization.
    public var quantization: QuantizationParams?
    /// The named vector searched (required for a collection with named vectors; nil or "" otherwise).
    /// `vector` then has that vector's size, and the results' vectors are still whole (all named vectors).
    public var using: String?

    /// Defaults follow Qdrant's search: no payload, no vector.
    public init(vector: [Float], limit: Int = 10, offset: Int = 0, filter: Filter? = nil, scoreThreshold: Float? = nil,
                withPayload: Bool = false, withVector: Bool = false) {
        self.init(vector: vector, limit: limit, offset: offset, filter: filter, scoreThreshold: scoreThreshold,
                  withPayload: withPayload, withVector: withVector, using: nil)
    }

    /// A search of the named vector `using`.
    public init(vector: [Float], limit: Int = 10, offset: Int = 0, filter: Filter? = nil, scoreThreshold: Float? = nil,
                withPayload: Bool = false, withVector: Bool = false, using: String?) {
        self.using = using
        self.vector = vector
        self.limit = limit
        self.offset = offset
        self.filter = filter
        self.scoreThreshold = scoreThreshold
        self.withPayload = withPayload
        self.withVector = withVector
    }
}

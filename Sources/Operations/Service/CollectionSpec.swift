import Embedding
import VectorMath

/// What a new managed collection is to be: its name (also the alias readers use), owner, embedder,
/// chunking and distance.
public struct CollectionSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Whose quotas it counts against.
    public var owner: String
    /// An embedder spec (`hash-v1`, `hash-v2`, `hash:dim=…`).
    public var embedder: String
    public var chunkSize: Int
    public var chunkOverlap: Int
    /// `nil`: the embedder's preferred distance.
    public var distance: Distance?

    public init(name: String, description: String = "", owner: String = CollectionSpec.defaultOwner,
                embedder: String = "hash-v2", chunkSize: Int = 600, chunkOverlap: Int = 200, distance: Distance? = nil) {
        self.name = name
        self.description = description
        self.owner = owner
        self.embedder = embedder
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.distance = distance
    }

    /// The owner and user when none is given: `default`.
    public static let defaultOwner = "default"
}

/// A reindex request: the new configuration (what is `nil` stays as it is) and how to validate it.
/// The handler belongs to the reindex layer; the request, its gates and its config live here.
public struct ReindexRequest: Sendable, Equatable {
    public var embedder: String?
    public var chunkSize: Int?
    public var chunkOverlap: Int?
    public var distance: Distance?
    /// A BEIR `queries.jsonl` for validation (else sampled chunk texts).
    public var queriesPath: String?
    /// A qrels TSV with relevance labels for `queriesPath`.
    public var qrelsPath: String?
    /// Threshold overrides, by name (`min_self_recall`, `max_ndcg_drop`, …).
    public var thresholds: [String: Double]
    /// Where to write the validation report (`.json`, `.md` or `.html`).
    public var reportPath: String?

    public init(embedder: String? = nil, chunkSize: Int? = nil, chunkOverlap: Int? = nil, distance: Distance? = nil,
                queriesPath: String? = nil, qrelsPath: String? = nil, thresholds: [String: Double] = [:], reportPath: String? = nil) {
        self.embedder = embedder
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.distance = distance
        self.queriesPath = queriesPath
        self.qrelsPath = qrelsPath
        self.thresholds = thresholds
        self.reportPath = reportPath
    }
}

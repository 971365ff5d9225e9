import Operations

/// The validation thresholds of docs/reindex.md, "Validation", each configurable by name (`--threshold NAME=VALUE`).
public struct Thresholds: Sendable, Equatable {
    /// Live documents allowed to be missing from the new side.
    public var maxMissingDocuments: Double = 0
    /// Vector count ratio new/old bounds, applied when chunking is unchanged.
    public var minVectorRatio: Double = 0.9
    public var maxVectorRatio: Double = 1.1
    /// Above this ratio (chunking unchanged) a warning is reported.
    public var warnVectorRatio: Double = 1.05
    /// Self-retrieval recall@10 of the new side.
    public var minSelfRecall: Double = 0.95
    /// …and its largest allowed drop below the old side's.
    public var maxSelfRecallDrop: Double = 0.02
    /// Same embedder: per-query overlap@5 expected at least this …
    public var minOverlapAt5: Double = 3
    /// … with at most this fraction of queries below it.
    public var maxLowOverlapFraction: Double = 0.3
    /// Same embedder: mean |top-1 score difference|.
    public var maxTop1ScoreDiff: Double = 0.1
    /// With labels: new nDCG@10 ≥ old − this.
    public var maxNDCGDrop: Double = 0.02

    public init() {}

    /// Every name with its key path, for parsing and reporting (immutable).
    nonisolated(unsafe) public static let names: [(String, WritableKeyPath<Thresholds, Double>)] = [
        ("max_missing_documents", \.maxMissingDocuments), ("min_vector_ratio", \.minVectorRatio),
        ("max_vector_ratio", \.maxVectorRatio), ("warn_vector_ratio", \.warnVectorRatio),
        ("min_self_recall", \.minSelfRecall), ("max_self_recall_drop", \.maxSelfRecallDrop),
        ("min_overlap_at_5", \.minOverlapAt5), ("max_low_overlap_fraction", \.maxLowOverlapFraction),
        ("max_top1_score_diff", \.maxTop1ScoreDiff), ("max_ndcg_drop", \.maxNDCGDrop),
    ]

    /// The defaults with `overrides` applied.
    ///
    /// - Throws: ``OperationsError`` naming an unknown threshold or a non-finite value.
    public static func make(_ overrides: [String: Double]) throws(OperationsError) -> Thresholds {
        var t = Thresholds()
        for (name, value) in overrides {
            guard let kp = names.first(where: { $0.0 == name })?.1 else {
                throw OperationsError(.invalidInput, "unknown threshold '\(name)' (known: \(names.map(\.0).joined(separator: ", ")))")
            }
            guard value.isFinite else { throw OperationsError(.invalidInput, "threshold \(name) must be a finite number, got \(value)") }
            t[keyPath: kp] = value
        }
        return t
    }
}


import Foundation

extension HashingEmbedder {
    /// Fits per-bucket inverse document frequencies on a corpus:
    /// `idf(b) = ln((N + 1) / (df(b) + 1)) + 1`, where `N` is the number of texts and `df(b)` the
    /// number of texts with at least one feature hashed into bucket `b`.
    ///
    /// Only the feature parameters of `spec` matter (`dim`, `words`, `chars`, `seed`); its `tf`,
    /// `norm` and `idf` are ignored.
    ///
    /// ```swift
    /// let table = HashingEmbedder.fitIDF(corpus: texts, spec: .v2)
    /// try table.write(to: "idf-v2.txt")
    /// let embedder = try HashingEmbedder(spec: "hash:dim=384,words=1,chars=3-5,idf=idf-v2.txt")
    /// ```
    ///
    /// - Complexity: O(total length of the corpus), one pass, memory O(`dim`).
    public static func fitIDF(corpus: some Sequence<String>, spec: HashingSpec) -> IDFTable {
        let parameters = FeatureParameters(spec)
        let dim = spec.dimension
        let buckets = BucketReducer(divisor: dim)
        let workspace = HashingWorkspace(dimension: dim)
        var documentFrequency = [Int](repeating: 0, count: dim)
        var lastSeen = [Int](repeating: -1, count: dim)
        var documents = 0
        for text in corpus {
            workspace.countFeatures(of: text, parameters)
            workspace.table.forEach { hash, _ in
                let bucket = buckets.reduce(hash)
                if lastSeen[bucket] != documents {
                    lastSeen[bucket] = documents
                    documentFrequency[bucket] += 1
                }
            }
            documents += 1
        }
        let n = Double(documents)
        let weights = documentFrequency.map { Float(log((n + 1) / (Double($0) + 1)) + 1) }
        return IDFTable(unchecked: spec.featureKey, documentCount: documents, weights: weights)
    }
}

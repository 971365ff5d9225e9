import Foundation
import VectorMath

/// Retrieval quality of an embedder on a labelled dataset: every document embedded whole (title and
/// text), every judged query searched exactly (cosine, ties to the smaller document index), and the
/// mean nDCG@k, recall@k and MRR@k reported.
public enum DatasetEvaluation {
    public struct Result: Sendable, Equatable {
        public var embedder: String
        public var k: Int
        public var queries: Int
        public var ndcg: Double
        public var recall: Double
        public var mrr: Double
        /// Seconds spent embedding the corpus.
        public var embedSeconds: Double
    }

    /// Evaluates `embedder` on `dataset`.
    ///
    /// - Throws: what the embedder throws, or ``EmbeddingError`` when its vectors have the wrong size.
    public static func run(_ dataset: BEIRDataset, embedder: any Embedder, k: Int = 10, threads: Int = 1) async throws -> Result {
        let docs = dataset.corpus
        let texts = docs.map { d in [d.title ?? "", d.text].filter { !$0.isEmpty }.joined(separator: "\n") }
        let t0 = ContinuousClock.now
        let vectors = try await embedder.embed(texts)
        let embedSeconds = (ContinuousClock.now - t0).components
        let d = embedder.dimension
        let matrix = RowMatrix(dimension: d, capacity: docs.count)
        for (i, v) in vectors.enumerated() {
            guard v.count == d else { throw EmbeddingError(.invalidInput, "embedder returned \(v.count) components, expected \(d)") }
            _ = v.withUnsafeBufferPointer { matrix.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: UInt64(i))) }
        }
        let judged = dataset.queries.filter { !(dataset.qrels[$0.id] ?? [:]).isEmpty }
        let queryVectors = try await embedder.embed(judged.map(\.text))
        var flat = [Float]()
        flat.reserveCapacity(judged.count * d)
        for v in queryVectors { flat.append(contentsOf: Vectors.normalized(v)) }
        let hits = flat.withUnsafeBufferPointer { q in
            matrix.withView { view in
                ExactSearch.searchBatch(view, queries: q.baseAddress!, count: judged.count, k: k,
                                        distance: embedder.preferredDistance == .cosine ? .dot : embedder.preferredDistance,
                                        threads: threads)
            }
        }
        let m = RetrievalMetrics.summary(at: k, judged.enumerated().map { i, q in
            (hits[i].map { docs[Int($0.row)].id }, dataset.qrels[q.id] ?? [:])
        })
        return Result(embedder: embedder.identifier, k: k, queries: judged.count, ndcg: m.ndcg, recall: m.recall, mrr: m.mrr,
                      embedSeconds: Double(embedSeconds.seconds) + Double(embedSeconds.attoseconds) / 1e18)
    }
}

import Embedding
import Foundation
import Synchronization
import VectorMath
import VectorStore

/// `switchyard demo`: a blue-green re-embedding of a labelled dataset on the embedded store, with
/// readers searching through the alias the whole time.
///
/// Steps: index the corpus with the old embedder into `<name>_v1` and point the alias at it; measure
/// quality through the alias; start the readers; build `<name>_v2` with the new embedder beside it;
/// compare the two on the dataset's labelled queries; switch the alias in one transaction when the new
/// side is at least as good (nDCG@10 ≥ old − 0.02) and keep v1 for rollback; stop the readers and report.
///
/// Readers resolve the alias once per query, embed the query with the embedder of the collection it
/// resolved to (a vector of one model is never searched in another model's space) and search that
/// collection — so a switch between two models of different dimensions never fails a read.
public enum BlueGreenDemo {
    public struct Configuration: Sendable {
        public var storeDirectory: String
        public var datasetDirectory: String
        public var alias = "docs"
        public var oldEmbedder = "hash-v1"
        public var newEmbedder = "hash-v2"
        public var readers = 4
        public var k = 10
        /// The most the new nDCG@k may fall below the old one.
        public var ndcgTolerance = 0.02

        public init(storeDirectory: String, datasetDirectory: String) {
            self.storeDirectory = storeDirectory
            self.datasetDirectory = datasetDirectory
        }
    }

    /// Retrieval quality of one side.
    public struct Quality: Sendable, Equatable {
        public var collection: String
        public var embedder: String
        public var points: Int
        public var ndcg: Double
        public var recall: Double
        public var mrr: Double
    }

    public struct Report: Sendable {
        public var old: Quality
        public var new: Quality
        /// Whether the new side passed the quality gate and the alias now points to it.
        public var switched: Bool
        public var switchMilliseconds: Double
        public var readerQueries: Int
        public var readerErrors: Int
        public var readerEmptyResults: Int
        public var readerP50Milliseconds: Double
        public var readerP99Milliseconds: Double
        public var seconds: Double
    }

    /// Runs the demo; `progress` receives one line per step.
    ///
    /// - Throws: ``StoreError`` or ``EmbeddingError`` for a bad dataset, store or embedder spec.
    public static func run(_ c: Configuration, progress: (String) -> Void) throws -> Report {
        let start = ContinuousClock.now
        let dataset = try BEIRDataset.load(directory: c.datasetDirectory)
        guard !dataset.corpus.isEmpty else { throw EmbeddingError(.invalidInput, "dataset '\(c.datasetDirectory)' has no documents") }
        let store = try Store.open(at: c.storeDirectory)
        let old = try HashingEmbedder(spec: c.oldEmbedder)
        let new = try HashingEmbedder(spec: c.newEmbedder)
        let v1 = "\(c.alias)_v1", v2 = "\(c.alias)_v2"
        for name in [v2, v1] where try store.collectionExists(name) {
            try? store.updateAliases([.delete(alias: c.alias)])
            try store.dropCollection(name)
        }
        let embedders = Mutex<[String: HashingEmbedder]>([v1: old, v2: new])

        progress("store: \(c.storeDirectory)")
        try index(dataset, into: v1, with: old, store: store, progress: progress)
        try store.updateAliases([.create(alias: c.alias, collection: v1)])
        let oldQuality = try quality(dataset, collection: c.alias, embedder: old, k: c.k, store: store)
        progress(String(format: "old quality through '%@' (%@): nDCG@%d %.4f, recall@%d %.4f, MRR@%d %.4f",
                        c.alias, c.oldEmbedder, c.k, oldQuality.ndcg, c.k, oldQuality.recall, c.k, oldQuality.mrr))

        // Readers through the alias, for the whole build and switch.
        let queries = dataset.queries.map(\.text)
        let stop = Atomic<Bool>(false)
        let stats = Mutex<(queries: Int, errors: Int, empty: Int, latencies: [Double])>((0, 0, 0, []))
        let group = DispatchGroup()
        for r in 0..<max(0, c.readers) {
            group.enter()
            Thread {
                defer { group.leave() }
                var i = r
                var local: (queries: Int, errors: Int, empty: Int, latencies: [Double]) = (0, 0, 0, [])
                while !stop.load(ordering: .relaxed) {
                    let t = ContinuousClock.now
                    do {
                        let target = try store.resolve(c.alias)
                        guard let e = embedders.withLock({ $0[target] }) else { throw EmbeddingError(.invalidInput, "no embedder for \(target)") }
                        let hits = try store.search(target, SearchRequest(vector: e.embedOne(queries[i % queries.count]), limit: c.k))
                        if hits.isEmpty { local.empty += 1 }
                    } catch {
                        local.errors += 1
                    }
                    local.latencies.append((ContinuousClock.now - t).milliseconds)
                    local.queries += 1
                    i += c.readers
                }
                stats.withLock { s in
                    s.queries += local.queries; s.errors += local.errors; s.empty += local.empty
                    s.latencies += local.latencies
                }
            }.start()
        }

        progress("readers: \(c.readers) searching through '\(c.alias)'")
        try index(dataset, into: v2, with: new, store: store, progress: progress)
        let newQuality = try quality(dataset, collection: v2, embedder: new, k: c.k, store: store)
        progress(String(format: "new quality of '%@' (%@): nDCG@%d %.4f, recall@%d %.4f, MRR@%d %.4f",
                        v2, c.newEmbedder, c.k, newQuality.ndcg, c.k, newQuality.recall, c.k, newQuality.mrr))

        var switched = false
        var switchMs = 0.0
        if newQuality.ndcg >= oldQuality.ndcg - c.ndcgTolerance {
            let t = ContinuousClock.now
            try store.updateAliases([.delete(alias: c.alias), .create(alias: c.alias, collection: v2)])
            switchMs = (ContinuousClock.now - t).milliseconds
            switched = true
            progress(String(format: "switch: '%@' -> '%@' in %.2f ms; '%@' kept for rollback", c.alias, v2, switchMs, v1))
            // Keep reading through the new mapping for a moment.
            Thread.sleep(forTimeInterval: 0.3)
        } else {
            progress("rejected: new nDCG@\(c.k) is below old − \(c.ndcgTolerance); '\(c.alias)' stays on '\(v1)'")
        }
        stop.store(true, ordering: .relaxed)
        group.wait()

        let s = stats.withLock { $0 }
        let sorted = s.latencies.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))] }
        return Report(old: oldQuality, new: newQuality, switched: switched, switchMilliseconds: switchMs,
                      readerQueries: s.queries, readerErrors: s.errors, readerEmptyResults: s.empty,
                      readerP50Milliseconds: pct(0.5), readerP99Milliseconds: pct(0.99),
                      seconds: (ContinuousClock.now - start).milliseconds / 1000)
    }

    /// Embeds every document whole (title and text) and upserts it with its id and text as payload.
    static func index(_ d: BEIRDataset, into name: String, with e: HashingEmbedder, store: Store,
                      progress: (String) -> Void) throws {
        try store.createCollection(name, dimension: e.dimension, distance: e.preferredDistance)
        let batch = 500
        for start in stride(from: 0, to: d.corpus.count, by: batch) {
            let docs = d.corpus[start..<min(d.corpus.count, start + batch)]
            let points = docs.enumerated().map { i, doc in
                Point(id: .number(UInt64(start + i)), vector: e.embedOne(doc.fullText),
                      payload: ["doc_id": .string(doc.id), "text": .string(doc.text)])
            }
            try store.upsert(name, points: points)
            progress("indexing '\(name)' with \(e.identifier): \(min(d.corpus.count, start + batch))/\(d.corpus.count)")
        }
    }

    /// Mean nDCG, recall and MRR at k of the labelled queries searched in `collection` (or an alias).
    static func quality(_ d: BEIRDataset, collection: String, embedder e: HashingEmbedder, k: Int, store: Store) throws -> Quality {
        let judged = d.queries.filter { !(d.qrels[$0.id] ?? [:]).isEmpty }
        let hits = try store.searchBatch(collection, judged.map { SearchRequest(vector: e.embedOne($0.text), limit: k, withPayload: true) })
        let m = RetrievalMetrics.summary(at: k, zip(judged, hits).map { q, h in
            (h.compactMap { $0.payload?["doc_id"]?.stringValue }, d.qrels[q.id] ?? [:])
        })
        return Quality(collection: try store.resolve(collection), embedder: e.identifier, points: try store.count(collection),
                       ndcg: m.ndcg, recall: m.recall, mrr: m.mrr)
    }
}

extension Duration {
    var milliseconds: Double {
        let c = components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }
}

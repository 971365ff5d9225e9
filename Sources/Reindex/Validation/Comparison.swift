import Embedding
import Foundation
import Operations
import SwitchyardJSON
import VectorStore

/// Compares two collections at document level (docs/reindex.md, "Validation"): per query overlap@k, rank correlation,
/// top-1 agreement and scores, and with labels recall@k, nDCG@k and MRR on each side; vector counts,
/// document coverage, and self-retrieval — then applies the thresholds.
public struct Comparison: Sendable {
    public struct Options: Sendable {
        public var k = 10
        /// A BEIR `queries.jsonl`; without it, sampled chunk texts are the queries.
        public var queriesPath: String?
        /// Relevance labels for `queriesPath` (qrels TSV).
        public var qrelsPath: String?
        public var thresholds = Thresholds()
        /// Whether both sides use the same embedder (overlap and score checks apply).
        public var sameEmbedder: Bool?
        /// Whether both sides use the same chunking (the vector-count check applies).
        public var sameChunking = true
        /// Documents that failed while building the new side.
        public var failedDocuments = 0
        /// The most sampled chunks (default min(100, documents/10), at least 10 where possible).
        public var maxSample = 100

        public init() {}
    }

    public let manager: CollectionManager
    public let old: ComparisonSide
    public let new: ComparisonSide
    public let options: Options

    public init(manager: CollectionManager, old: ComparisonSide, new: ComparisonSide, options: Options) {
        self.manager = manager
        self.old = old
        self.new = new
        self.options = options
    }

    /// Runs the comparison.
    ///
    /// - Throws: ``OperationsError`` when a side cannot be read or searched, or a query file is unusable.
    public func run() throws(OperationsError) -> ComparisonReport {
        let start = ContinuousClock.now
        let k = options.k
        guard k >= 1 else { throw OperationsError(.invalidInput, "k must be at least 1, got \(k)") }
        // Documents (id → name) and each side's coverage.
        let oldCoverage = try coverage(old.collection)
        let newCoverage = try coverage(new.collection)
        let managedID = try managedCollectionID()
        let names = try documentNames(managedID)
        // The sample of chunks for self-retrieval (and as queries when no query file is given).
        let sample = try sampleChunks(from: old.collection, documents: oldCoverage.documents.sorted())
        let queries = try querySet(sample: sample, names: names)
        let ranked = try rankQueries(queries, names: names)

        var report = ComparisonReport(
            old: .init(label: old.label, collection: old.collection, embedder: old.embedderSpec, vectors: oldCoverage.vectors, documents: oldCoverage.documents.count),
            new: .init(label: new.label, collection: new.collection, embedder: new.embedderSpec, vectors: newCoverage.vectors, documents: newCoverage.documents.count),
            k: k, queriesSource: queries.source, labelled: queries.labelled, queries: ranked.rows,
            missingDocuments: try liveDocuments(managedID, oldSide: oldCoverage).subtracting(newCoverage.documents).count,
            extraDocuments: newCoverage.documents.subtracting(oldCoverage.documents).count,
            failedDocuments: options.failedDocuments,
            selfRetrieval: try selfRetrieval(sample),
            sameEmbedder: options.sameEmbedder ?? (old.embedderSpec == new.embedderSpec), sameChunking: options.sameChunking,
            thresholds: options.thresholds, checks: [], changes: .init(labelled: queries.labelled), seconds: 0)
        report.changes = try changes(report, queries: queries, ranked: ranked, names: names)
        report.checks = Self.checks(report, options.thresholds)
        report.seconds = (ContinuousClock.now - start).seconds
        return report
    }

    // MARK: - Steps

    /// The queries, with their labels when there are any.
    struct QuerySet {
        var items: [(id: String, text: String)]
        var qrels: [String: [String: Int]] = [:]
        /// For queries sampled from chunks: the name of the document each was sampled from.
        var sources: [String: String] = [:]
        var source: String
        var labelled: Bool { !qrels.isEmpty }
    }

    private func querySet(sample: [SampledChunk], names: [Int64: String]) throws(OperationsError) -> QuerySet {
        if let q = options.queriesPath {
            let set = try ValidationInputs.loadQueries(q, qrels: options.qrelsPath)
            return QuerySet(items: set.queries, qrels: set.qrels, source: q)
        }
        var set = QuerySet(items: sample.map { ("doc-\($0.document)", $0.text) }, source: "sampled chunk texts")
        for s in sample { set.sources["doc-\(s.document)"] = names[s.document] ?? "doc-\(s.document)" }
        return set
    }

    /// Both sides' rankings for every query, and the per-query rows.
    struct Ranked {
        var rows: [ComparisonReport.QueryRow] = []
        var old: [RankedDocuments] = []
        var new: [RankedDocuments] = []
    }

    private func rankQueries(_ queries: QuerySet, names: [Int64: String]) throws(OperationsError) -> Ranked {
        let k = options.k
        var ranked = Ranked()
        ranked.old = try old.rankDocuments(queries.items.map(\.text), k: k, vectors: manager.vectors)
        ranked.new = try new.rankDocuments(queries.items.map(\.text), k: k, vectors: manager.vectors)
        for (i, q) in queries.items.enumerated() {
            let a = ranked.old[i].documents.map { names[$0] ?? "doc-\($0)" }
            let b = ranked.new[i].documents.map { names[$0] ?? "doc-\($0)" }
            var row = ComparisonReport.QueryRow(
                id: q.id, text: String(q.text.prefix(160)),
                overlap: RetrievalMetrics.overlap(at: k, a, b), depth: min(k, max(a.count, b.count)), overlapAt5: RetrievalMetrics.overlap(at: 5, a, b),
                rankCorrelation: RetrievalMetrics.spearman(Array(a.prefix(k)), Array(b.prefix(k))),
                top1Agrees: a.first != nil && a.first == b.first,
                oldTop1: ranked.old[i].topScore, newTop1: ranked.new[i].topScore,
                oldTop: Array(a.prefix(ComparisonReport.shownHits)), newTop: Array(b.prefix(ComparisonReport.shownHits)))
            if let rel = queries.qrels[q.id] {
                row.old = .init(recall: RetrievalMetrics.recall(at: k, ranked: a, relevant: rel), ndcg: RetrievalMetrics.ndcg(at: k, ranked: a, relevant: rel),
                                mrr: RetrievalMetrics.mrr(at: k, ranked: a, relevant: rel))
                row.new = .init(recall: RetrievalMetrics.recall(at: k, ranked: b, relevant: rel), ndcg: RetrievalMetrics.ndcg(at: k, ranked: b, relevant: rel),
                                mrr: RetrievalMetrics.mrr(at: k, ranked: b, relevant: rel))
            }
            ranked.rows.append(row)
        }
        return ranked
    }

    /// Self-retrieval: on each side, the side's own first chunk of each sampled document, searched by its
    /// text, should find its document in the top 10 (each side with its own chunking).
    private func selfRetrieval(_ sample: [SampledChunk]) throws(OperationsError) -> ComparisonReport.SelfRetrieval {
        let backend = manager.vectors
        func recall(_ side: ComparisonSide, _ chunks: [SampledChunk]) throws(OperationsError) -> Double? {
            guard !chunks.isEmpty else { return nil }
            let ranks = try side.rankDocuments(chunks.map(\.text), k: 10, vectors: backend)
            let hits = zip(chunks, ranks).filter { $0.1.documents.contains($0.0.document) }.count
            return Double(hits) / Double(sample.count)
        }
        let newSample = try sampleChunks(from: new.collection, documents: sample.map(\.document), exactly: true)
        let oldRecall = try recall(old, sample)
        let newRecall = try recall(new, newSample)
        return .init(sample: sample.count, old: oldRecall, new: sample.isEmpty ? nil : (newRecall ?? 0))
    }

    /// The statistics of per-query changes, and the queries that changed most with both sides' top
    /// results (document, snippet of its best chunk, relevance).
    private func changes(_ report: ComparisonReport, queries: QuerySet, ranked: Ranked,
                         names: [Int64: String]) throws(OperationsError) -> ComparisonReport.Changes {
        var changes = ComparisonReport.Changes.summarising(report.queries, labelled: queries.labelled)
        let picked = changes.dropIndices + changes.gainIndices
        let oldSnippets = try snippets(old.collection, picked.flatMap { ranked.old[$0].chunks.prefix(ComparisonReport.shownHits) })
        let newSnippets = try snippets(new.collection, picked.flatMap { ranked.new[$0].chunks.prefix(ComparisonReport.shownHits) })
        func hits(_ r: RankedDocuments, _ snippets: [PointID: String], query: String) -> [ComparisonReport.Hit] {
            zip(r.documents, r.chunks).prefix(ComparisonReport.shownHits).map { document, chunk in
                let name = names[document] ?? "doc-\(document)"
                return ComparisonReport.Hit(document: name, snippet: snippets[chunk] ?? "",
                                            relevance: queries.labelled ? (queries.qrels[query]?[name] ?? 0) : nil,
                                            isSource: queries.sources[query] == name)
            }
        }
        func change(_ i: Int) -> ComparisonReport.QueryChange {
            let row = report.queries[i]
            return .init(id: row.id, text: row.text, old: row.old?.ndcg, new: row.new?.ndcg, overlap: row.overlap,
                         oldHits: hits(ranked.old[i], oldSnippets, query: row.id), newHits: hits(ranked.new[i], newSnippets, query: row.id))
        }
        changes.drops = changes.dropIndices.map(change)
        changes.gains = changes.gainIndices.map(change)
        return changes
    }

    /// The start of each chunk's text (at most 160 characters), by point id.
    private func snippets(_ collection: String, _ ids: [PointID]) throws(OperationsError) -> [PointID: String] {
        guard !ids.isEmpty else { return [:] }
        let records: [VectorStore.Record]
        do { records = try manager.vectors.get(collection, ids: Array(Set(ids)), withVector: false, withPayload: true) } catch {
            throw OperationsError(.storage, "reading result snippets of '\(collection)'", cause: "\(error)")
        }
        var out: [PointID: String] = [:]
        for r in records {
            guard let text = r.payload?["text"]?.stringValue else { continue }
            out[r.id] = text.count > 160 ? String(text.prefix(159)) + "…" : text
        }
        return out
    }

    // MARK: - Inputs

    struct Coverage {
        var documents = Set<Int64>()
        var vectors = 0
    }

    /// The documents a collection holds chunks of, and its point count (one pass over the ids).
    private func coverage(_ collection: String) throws(OperationsError) -> Coverage {
        var c = Coverage()
        var offset: PointID?
        let backend = manager.vectors
        repeat {
            let page: ScrollPage
            do { page = try backend.scroll(collection, filter: nil, limit: 4096, offset: offset, withVector: false, withPayload: false) } catch {
                throw OperationsError(.notFound, "cannot read collection '\(collection)'", cause: error.description)
            }
            for r in page.points {
                c.vectors += 1
                if case .number(let raw) = r.id { c.documents.insert(Int64(raw >> PointLayout.chunkBits)) }
            }
            offset = page.nextPageOffset
        } while offset != nil
        return c
    }

    /// The managed collection the old side is a generation of (`nil` for an unmanaged collection).
    private func managedCollectionID() throws(OperationsError) -> String? {
        try manager.managedCollectionID(ofPhysical: old.collection)
    }

    /// The managed collection's completed documents ("live documents", docs/reindex.md); for an unmanaged
    /// collection, every document the old side has chunks of.
    private func liveDocuments(_ collectionID: String?, oldSide: Coverage) throws(OperationsError) -> Set<Int64> {
        guard let collectionID else { return oldSide.documents }
        return try manager.completedDocumentIDs(collectionID: collectionID)
    }

    /// Document names (what qrels call corpus ids) of the managed collection's documents.
    private func documentNames(_ collectionID: String?) throws(OperationsError) -> [Int64: String] {
        guard let collectionID else { return [:] }
        return try manager.documentNames(collectionID: collectionID)
    }

    struct SampledChunk {
        var document: Int64
        var text: String
    }

    /// A deterministic sample: evenly spaced documents (all of `documents` when `exactly`), the text of
    /// each one's first chunk in `collection`.
    private func sampleChunks(from collection: String, documents: [Int64], exactly: Bool = false) throws(OperationsError) -> [SampledChunk] {
        guard !documents.isEmpty else { return [] }
        let picked: [Int64]
        if exactly {
            picked = documents
        } else {
            let wanted = min(options.maxSample, max(min(10, documents.count), documents.count / 10))
            let step = Double(documents.count) / Double(wanted)
            picked = (0..<wanted).map { documents[Int(Double($0) * step)] }
        }
        let ids = picked.map { PointLayout.pointID(documentID: $0, chunkIndex: 0) }
        let records: [VectorStore.Record]
        do { records = try manager.vectors.get(collection, ids: ids, withVector: false, withPayload: true) } catch {
            throw OperationsError(.storage, "reading sample chunks of '\(collection)'", cause: "\(error)")
        }
        return records.compactMap { r in
            guard case .number(let raw) = r.id, let text = r.payload?["text"]?.stringValue, !text.isEmpty else { return nil }
            return SampledChunk(document: Int64(raw >> PointLayout.chunkBits), text: text)
        }
    }

    // MARK: - Thresholds

    static func checks(_ r: ComparisonReport, _ t: Thresholds) -> [ComparisonReport.Check] {
        var checks: [ComparisonReport.Check] = []
        func add(_ name: String, _ value: Double?, _ threshold: String, _ verdict: ComparisonReport.Verdict, _ note: String = "") {
            checks.append(.init(name: name, value: value, threshold: threshold, verdict: verdict, note: note))
        }
        add("missing_documents", Double(r.missingDocuments), "≤ \(fmt(t.maxMissingDocuments))",
            Double(r.missingDocuments) <= t.maxMissingDocuments ? .pass : .fail, "live documents with no chunk in the new side")
        let ratio = r.old.vectors > 0 ? Double(r.new.vectors) / Double(r.old.vectors) : nil
        if r.sameChunking, let ratio {
            let inRange = ratio >= t.minVectorRatio && ratio <= t.maxVectorRatio
            add("vector_ratio", ratio, "in [\(fmt(t.minVectorRatio)), \(fmt(t.maxVectorRatio))]",
                !inRange ? .fail : (ratio > t.warnVectorRatio ? .warn : .pass), "new/old point count (chunking unchanged)")
        } else {
            add("vector_ratio", ratio, "not judged", .info, "chunking changed: counts differ by design")
        }
        let s = r.selfRetrieval
        if let n = s.new {
            add("self_recall_new", n, "≥ \(fmt(t.minSelfRecall))", n >= t.minSelfRecall ? .pass : .fail, "sampled chunk finds its document in the top 10 (\(s.sample) samples)")
            if let o = s.old {
                add("self_recall_drop", o - n, "≤ \(fmt(t.maxSelfRecallDrop))", o - n <= t.maxSelfRecallDrop + 1e-12 ? .pass : .fail, "old \(fmt(o)) → new \(fmt(n))")
            }
        } else {
            add("self_recall_new", nil, "≥ \(fmt(t.minSelfRecall))", .fail, "no chunk to sample")
        }
        let rows = r.queries
        if !rows.isEmpty {
            let low = Double(rows.filter { Double($0.overlapAt5) < t.minOverlapAt5 }.count) / Double(rows.count)
            let diffs = rows.compactMap { q -> Double? in
                guard let a = q.oldTop1, let b = q.newTop1 else { return nil }
                return abs(a - b)
            }
            let meanDiff = RetrievalMetrics.mean(diffs)
            if r.sameEmbedder {
                add("low_overlap_fraction", low, "≤ \(fmt(t.maxLowOverlapFraction))", low <= t.maxLowOverlapFraction ? .pass : .fail,
                    "queries with overlap@5 < \(fmt(t.minOverlapAt5))")
                add("top1_score_diff", meanDiff, "≤ \(fmt(t.maxTop1ScoreDiff))", (meanDiff ?? 0) <= t.maxTop1ScoreDiff ? .pass : .fail, "mean |old − new| top-1 score")
            } else {
                add("low_overlap_fraction", low, "not judged", .info, "embedder changed: rankings differ by design")
                add("top1_score_diff", meanDiff, "not judged", .info, "embedder changed: scores are not comparable")
            }
        }
        if r.labelled, let o = r.oldSummary?.ndcg, let n = r.newSummary?.ndcg {
            add("ndcg_drop", o - n, "≤ \(fmt(t.maxNDCGDrop))", o - n <= t.maxNDCGDrop + 1e-12 ? .pass : .fail,
                "nDCG@\(r.k) old \(fmt(o)) → new \(fmt(n))")
        }
        return checks
    }
}

func fmt(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
    return String(format: "%.4f", v)
}

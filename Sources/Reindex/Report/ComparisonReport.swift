import Embedding
import Foundation
import SwitchyardJSON

/// What a comparison found: both sides, per-query rows, aggregates, and every threshold with its value
/// and verdict. Render it with ``json``, ``markdown`` or ``html``.
public struct ComparisonReport: Sendable {
    public enum Verdict: String, Sendable { case pass, fail, warn, info }

    public struct Side: Sendable {
        public var label: String
        public var collection: String
        public var embedder: String
        public var vectors: Int
        public var documents: Int
    }

    public struct Quality: Sendable {
        public var recall: Double
        public var ndcg: Double
        public var mrr: Double
    }

    public struct QueryRow: Sendable {
        public var id: String
        public var text: String
        /// Documents in both top-k lists …
        public var overlap: Int
        /// … out of this many (k, or fewer when neither side returned k documents).
        public var depth: Int
        public var overlapAt5: Int
        public var rankCorrelation: Double?
        public var top1Agrees: Bool
        public var oldTop1: Double?
        public var newTop1: Double?
        /// The top documents on each side (at most ``ComparisonReport/shownHits``).
        public var oldTop: [String]
        public var newTop: [String]
        public var old: Quality?
        public var new: Quality?

        /// The change of nDCG@k (new − old), with labels.
        public var ndcgDelta: Double? {
            guard let o = old?.ndcg, let n = new?.ndcg else { return nil }
            return n - o
        }
    }

    /// How many results per side the report shows for a changed query.
    public static let shownHits = 5

    /// One of a query's top results on one side.
    public struct Hit: Sendable, Equatable {
        /// The document's name (what labels call its corpus id).
        public var document: String
        /// The start of the document's best-ranked chunk.
        public var snippet: String
        /// The judged grade (0: not judged relevant); `nil` without labels.
        public var relevance: Int?
        /// Whether the query was sampled from this document (queries sampled from chunks).
        public var isSource: Bool
        /// Relevant by the labels, or the document the query was sampled from.
        public var isMarked: Bool { (relevance ?? 0) > 0 || isSource }
    }

    /// A query that changed most, with both sides' top results.
    public struct QueryChange: Sendable {
        public var id: String
        public var text: String
        /// nDCG@k on each side (with labels).
        public var old: Double?
        public var new: Double?
        public var overlap: Int
        public var oldHits: [Hit]
        public var newHits: [Hit]
        /// new − old nDCG@k (with labels).
        public var delta: Double? {
            guard let old, let new else { return nil }
            return new - old
        }
    }

    /// How the queries changed between the sides.
    ///
    /// With labels, by nDCG@k: the shares improved, unchanged and worsened, the mean difference with a paired
    /// bootstrap 95% interval, and the largest drops and gains. Without labels there is no direction: the
    /// shares of identical, partly overlapping and disjoint top-k lists, and the queries that changed most
    /// (lowest overlap).
    public struct Changes: Sendable {
        /// How many queries each list holds at most.
        public static let listed = 20

        public var labelled: Bool
        public var improved = 0, unchanged = 0, worsened = 0
        public var identical = 0, partial = 0, disjoint = 0
        /// Mean nDCG@k difference (new − old) over the labelled queries.
        public var meanDifference: Double?
        public var interval: PairedBootstrap.Interval?
        /// Whether there is enough to judge the interval: a percentile bootstrap is over-confident when few
        /// queries are labelled or few changed, so the report draws no conclusion below
        /// ``minimumQueries`` labelled queries or ``minimumChanged`` changed ones.
        public var judgeable: Bool { total >= Self.minimumQueries && improved + worsened >= Self.minimumChanged }
        public static let minimumQueries = 20
        public static let minimumChanged = 10
        /// With labels: the largest nDCG drops, worst first; without: the lowest overlaps.
        public var drops: [QueryChange] = []
        /// With labels: the largest nDCG gains, best first; empty without labels.
        public var gains: [QueryChange] = []
        var dropIndices: [Int] = []
        var gainIndices: [Int] = []

        init(labelled: Bool) { self.labelled = labelled }

        /// The statistics of `rows`, and which rows to list (their top results are filled in by the caller).
        static func summarising(_ rows: [QueryRow], labelled: Bool) -> Changes {
            var c = Changes(labelled: labelled)
            if labelled {
                let deltas = rows.enumerated().compactMap { i, r in r.ndcgDelta.map { (i, $0) } }
                for (_, d) in deltas {
                    if abs(d) <= 1e-12 { c.unchanged += 1 } else if d > 0 { c.improved += 1 } else { c.worsened += 1 }
                }
                c.meanDifference = RetrievalMetrics.mean(deltas.map(\.1))
                c.interval = PairedBootstrap.meanInterval(deltas.map(\.1))
                c.dropIndices = deltas.filter { $0.1 < -1e-12 }.sorted { ($0.1, rows[$0.0].id) < ($1.1, rows[$1.0].id) }
                    .prefix(listed).map(\.0)
                c.gainIndices = deltas.filter { $0.1 > 1e-12 }.sorted { (-$0.1, rows[$0.0].id) < (-$1.1, rows[$1.0].id) }
                    .prefix(listed).map(\.0)
            } else {
                for r in rows {
                    let depth = r.depth
                    if r.overlap == 0 && depth > 0 { c.disjoint += 1 } else if r.overlap >= depth { c.identical += 1 } else { c.partial += 1 }
                }
                c.dropIndices = rows.indices.filter { rows[$0].overlap < rows[$0].depth }
                    .sorted { (rows[$0].overlap, rows[$0].id) < (rows[$1].overlap, rows[$1].id) }
                    .prefix(listed).map { $0 }
            }
            return c
        }
    }

    public struct SelfRetrieval: Sendable {
        public var sample: Int
        public var old: Double?
        public var new: Double?
    }

    public struct Check: Sendable {
        public var name: String
        public var value: Double?
        public var threshold: String
        public var verdict: Verdict
        public var note: String
    }

    public var old: Side
    public var new: Side
    public var k: Int
    public var queriesSource: String
    public var labelled: Bool
    public var queries: [QueryRow]
    public var missingDocuments: Int
    public var extraDocuments: Int
    public var failedDocuments: Int
    public var selfRetrieval: SelfRetrieval
    public var sameEmbedder: Bool
    public var sameChunking: Bool
    /// The thresholds the checks applied.
    public var thresholds: Thresholds
    public var checks: [Check]
    /// Per-query changes: statistics, the largest drops and gains.
    public var changes: Changes
    public var seconds: Double

    /// Whether no check failed.
    public var passed: Bool { !checks.contains { $0.verdict == .fail } }
    /// The failing checks' names.
    public var failing: [String] { checks.filter { $0.verdict == .fail }.map(\.name) }

    /// Mean recall/nDCG/MRR@k of the old side over the labelled queries (`nil` without labels).
    public var oldSummary: Quality? { summary(\.old) }
    /// The same for the new side.
    public var newSummary: Quality? { summary(\.new) }

    private func summary(_ side: KeyPath<QueryRow, Quality?>) -> Quality? {
        let q = queries.compactMap { $0[keyPath: side] }
        guard !q.isEmpty else { return nil }
        let n = Double(q.count)
        return Quality(recall: q.map(\.recall).reduce(0, +) / n, ndcg: q.map(\.ndcg).reduce(0, +) / n, mrr: q.map(\.mrr).reduce(0, +) / n)
    }

    var meanOverlap: Double? { RetrievalMetrics.mean(queries.map { Double($0.overlap) }) }
    var top1Agreement: Double? { RetrievalMetrics.mean(queries.map { $0.top1Agrees ? 1 : 0 }) }
    var meanRankCorrelation: Double? { RetrievalMetrics.mean(skippingNil: queries.map(\.rankCorrelation)) }
    var meanTop1: (old: Double?, new: Double?) {
        (RetrievalMetrics.mean(queries.compactMap(\.oldTop1)), RetrievalMetrics.mean(queries.compactMap(\.newTop1)))
    }

    // MARK: - JSON

    /// The whole report for machines (stable keys; add freely).
    public var json: JSONValue {
        func num(_ v: Double?) -> JSONValue { v.map { .double($0) } ?? .null }
        func side(_ s: Side) -> JSONValue {
            ["label": .string(s.label), "collection": .string(s.collection), "embedder": .string(s.embedder),
             "vectors": .int(Int64(s.vectors)), "documents": .int(Int64(s.documents))]
        }
        func quality(_ q: Quality?) -> JSONValue {
            guard let q else { return .null }
            return ["recall_at_k": .double(q.recall), "ndcg_at_k": .double(q.ndcg), "mrr_at_k": .double(q.mrr)]
        }
        let top1 = meanTop1
        return [
            "passed": .bool(passed), "failing": .array(failing.map { .string($0) }),
            "old": side(old), "new": side(new), "k": .int(Int64(k)), "queries_source": .string(queriesSource),
            "labelled": .bool(labelled), "same_embedder": .bool(sameEmbedder), "same_chunking": .bool(sameChunking),
            "vector_ratio": num(old.vectors > 0 ? Double(new.vectors) / Double(old.vectors) : nil),
            "missing_documents": .int(Int64(missingDocuments)), "extra_documents": .int(Int64(extraDocuments)),
            "failed_documents": .int(Int64(failedDocuments)),
            "self_retrieval": ["sample": .int(Int64(selfRetrieval.sample)), "old_recall_at_10": num(selfRetrieval.old), "new_recall_at_10": num(selfRetrieval.new)],
            "aggregate": [
                "queries": .int(Int64(queries.count)), "mean_overlap_at_k": num(meanOverlap), "top1_agreement": num(top1Agreement),
                "mean_rank_correlation": num(meanRankCorrelation), "mean_top1_old": num(top1.old), "mean_top1_new": num(top1.new),
                "old": quality(oldSummary), "new": quality(newSummary),
            ],
            "checks": .array(checks.map {
                ["name": .string($0.name), "value": num($0.value), "threshold": .string($0.threshold), "verdict": .string($0.verdict.rawValue), "note": .string($0.note)]
            }),
            "per_query": .array(queries.map { q in
                [
                    "id": .string(q.id), "text": .string(q.text), "overlap_at_k": .int(Int64(q.overlap)), "overlap_depth": .int(Int64(q.depth)),
                    "overlap_at_5": .int(Int64(q.overlapAt5)),
                    "rank_correlation": num(q.rankCorrelation), "top1_agrees": .bool(q.top1Agrees), "top1_old": num(q.oldTop1), "top1_new": num(q.newTop1),
                    "old_top": .array(q.oldTop.map { .string($0) }), "new_top": .array(q.newTop.map { .string($0) }),
                    "old": quality(q.old), "new": quality(q.new), "ndcg_delta": num(q.ndcgDelta),
                ]
            }),
            "changes": changes.json,
            "seconds": .double(seconds),
        ]
    }

    // MARK: - Markdown

    /// A report for people: the verdict, the checks table, aggregates, the worst queries.
    public var markdown: String {
        var out = "# Collection comparison: \(old.collection) → \(new.collection)\n\n"
        out += "**Verdict: \(passed ? "PASSED" : "REJECTED")**\(passed ? "" : " — failing: " + failing.joined(separator: ", "))\n\n"
        out += "| | old | new |\n|---|---|---|\n"
        out += "| collection | `\(old.collection)` | `\(new.collection)` |\n| embedder | `\(old.embedder)` | `\(new.embedder)` |\n"
        out += "| vectors | \(old.vectors) | \(new.vectors) |\n| documents | \(old.documents) | \(new.documents) |\n"
        out += "| self-retrieval recall@10 | \(f(selfRetrieval.old)) | \(f(selfRetrieval.new)) |\n"
        if let o = oldSummary, let n = newSummary {
            out += "| nDCG@\(k) | \(f(o.ndcg)) | \(f(n.ndcg)) |\n| recall@\(k) | \(f(o.recall)) | \(f(n.recall)) |\n| MRR@\(k) | \(f(o.mrr)) | \(f(n.mrr)) |\n"
        }
        let top1 = meanTop1
        out += "| mean top-1 score | \(f(top1.old)) | \(f(top1.new)) |\n\n"
        out += "## Checks\n\n| check | value | threshold | verdict | note |\n|---|---|---|---|---|\n"
        for c in checks { out += "| \(c.name) | \(f(c.value)) | \(c.threshold) | \(c.verdict.rawValue.uppercased()) | \(c.note) |\n" }
        out += "\n## Agreement (\(queries.count) queries: \(queriesSource))\n\n"
        out += "- mean overlap@\(k): \(f(meanOverlap)); top-1 agreement: \(f(top1Agreement)); mean rank correlation: \(f(meanRankCorrelation))\n"
        out += "- documents missing from new: \(missingDocuments); only in new: \(extraDocuments); failed while building: \(failedDocuments)\n"
        out += "- same embedder: \(sameEmbedder ? "yes" : "no"); same chunking: \(sameChunking ? "yes" : "no")\n\n"
        out += changes.markdown(k: k)
        return out
    }

    private func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }
}

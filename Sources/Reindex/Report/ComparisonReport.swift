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
        public var overlap: Int
        public var overlapAt5: Int
        public var rankCorrelation: Double?
        public var top1Agrees: Bool
        public var oldTop1: Double?
        public var newTop1: Double?
        public var oldTop: [String]
        public var newTop: [String]
        public var old: Quality?
        public var new: Quality?
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
    public var checks: [Check]
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
                    "id": .string(q.id), "text": .string(q.text), "overlap_at_k": .int(Int64(q.overlap)), "overlap_at_5": .int(Int64(q.overlapAt5)),
                    "rank_correlation": num(q.rankCorrelation), "top1_agrees": .bool(q.top1Agrees), "top1_old": num(q.oldTop1), "top1_new": num(q.newTop1),
                    "old": quality(q.old), "new": quality(q.new),
                ]
            }),
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
        let worst = queries.sorted { ($0.overlap, $0.id) < ($1.overlap, $1.id) }.prefix(10)
        if !worst.isEmpty {
            out += "## Lowest-overlap queries\n\n| query | overlap@\(k) | top-1 old | top-1 new |\n|---|---|---|---|\n"
            for q in worst { out += "| \(escape(q.text.prefix(60))) | \(q.overlap) | \(q.oldTop.first ?? "–") | \(q.newTop.first ?? "–") |\n" }
        }
        return out
    }

    private func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }
    private func escape(_ s: Substring) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
}

import Foundation

/// Retrieval-quality measures for one query's ranked results, and agreement measures between two
/// result lists.
///
/// Ranked lists are document ids, best first. A repeated id counts only at its first position (later
/// copies are ignored). Relevance judgements map a document id to a grade; a grade above 0 means relevant.
///
/// ```swift
/// let ranked = ["d3", "d1", "d7"]
/// let qrels = ["d1": 2, "d9": 1]
/// RetrievalMetrics.recall(at: 3, ranked: ranked, relevant: qrels)  // 0.5
/// RetrievalMetrics.mrr(at: 3, ranked: ranked, relevant: qrels)     // 0.5
/// RetrievalMetrics.overlap(at: 2, ["a", "b"], ["b", "c"])          // 1
/// ```
public enum RetrievalMetrics {
    // MARK: - Quality against judgements

    /// Recall@k: the share of relevant documents (grade > 0) found in the top `k`.
    ///
    /// - Parameters:
    ///   - k: How many results count; `k <= 0` gives 0.
    ///   - ranked: Document ids, best first.
    ///   - relevant: Document id → grade.
    /// - Returns: A value in [0, 1]; 0 when nothing is relevant.
    public static func recall(at k: Int, ranked: [String], relevant: [String: Int]) -> Double {
        let relevantCount = relevant.values.count { $0 > 0 }
        guard relevantCount > 0 else { return 0 }
        let found = top(k, of: ranked).count { (relevant[$0] ?? 0) > 0 }
        return Double(found) / Double(relevantCount)
    }

    /// nDCG@k as BEIR computes it with trec_eval (`ndcg_cut`): gain is the grade itself (grades at or below
    /// 0 give nothing), the result at rank `r` (from 1) is discounted by `log2(r + 1)`, and the ideal DCG
    /// ranks all judged-relevant documents by grade, highest first, cut at `k`.
    ///
    /// - Parameters:
    ///   - k: How many results count; `k <= 0` gives 0.
    ///   - ranked: Document ids, best first.
    ///   - relevant: Document id → grade.
    /// - Returns: A value in [0, 1]; 0 when nothing is relevant.
    public static func ndcg(at k: Int, ranked: [String], relevant: [String: Int]) -> Double {
        let ideal = relevant.values.filter { $0 > 0 }.sorted(by: >).prefix(max(0, k))
        var idcg = 0.0
        for (i, grade) in ideal.enumerated() { idcg += Double(grade) / discount(rank: i + 1) }
        guard idcg > 0 else { return 0 }
        var dcg = 0.0
        for (i, id) in top(k, of: ranked).enumerated() {
            let grade = relevant[id] ?? 0
            if grade > 0 { dcg += Double(grade) / discount(rank: i + 1) }
        }
        return dcg / idcg
    }

    /// MRR@k for one query: `1 / rank` of the first relevant document (grade > 0) in the top `k`, ranks
    /// from 1; 0 when there is none.
    ///
    /// - Parameters:
    ///   - k: How many results count; `k <= 0` gives 0.
    ///   - ranked: Document ids, best first.
    ///   - relevant: Document id → grade.
    /// - Returns: The reciprocal rank, in [0, 1].
    public static func mrr(at k: Int, ranked: [String], relevant: [String: Int]) -> Double {
        for (i, id) in top(k, of: ranked).enumerated() where (relevant[id] ?? 0) > 0 {
            return 1 / Double(i + 1)
        }
        return 0
    }

    // MARK: - Agreement between two result lists

    /// Overlap@k: how many ids the top `k` of two lists share.
    ///
    /// - Parameters:
    ///   - k: How many results of each list count; `k <= 0` gives 0.
    ///   - a: One ranked list.
    ///   - b: The other ranked list.
    /// - Returns: The size of the intersection of the two top-`k` sets, in `0...k`.
    public static func overlap(at k: Int, _ a: [String], _ b: [String]) -> Int {
        let topA = Set(top(k, of: a))
        return top(k, of: b).count { topA.contains($0) }
    }

    /// Spearman's rank correlation of two ranked lists over the ids present in both.
    ///
    /// The shared ids are ranked 1…m in the order each list gives them, and
    /// `ρ = 1 − 6·Σd² / (m·(m² − 1))`, where `d` is an id's rank difference (there are no ties).
    ///
    /// - Returns: A value in [−1, 1] (1 when both lists order the shared ids alike), or `nil` when fewer than
    ///   two ids are shared.
    public static func spearman(_ a: [String], _ b: [String]) -> Double? {
        guard let ranks = sharedRanks(a, b) else { return nil }
        let m = Double(ranks.count)
        var sumSquares = 0.0
        for (i, r) in ranks.enumerated() {
            let d = Double(i - r)
            sumSquares += d * d
        }
        return 1 - 6 * sumSquares / (m * (m * m - 1))
    }

    /// Kendall's rank correlation (τ-a; there are no ties) of two ranked lists over the ids present in
    /// both: `(concordant − discordant) / (m·(m − 1) / 2)` over all pairs of the `m` shared ids.
    ///
    /// Complexity: O(m²).
    ///
    /// - Returns: A value in [−1, 1], or `nil` when fewer than two ids are shared.
    public static func kendallTau(_ a: [String], _ b: [String]) -> Double? {
        guard let ranks = sharedRanks(a, b) else { return nil }
        let m = ranks.count
        var score = 0
        for i in 0..<m {
            for j in (i + 1)..<m { score += ranks[i] < ranks[j] ? 1 : -1 }
        }
        return Double(score) / Double(m * (m - 1) / 2)
    }

    // MARK: - Averages

    /// The arithmetic mean, or `nil` for no values.
    ///
    /// ```swift
    /// RetrievalMetrics.mean([0.5, 1, 0])   // 0.5
    /// ```
    public static func mean(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return values.reduce(0, +) / Double(values.count)
    }

    /// The arithmetic mean of the values that are not `nil` (e.g. rank correlations of queries with too few
    /// shared results), or `nil` when there are none.
    public static func mean(skippingNil values: [Double?]) -> Double? {
        mean(values.compactMap { $0 })
    }

    // MARK: - Helpers

    /// The first `k` distinct ids of `ranked`, in order.
    static func top(_ k: Int, of ranked: [String]) -> [String] {
        guard k > 0 else { return [] }
        var seen = Set<String>()
        var result: [String] = []
        result.reserveCapacity(min(k, ranked.count))
        for id in ranked where seen.insert(id).inserted {
            result.append(id)
            if result.count == k { break }
        }
        return result
    }

    /// For the ids shared by `a` and `b`, taken in `a`'s order, their 0-based ranks among the shared ids in
    /// `b`'s order; `nil` when fewer than two are shared.
    private static func sharedRanks(_ a: [String], _ b: [String]) -> [Int]? {
        let distinctA = top(a.count, of: a), distinctB = top(b.count, of: b)
        let inA = Set(distinctA)
        var rankInB: [String: Int] = [:]
        for id in distinctB where inA.contains(id) { rankInB[id] = rankInB.count }
        guard rankInB.count >= 2 else { return nil }
        return distinctA.compactMap { rankInB[$0] }
    }

    private static func discount(rank: Int) -> Double {
        log2(Double(rank) + 1)
    }

    /// Mean nDCG@k, recall@k and MRR@k over queries.
    public struct Summary: Sendable, Equatable {
        public var ndcg: Double
        public var recall: Double
        public var mrr: Double
        public var queries: Int
    }

    /// Averages ``ndcg(at:ranked:relevant:)``, ``recall(at:ranked:relevant:)`` and ``mrr(at:ranked:relevant:)``
    /// over `results` (each query's ranked ids with its judgements); 0 for an empty list.
    public static func summary(at k: Int, _ results: [(ranked: [String], relevant: [String: Int])]) -> Summary {
        var s = Summary(ndcg: 0, recall: 0, mrr: 0, queries: results.count)
        for r in results {
            s.ndcg += ndcg(at: k, ranked: r.ranked, relevant: r.relevant)
            s.recall += recall(at: k, ranked: r.ranked, relevant: r.relevant)
            s.mrr += mrr(at: k, ranked: r.ranked, relevant: r.relevant)
        }
        let n = Double(max(1, results.count))
        s.ndcg /= n
        s.recall /= n
        s.mrr /= n
        return s
    }
}

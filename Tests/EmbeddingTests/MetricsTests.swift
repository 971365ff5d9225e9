import Embedding
import Foundation
import Testing
import _SwitchyardTestSupport

@Suite("Retrieval metrics")
struct MetricsTests {
    static let ranked = ["d1", "d2", "d3", "d4", "d5"]
    /// d2, d4 and d9 are relevant (3 documents); d7 is judged not relevant; d9 is never retrieved.
    static let qrels = ["d2": 2, "d4": 1, "d9": 3, "d7": 0]

    static func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-9) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance
    }

    // MARK: - Recall

    @Test("recall@k counts relevant documents in the top k over all relevant ones")
    func recall() {
        // Relevant (grade > 0): d2, d4, d9 → 3.
        // @1: {d1} → 0/3. @2: {d1,d2} → 1/3. @4: {…,d4} → 2/3. @5 and @100: still 2/3 (d9 never found).
        #expect(RetrievalMetrics.recall(at: 1, ranked: Self.ranked, relevant: Self.qrels) == 0)
        #expect(Self.close(RetrievalMetrics.recall(at: 2, ranked: Self.ranked, relevant: Self.qrels), 1.0 / 3))
        #expect(Self.close(RetrievalMetrics.recall(at: 4, ranked: Self.ranked, relevant: Self.qrels), 2.0 / 3))
        #expect(Self.close(RetrievalMetrics.recall(at: 5, ranked: Self.ranked, relevant: Self.qrels), 2.0 / 3))
        #expect(Self.close(RetrievalMetrics.recall(at: 100, ranked: Self.ranked, relevant: Self.qrels), 2.0 / 3))
        #expect(RetrievalMetrics.recall(at: 0, ranked: Self.ranked, relevant: Self.qrels) == 0)
        #expect(RetrievalMetrics.recall(at: -3, ranked: Self.ranked, relevant: Self.qrels) == 0)
        #expect(RetrievalMetrics.recall(at: 5, ranked: [], relevant: Self.qrels) == 0)
    }

    @Test("grade 0 or below is not relevant; no relevant documents gives 0 for every measure")
    func nothingRelevant() {
        let judgedIrrelevant = ["d1": 0, "d2": -1]
        for relevant in [[:], judgedIrrelevant] {
            #expect(RetrievalMetrics.recall(at: 5, ranked: Self.ranked, relevant: relevant) == 0)
            #expect(RetrievalMetrics.ndcg(at: 5, ranked: Self.ranked, relevant: relevant) == 0)
            #expect(RetrievalMetrics.mrr(at: 5, ranked: Self.ranked, relevant: relevant) == 0)
        }
    }

    @Test("a repeated id counts once, at its first position")
    func duplicates() {
        // Distinct top 2 of [d2, d2, d4] is [d2, d4]: both relevant → recall 2/2, nDCG 1.
        let relevant = ["d2": 1, "d4": 1]
        #expect(RetrievalMetrics.recall(at: 2, ranked: ["d2", "d2", "d4"], relevant: relevant) == 1)
        #expect(Self.close(RetrievalMetrics.ndcg(at: 2, ranked: ["d2", "d2", "d4"], relevant: relevant), 1))
        #expect(RetrievalMetrics.overlap(at: 2, ["a", "a", "b"], ["b", "a"]) == 2)
    }

    // MARK: - nDCG

    @Test("nDCG@k uses the grade as gain and log2(rank + 1) as discount")
    func ndcg() {
        // @5: DCG = 2/log2(3) [d2 at rank 2] + 1/log2(5) [d4 at rank 4]
        //         = 2/1.5849625 + 1/2.3219281 = 1.2618595 + 0.4306766 = 1.6925361.
        //     IDCG = grades 3, 2, 1 at ranks 1–3 = 3/log2(2) + 2/log2(3) + 1/log2(4)
        //          = 3 + 1.2618595 + 0.5 = 4.7618595.
        //     nDCG = 1.6925361 / 4.7618595 = 0.3554360.
        let expected5 = (2 / log2(3.0) + 1 / log2(5.0)) / (3 + 2 / log2(3.0) + 1 / log2(4.0))
        #expect(Self.close(expected5, 0.355_435_951_58, tolerance: 1e-10))
        #expect(Self.close(RetrievalMetrics.ndcg(at: 5, ranked: Self.ranked, relevant: Self.qrels), 0.355_435_951_58, tolerance: 1e-10))
        // @2: DCG = 2/log2(3) = 1.2618595; IDCG@2 = 3 + 2/log2(3) = 4.2618595 → 0.2960819.
        #expect(Self.close(RetrievalMetrics.ndcg(at: 2, ranked: Self.ranked, relevant: Self.qrels), 0.296_081_910_97, tolerance: 1e-10))
        // @1: d1 is not relevant → DCG 0.
        #expect(RetrievalMetrics.ndcg(at: 1, ranked: Self.ranked, relevant: Self.qrels) == 0)
        #expect(RetrievalMetrics.ndcg(at: 0, ranked: Self.ranked, relevant: Self.qrels) == 0)
    }

    @Test("nDCG is 1 for the ideal order and below 1 for a worse one")
    func ndcgIdeal() {
        let relevant = ["a": 3, "b": 2, "c": 1]
        #expect(Self.close(RetrievalMetrics.ndcg(at: 3, ranked: ["a", "b", "c"], relevant: relevant), 1))
        #expect(Self.close(RetrievalMetrics.ndcg(at: 10, ranked: ["a", "b", "c", "x"], relevant: relevant), 1))
        // Equal grades in any order are ideal too.
        #expect(Self.close(RetrievalMetrics.ndcg(at: 2, ranked: ["q", "p"], relevant: ["p": 1, "q": 1]), 1))
        // [c, b, a]: DCG = 1 + 2/log2(3) + 3/log2(4) = 1 + 1.2618595 + 1.5 = 3.7618595;
        // IDCG = 3 + 1.2618595 + 0.5 = 4.7618595 → 0.7899980.
        #expect(
            Self.close(RetrievalMetrics.ndcg(at: 3, ranked: ["c", "b", "a"], relevant: relevant), 3.761_859_507_14 / 4.761_859_507_14,
                tolerance: 1e-10))
        // Cut at k=1 with binary grades: ["x", "a"] → 0; ["a"] → 1.
        #expect(RetrievalMetrics.ndcg(at: 1, ranked: ["x", "a"], relevant: ["a": 1]) == 0)
        #expect(Self.close(RetrievalMetrics.ndcg(at: 1, ranked: ["a", "x"], relevant: ["a": 1, "b": 1]), 1))
    }

    // MARK: - MRR

    @Test("MRR@k is the reciprocal rank of the first relevant result within k")
    func mrr() {
        // First relevant is d2 at rank 2 → 1/2, once k ≥ 2.
        #expect(RetrievalMetrics.mrr(at: 1, ranked: Self.ranked, relevant: Self.qrels) == 0)
        #expect(RetrievalMetrics.mrr(at: 2, ranked: Self.ranked, relevant: Self.qrels) == 0.5)
        #expect(RetrievalMetrics.mrr(at: 10, ranked: Self.ranked, relevant: Self.qrels) == 0.5)
        #expect(RetrievalMetrics.mrr(at: 3, ranked: ["a", "b", "c"], relevant: ["c": 1]) == 1.0 / 3)
        #expect(RetrievalMetrics.mrr(at: 3, ranked: ["a", "b", "c"], relevant: ["a": 2]) == 1)
        #expect(RetrievalMetrics.mrr(at: 0, ranked: ["a"], relevant: ["a": 1]) == 0)
    }

    // MARK: - Overlap

    @Test("overlap@k is the size of the intersection of the two top-k sets")
    func overlap() {
        let a = ["a", "b", "c", "d"], b = ["c", "a", "x", "y"]
        // @1: {a} ∩ {c} = ∅ → 0. @2: {a,b} ∩ {c,a} = {a} → 1. @3: {a,b,c} ∩ {c,a,x} = {a,c} → 2.
        // @4: {a,b,c,d} ∩ {c,a,x,y} = {a,c} → 2. @10: same as @4.
        #expect(RetrievalMetrics.overlap(at: 1, a, b) == 0)
        #expect(RetrievalMetrics.overlap(at: 2, a, b) == 1)
        #expect(RetrievalMetrics.overlap(at: 3, a, b) == 2)
        #expect(RetrievalMetrics.overlap(at: 4, a, b) == 2)
        #expect(RetrievalMetrics.overlap(at: 10, a, b) == 2)
        #expect(RetrievalMetrics.overlap(at: 3, b, a) == 2)
        #expect(RetrievalMetrics.overlap(at: 0, a, a) == 0)
        #expect(RetrievalMetrics.overlap(at: 5, a, []) == 0)
        #expect(RetrievalMetrics.overlap(at: 4, a, a) == 4)
    }

    // MARK: - Rank correlation

    @Test("Spearman and Kendall on two swapped pairs")
    func swappedPairs() {
        // a: a b c d (ranks 1 2 3 4); b: b a d c → a=2, b=1, c=4, d=3. d = −1, 1, −1, 1; Σd² = 4.
        // ρ = 1 − 6·4 / (4·(16 − 1)) = 1 − 24/60 = 0.6.
        // Pairs: 6; discordant (a,b) and (c,d), concordant 4 → τ = (4 − 2)/6 = 1/3.
        let a = ["a", "b", "c", "d"], b = ["b", "a", "d", "c"]
        #expect(Self.close(RetrievalMetrics.spearman(a, b), 0.6))
        #expect(Self.close(RetrievalMetrics.kendallTau(a, b), 1.0 / 3))
        #expect(Self.close(RetrievalMetrics.spearman(b, a), 0.6))
        #expect(Self.close(RetrievalMetrics.kendallTau(b, a), 1.0 / 3))
    }

    @Test("identical order gives 1, reversed order −1")
    func extremes() {
        #expect(Self.close(RetrievalMetrics.spearman(["a", "b", "c"], ["a", "b", "c"]), 1))
        #expect(Self.close(RetrievalMetrics.kendallTau(["a", "b", "c"], ["a", "b", "c"]), 1))
        // Reversed: d = −2, 0, 2; Σd² = 8; ρ = 1 − 6·8/(3·8) = −1. All 3 pairs discordant: τ = −3/3 = −1.
        #expect(Self.close(RetrievalMetrics.spearman(["a", "b", "c"], ["c", "b", "a"]), -1))
        #expect(Self.close(RetrievalMetrics.kendallTau(["a", "b", "c"], ["c", "b", "a"]), -1))
    }

    @Test("one swap of three")
    func oneSwap() {
        // a: a b c; b: a c b → ranks a 1/1, b 2/3, c 3/2. Σd² = 0 + 1 + 1 = 2; ρ = 1 − 12/24 = 0.5.
        // Pairs (a,b) C, (a,c) C, (b,c) D → τ = (2 − 1)/3 = 1/3.
        #expect(Self.close(RetrievalMetrics.spearman(["a", "b", "c"], ["a", "c", "b"]), 0.5))
        #expect(Self.close(RetrievalMetrics.kendallTau(["a", "b", "c"], ["a", "c", "b"]), 1.0 / 3))
    }

    @Test("only the shared items count, ranked among themselves")
    func sharedOnly() {
        // Shared: a, b, c. In the first list they come a, b, c; in the second c, b, a → reversed: −1, −1.
        let first = ["a", "x", "b", "y", "c"], second = ["c", "z", "b", "w", "q", "a"]
        #expect(Self.close(RetrievalMetrics.spearman(first, second), -1))
        #expect(Self.close(RetrievalMetrics.kendallTau(first, second), -1))
        // Repeats count at their first position: [a, b, a] is a, b.
        #expect(Self.close(RetrievalMetrics.spearman(["a", "b", "a"], ["a", "b"]), 1))
    }

    @Test("fewer than two shared items give nil")
    func tooFewShared() {
        for (a, b) in [([String](), [String]()), (["a", "b"], ["a", "c"]), (["a"], ["a"]), (["a", "b"], ["c", "d"])] {
            #expect(RetrievalMetrics.spearman(a, b) == nil)
            #expect(RetrievalMetrics.kendallTau(a, b) == nil)
        }
        #expect(Self.close(RetrievalMetrics.spearman(["a", "b"], ["b", "a"]), -1))
        #expect(Self.close(RetrievalMetrics.kendallTau(["a", "b"], ["b", "a"]), -1))
    }

    @Test("Spearman equals the Pearson correlation of ranks and Kendall a pair count, on random permutations")
    func randomPermutations() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<200 {
            let m = 2 + rng.nextInt(below: 15)
            let items = (0..<m).map { "i\($0)" }
            let other = items.shuffled(using: &rng)
            let rankA = Dictionary(uniqueKeysWithValues: items.enumerated().map { ($1, Double($0)) })
            let rankB = Dictionary(uniqueKeysWithValues: other.enumerated().map { ($1, Double($0)) })
            let xs = items.map { rankA[$0]! }, ys = items.map { rankB[$0]! }
            let mx = xs.reduce(0, +) / Double(m), my = ys.reduce(0, +) / Double(m)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for (x, y) in zip(xs, ys) {
                sxy += (x - mx) * (y - my)
                sxx += (x - mx) * (x - mx)
                syy += (y - my) * (y - my)
            }
            #expect(Self.close(RetrievalMetrics.spearman(items, other), sxy / (sxx * syy).squareRoot(), tolerance: 1e-9))
            var concordant = 0, discordant = 0
            for i in 0..<m {
                for j in 0..<m where i < j {
                    if (xs[i] - xs[j]) * (ys[i] - ys[j]) > 0 { concordant += 1 } else { discordant += 1 }
                }
            }
            let tau = Double(concordant - discordant) / Double(m * (m - 1) / 2)
            #expect(Self.close(RetrievalMetrics.kendallTau(items, other), tau, tolerance: 1e-12))
        }
    }

    // MARK: - Means

    @Test("means")
    func means() {
        // (0.5 + 1 + 0) / 3 = 0.5; skipping nils: (1 + 0.5) / 2 = 0.75.
        #expect(RetrievalMetrics.mean([0.5, 1, 0]) == 0.5)
        #expect(RetrievalMetrics.mean([]) == nil)
        #expect(RetrievalMetrics.mean(skippingNil: [nil, 1, nil, 0.5]) == 0.75)
        #expect(RetrievalMetrics.mean(skippingNil: [nil, nil]) == nil)
    }
}

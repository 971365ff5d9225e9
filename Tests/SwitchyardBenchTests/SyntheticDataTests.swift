import SwitchyardBench
import Testing
import VectorMath
import VectorStore

@Suite("Synthetic benchmark data")
struct SyntheticDataTests {
    @Test("synthetic data is deterministic and its ground truth is an exact cosine top-k")
    func synthetic() throws {
        let p = SyntheticData.Parameters(count: 500, dimension: 16, queries: 20, clusters: 10, seed: 9, groundTruthK: 10)
        let a = try SyntheticData.generate(p), b = try SyntheticData.generate(p)
        #expect(a.base == b.base && a.queries == b.queries && a.groundTruth == b.groundTruth)
        for q in 0..<a.queries.count {
            let query = a.queries.row(q)
            let scores = (0..<a.base.count).map { i in zip(a.base.row(i), query).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
            let best = scores.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }.prefix(10).map(\.offset)
            let got = a.groundTruth.row(q).map(Int.init)
            // Allow swaps only between near-equal scores.
            for (x, y) in zip(best, got) where x != y { #expect(abs(scores[x] - scores[y]) < 1e-5) }
        }
        let norms = (0..<a.base.count).map { i in a.base.row(i).reduce(0) { $0 + $1 * $1 } }
        #expect(norms.allSatisfy { abs($0 - 1) < 1e-4 })
    }
}

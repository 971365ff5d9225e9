import Benchmark
import Switchyard
import SwitchyardBench

/// The scoring kernels (dot product and squared L2, the runtime-selected SIMD level) over 10,000 rows,
/// at the dimensions embedders use: throughput is rows scored per second.
let benchmarks: @Sendable () -> Void = {
    for dimension in [128, 384, 768, 1536] {
        for distance in [Distance.dot, .euclid] {
            let rows = 10_000
            var rng = SplitMix64(seed: UInt64(dimension))
            let matrix = RowMatrix(dimension: dimension, capacity: rows)
            var v = [Float](repeating: 0, count: dimension)
            for r in 0..<rows {
                for i in 0..<dimension { v[i] = Float(rng.nextUnit() * 2 - 1) }
                v.withUnsafeBufferPointer { _ = matrix.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: UInt64(r))) }
            }
            let query = (0..<dimension).map { _ in Float(rng.nextUnit() * 2 - 1) }
            let name = distance == .dot ? "dot" : "l2"
            Benchmark("kernel \(name) d=\(dimension) (10k rows)",
                      configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one,
                                           maxDuration: .seconds(3), maxIterations: 2_000)) { benchmark in
                for _ in benchmark.scaledIterations {
                    query.withUnsafeBufferPointer { q in matrix.withView { blackHole(ExactSearch.search($0, query: q.baseAddress!, k: 10, distance: distance)) } }
                }
            }
        }
    }
}

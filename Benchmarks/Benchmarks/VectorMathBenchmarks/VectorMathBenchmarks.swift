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
    // The int8 kernels (the path the CPU allows: AVX-512 VNNI, AVX2 or scalar): one query over 10,000 rows
    // (no rescoring, to time the scan alone), a batch of 64 queries through the fused 8-query kernel, and that
    // batch with its candidates rescored.
    for dimension in [384, 768] {
        let rows = 10_000
        var rng = SplitMix64(seed: UInt64(dimension) + 1)
        let matrix = RowMatrix(dimension: dimension, capacity: rows)
        var v = [Float](repeating: 0, count: dimension)
        for r in 0..<rows {
            for i in 0..<dimension { v[i] = Float(rng.nextUnit() * 2 - 1) }
            v.withUnsafeBufferPointer { _ = matrix.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: UInt64(r))) }
        }
        matrix.enableQuantization(quantile: 0.99, distance: .dot)
        let queries = (0..<(64 * dimension)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let scanOnly = QuantizationParams(rescore: false)
        let config = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one,
                                             maxDuration: .seconds(3), maxIterations: 2_000)
        Benchmark("int8 kernel d=\(dimension) (10k rows, \(Kernels.int8Name))", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                queries.withUnsafeBufferPointer { q in
                    matrix.withView { blackHole(QuantizedSearch.search($0, query: q.baseAddress!, k: 10, distance: .dot, params: scanOnly)) }
                }
            }
        }
        Benchmark("int8 batch of 64 d=\(dimension) (10k rows, \(Kernels.int8Name))", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                queries.withUnsafeBufferPointer { q in
                    matrix.withView {
                        blackHole(QuantizedSearch.searchBatch($0, queries: q.baseAddress!, count: 64, k: 10, distance: .dot, params: scanOnly))
                    }
                }
            }
        }
        // The same batch rescored (Qdrant's default) with oversampling 4, as in the README's table: 4 × k candidates
        // per query, ranked again in double precision.
        let rescored = QuantizationParams(rescore: true, oversampling: 4)
        Benchmark("int8 batch of 64 rescored, oversampling 4 d=\(dimension) (10k rows, \(Kernels.int8Name))",
                  configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                queries.withUnsafeBufferPointer { q in
                    matrix.withView {
                        blackHole(QuantizedSearch.searchBatch($0, queries: q.baseAddress!, count: 64, k: 10, distance: .dot, params: rescored))
                    }
                }
            }
        }
    }
}

import Benchmark
import Foundation
import Switchyard
import SwitchyardBench

/// Exact search through a store: single queries, batches of 100, and filtered single queries, at 10k
/// and 100k 384-d points (cosine; at 100k exact searches are screened by int8 with proven bounds); the same
/// searches in a store without the screen (`exactScreening = false`: the float32 scan alone); the same
/// collections with int8 scalar quantization (oversampling 4, rescored): single queries and batches of 100.
let benchmarks: @Sendable () -> Void = {
    for n in [10_000, 100_000] {
        let dir = NSTemporaryDirectory() + "switchyard-bench-search-\(n)-\(UUID().uuidString.prefix(6))"
        nonisolated(unsafe) var store: Store!
        nonisolated(unsafe) var unscreened: Store!
        nonisolated(unsafe) var queries: [[Float]] = []
        let setUp: @Sendable () -> Void = {
            guard store == nil else { return }
            let data = try! SyntheticData.generate(.init(count: n, dimension: 384, queries: 100, clusters: 100, seed: 7, groundTruthK: 1))
            var o = Store.Options()
            o.synchronous = .normal
            store = try! Store.open(at: dir, options: o)
            o.exactScreening = false
            unscreened = try! Store.open(at: dir + "-float", options: o)
            try! unscreened.createCollection("bench", dimension: 384, distance: .cosine)
            _ = try! data.base.values.withUnsafeBufferPointer { buf in
                try unscreened.upsert("bench", ids: (0..<n).map { .number(UInt64($0)) }, vectors: buf)
            }
            try! store.createCollection("bench", dimension: 384, distance: .cosine)
            try! store.createCollection("int8", dimension: 384, distance: .cosine, quantization: ScalarQuantization(quantile: 0.99))
            let payloads: [Payload?] = (0..<n).map { ["group": .int(Int64($0 % 10))] }
            for name in ["bench", "int8"] {
                _ = try! data.base.values.withUnsafeBufferPointer { buf in
                    try store.upsert(name, ids: (0..<n).map { .number(UInt64($0)) }, vectors: buf, payloads: payloads)
                }
            }
            queries = (0..<100).map { Array(data.queries.values[($0 * 384)..<(($0 + 1) * 384)]) }
        }
        let config = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one,
                                             maxDuration: .seconds(4), maxIterations: 1_000,
                                             setup: { setUp() }, teardown: {})
        Benchmark("search single n=\(n)", configuration: config) { benchmark in
            var i = 0
            for _ in benchmark.scaledIterations {
                blackHole(try store.search("bench", SearchRequest(vector: queries[i % queries.count], limit: 10)))
                i += 1
            }
        }
        Benchmark("search batch of 100 n=\(n)", configuration: config) { benchmark in
            let requests = queries.map { SearchRequest(vector: $0, limit: 10) }
            for _ in benchmark.scaledIterations { blackHole(try store.searchBatch("bench", requests)) }
        }
        Benchmark("search single, float scan only n=\(n)", configuration: config) { benchmark in
            var i = 0
            for _ in benchmark.scaledIterations {
                blackHole(try unscreened.search("bench", SearchRequest(vector: queries[i % queries.count], limit: 10)))
                i += 1
            }
        }
        Benchmark("search batch of 100, float scan only n=\(n)", configuration: config) { benchmark in
            let requests = queries.map { SearchRequest(vector: $0, limit: 10) }
            for _ in benchmark.scaledIterations { blackHole(try unscreened.searchBatch("bench", requests)) }
        }
        Benchmark("search filtered (1 in 10) n=\(n)", configuration: config) { benchmark in
            let filter = try Filter(json: #"{"must": [{"key": "group", "match": {"value": 3}}]}"#)
            var i = 0
            for _ in benchmark.scaledIterations {
                blackHole(try store.search("bench", SearchRequest(vector: queries[i % queries.count], limit: 10, filter: filter)))
                i += 1
            }
        }
        func quantized(_ v: [Float]) -> SearchRequest {
            var r = SearchRequest(vector: v, limit: 10)
            r.quantization = QuantizationParams(oversampling: 4)
            return r
        }
        Benchmark("search int8 single n=\(n)", configuration: config) { benchmark in
            var i = 0
            for _ in benchmark.scaledIterations {
                blackHole(try store.search("int8", quantized(queries[i % queries.count])))
                i += 1
            }
        }
        Benchmark("search int8 batch of 100 n=\(n)", configuration: config) { benchmark in
            let requests = queries.map(quantized)
            for _ in benchmark.scaledIterations { blackHole(try store.searchBatch("int8", requests)) }
        }
    }
}

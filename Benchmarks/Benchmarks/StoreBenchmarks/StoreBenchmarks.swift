import Benchmark
import Foundation
import Switchyard
import SwitchyardBench

/// Durable ingest (synchronous=FULL, 5,000 points per transaction) and the alias switch.
let benchmarks: @Sendable () -> Void = {
    let data = try! SyntheticData.generate(.init(count: 20_000, dimension: 384, queries: 1, clusters: 50, seed: 3, groundTruthK: 1))
    Benchmark("durable ingest 20k x 384",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident], scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 5)) { benchmark in
        for _ in benchmark.scaledIterations {
            let dir = NSTemporaryDirectory() + "switchyard-bench-ingest-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = try Store.open(at: dir)
            try store.createCollection("c", dimension: 384, distance: .cosine)
            try data.base.values.withUnsafeBufferPointer { buf in
                for start in stride(from: 0, to: 20_000, by: 5_000) {
                    let slice = UnsafeBufferPointer(rebasing: buf[(start * 384)..<((start + 5_000) * 384)])
                    _ = try store.upsert("c", ids: (start..<(start + 5_000)).map { .number(UInt64($0)) }, vectors: slice)
                }
            }
            try store.close()
        }
    }
    let dir = NSTemporaryDirectory() + "switchyard-bench-alias-\(UUID().uuidString.prefix(8))"
    nonisolated(unsafe) var store: Store!
    Benchmark("alias switch between two collections",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 500,
                                   setup: {
                                       store = try! Store.open(at: dir)
                                       for name in ["blue", "green"] { try! store.createCollection(name, dimension: 4, distance: .cosine) }
                                       try! store.updateAliases([.create(alias: "live", collection: "blue")])
                                   },
                                   teardown: { try? store.close(); try? FileManager.default.removeItem(atPath: dir) })) { benchmark in
        var i = 0
        for _ in benchmark.scaledIterations {
            try store.updateAliases([.delete(alias: "live"), .create(alias: "live", collection: i % 2 == 0 ? "green" : "blue")])
            i += 1
        }
    }
}

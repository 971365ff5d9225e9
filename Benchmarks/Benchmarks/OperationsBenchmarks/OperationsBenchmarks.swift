import Benchmark
import Foundation
import Switchyard
import SwitchyardBench

/// APPEND of the bundled dataset with hash-v2, and a hash-v1 → hash-v2 REINDEX of it, end to end on a
/// fresh durable store each time (the figures `switchyard bench append|reindex` also report).
let benchmarks: @Sendable () -> Void = {
    let dataset = (URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path as NSString).appendingPathComponent("Datasets/wordnet-defs")
    let config = Benchmark.Configuration(metrics: [.wallClock, .throughput, .peakMemoryResident], scalingFactor: .one,
                                         maxDuration: .seconds(15), maxIterations: 5)
    Benchmark("append wordnet-defs (6,000 chunks, hash-v2)", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try AppendBenchmark.run(.init(source: dataset, embedder: "hash-v2")))
        }
    }
    Benchmark("reindex wordnet-defs hash-v1 -> hash-v2", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            var c = ReindexBenchmark.Configuration(source: dataset)
            c.readers = 1
            c.idleSeconds = 0.1
            c.readerRounds = 1
            c.switches = 1
            c.switchReaders = [0]
            c.switchReindexes = 0
            blackHole(try ReindexBenchmark.run(c))
        }
    }
}

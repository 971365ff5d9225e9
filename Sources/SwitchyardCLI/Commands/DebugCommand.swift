import ArgumentParser
import Foundation
import Switchyard

/// Commands that tests use to drive real processes (not part of the user-facing contract).
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug", abstract: "Test helpers.", shouldDisplay: false, subcommands: [WriteLoop.self, Crossover.self])

    /// Upserts deterministic batches and prints `ack <batch>` after each commit, so a test can kill
    /// the process at any moment and check that every acknowledged batch survived whole.
    struct WriteLoop: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "write-loop")
        @OptionGroup var location: StoreLocation
        @Option var collection: String
        @Option var batches: Int = 1000
        @Option var batchSize: Int = 100
        @Option var dim: Int = 8

        func run() throws {
            let store = try location.open(create: true)
            if try !store.collectionExists(collection) {
                try store.createCollection(collection, dimension: dim, distance: .dot)
            }
            for b in 0..<batches {
                let points = (0..<batchSize).map { i -> Point in
                    let id = UInt64(b * batchSize + i)
                    return Point(id: .number(id), vector: (0..<dim).map { Float(b) + Float($0) / 100 },
                                 payload: ["batch": .int(Int64(b))])
                }
                try store.upsert(collection, points: points)
                emit("ack \(b)")
            }
        }
    }
}

extension DebugCommand {
    /// Times the batch strategies on the same data for growing batch sizes, to place the crossover
    /// between per-query SIMD scans and the tiled (packed / sgemm) path.
    struct Crossover: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "crossover")
        @Option var base: String
        @Option var queries: String
        @Option var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        @Option var sizes: String = "1,2,4,8,16,32,64,128"
        @Option var repeats: Int = 5

        func run() throws {
            let b = try TexmexReader.readFloats(base)
            let q = try TexmexReader.readFloats(queries)
            let m = RowMatrix(dimension: b.dimension, capacity: b.count)
            b.values.withUnsafeBufferPointer { p in
                for i in 0..<b.count { m.append(p.baseAddress! + i * b.dimension, key: RowKey(kind: 0, high: 0, low: UInt64(i))) }
            }
            emit("kernel=\(Kernels.name) blas=\(BLASRuntime.name) n=\(b.count) d=\(b.dimension) threads=\(threads)")
            emit("nq\tnq*d\tsimd_ms\tpacked_ms\tsgemm_ms")
            for nq in sizes.split(separator: ",").compactMap({ Int($0) }) where nq <= q.count {
                var row = "\(nq)\t\(nq * b.dimension)"
                for s in [BatchStrategy.simd, .packed, .gemm] {
                    var best = Double.infinity
                    for _ in 0..<repeats {
                        let t = ContinuousClock.now
                        _ = q.values.withUnsafeBufferPointer { p in
                            m.withView { view in ExactSearch.searchBatch(view, queries: p.baseAddress!, count: nq, k: 10, distance: .dot, threads: threads, strategy: s) }
                        }
                        let c = (ContinuousClock.now - t).components
                        best = min(best, Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15)
                    }
                    row += "\t" + String(format: "%.2f", best)
                }
                emit(row)
            }
        }
    }
}

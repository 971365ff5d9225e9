import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorMath
import VectorStore

/// Times an APPEND end to end on a fresh durable store: a managed collection is created from a
/// one-document seed, then the source is appended and run by a worker; the figure is chunks per second
/// from the request to the final status, with the time per stage (parse, chunk, embed, upsert, commit),
/// and the memory the operation took (its `memory_growth_bytes`, see docs/operations.md).
///
/// With `synthetic`, the source is a ``SyntheticCorpus`` written into the run's directory first.
///
/// ```swift
/// let r = try AppendBenchmark.run(.init(source: "Datasets/wordnet-defs", embedder: "hash-v2"))
/// print(r.chunksPerSecond)
/// ```
public enum AppendBenchmark {
    public struct Configuration: Sendable {
        public var source: String
        public var embedder: String
        public var chunkSize = 600
        public var chunkOverlap = 200
        public var synchronous: Store.Options.Sync = .full
        /// Append a generated corpus instead of `source`.
        public var synthetic: SyntheticCorpus?

        public init(source: String, embedder: String) {
            self.source = source
            self.embedder = embedder
        }
    }

    public struct Result: Sendable {
        public var documents: Int
        public var chunks: Int
        /// From the request to the completed status.
        public var seconds: Double
        /// Stage name → seconds (`parse`, `chunk`, `embed`, `upsert`, `commit`).
        public var stages: [String: Double]
        public var cpuUserSeconds: Double
        public var cpuSystemSeconds: Double
        public var peakRSSBytes: Double
        /// How much the process's resident memory grew while the operation ran (its peak above its start).
        public var memoryGrowthBytes: Double
        /// The source's size on disk (the synthetic corpus's, or 0 when not known).
        public var sourceBytes: Int

        public var chunksPerSecond: Double { seconds > 0 ? Double(chunks) / seconds : 0 }

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "engine": "switchyard", "documents": .int(Int64(documents)), "chunks": .int(Int64(chunks)),
                "seconds": .double(seconds), "chunks_per_s": .double(chunksPerSecond),
                "cpu_user_s": .double(cpuUserSeconds), "cpu_system_s": .double(cpuSystemSeconds),
                "peak_rss_mb": .double(peakRSSBytes / 1_048_576), "memory_growth_mb": .double(memoryGrowthBytes / 1_048_576),
                "source_mb": .double(Double(sourceBytes) / 1_048_576),
            ]
            for (k, v) in stages { o["stage_\(k)_s"] = .double(v) }
            return .object(o)
        }
    }

    /// Runs one measurement in a temporary directory (removed afterwards).
    ///
    /// - Throws: ``OperationsError`` when the source cannot be used or the operation fails.
    public static func run(_ c: Configuration, progress: @escaping (BenchProgress) -> Void = { _ in }) throws(OperationsError) -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-bench-append-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seedDir = dir + "/seed"
        do {
            try FileManager.default.createDirectory(atPath: seedDir, withIntermediateDirectories: true)
            try "seed document".write(toFile: seedDir + "/seed.txt", atomically: true, encoding: .utf8)
        } catch { throw OperationsError(.storage, "cannot prepare \(dir): \(fileErrorReason(error))") }
        var source = c.source
        var sourceBytes = 0
        if let synthetic = c.synthetic {
            source = dir + "/synthetic.jsonl"
            sourceBytes = try synthetic.write(to: source)
        }
        var options = Store.Options()
        options.synchronous = c.synchronous
        let store: Store
        do { store = try Store.open(at: dir + "/store", options: options) } catch { throw OperationsError(.storage, error.description) }
        defer { try? store.close() }
        let manager = try CollectionManager(store: store)
        try manager.setLimits(ResourceLimits(owner: "bench", maxCollections: 1, maxDocuments: Int.max / 2, maxStorageBytes: Int.max / 2, maxOperationsPerHour: 100))
        try manager.createCollection(CollectionSpec(name: "bench", owner: "bench", embedder: c.embedder, chunkSize: c.chunkSize, chunkOverlap: c.chunkOverlap),
                                     sources: [seedDir], user: "bench")
        // The worker's own poll interval: the loop wakes when the append ends.
        let worker = Worker(manager: manager, options: Worker.Options())
        _ = try worker.runUntilIdle()
        let start = ContinuousClock.now
        let op = try manager.append("bench", source: source, user: "bench")
        let final = try worker.runOperation(op.id) { op in progress(BenchProgress("append", done: op.progressDone, total: op.progressTotal)) }
        let seconds = (ContinuousClock.now - start).seconds
        guard final.status == .completed else {
            throw OperationsError(.storage, "the benchmark's append \(final.status.rawValue): \(final.error ?? "")")
        }
        let metrics = Dictionary(try manager.metrics(of: op.id).filter { $0.attempt == final.attempts }.map { ($0.name, $0.value) },
                                 uniquingKeysWith: { a, _ in a })
        var stages: [String: Double] = [:]
        for (k, v) in metrics where k.hasPrefix("stage_") && k.hasSuffix("_seconds") {
            stages[String(k.dropFirst(6).dropLast(8))] = v
        }
        return Result(documents: Int(metrics["documents_processed"] ?? 0), chunks: Int(metrics["vectors_written"] ?? 0), seconds: seconds,
                      stages: stages, cpuUserSeconds: metrics["cpu_user_seconds"] ?? 0, cpuSystemSeconds: metrics["cpu_system_seconds"] ?? 0,
                      peakRSSBytes: metrics["memory_peak_bytes"] ?? 0, memoryGrowthBytes: metrics["memory_growth_bytes"] ?? 0,
                      sourceBytes: sourceBytes)
    }
}

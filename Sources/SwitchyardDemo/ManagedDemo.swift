import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorStore

/// `switchyard demo`: the main job on a labelled dataset, through the real pipeline — a managed
/// collection indexed by an INDEX operation, its quality measured, then a six-checkpoint REINDEX to
/// another embedder while readers search through the alias, validated on the labels and switched
/// atomically.
///
/// Every step is a durable operation in the store: interrupting the demo at any moment leaves a store
/// that `switchyard worker --store DIR` completes or rolls back.
public enum ManagedDemo {
    public struct Configuration: Sendable {
        public var storeDirectory: String
        public var datasetDirectory: String
        public var collection = "docs"
        public var oldEmbedder = "hash-v1"
        public var newEmbedder = "hash-v2"
        public var readers = 4
        /// Where to write the HTML validation report (`nil`: `report.html` in the store directory).
        public var reportPath: String?

        /// Where the vectors live (`nil`: the embedded store in ``storeDirectory``; or a Qdrant server).
        public var vectors: (any VectorBackend)?

        public init(storeDirectory: String, datasetDirectory: String) {
            self.storeDirectory = storeDirectory
            self.datasetDirectory = datasetDirectory
        }
    }

    /// What the readers saw.
    public struct Readers: Sendable {
        public var queries = 0
        public var errors = 0
        public var empty = 0
        public var generations = Set<String>()
        public var p50Milliseconds = 0.0
        public var p99Milliseconds = 0.0
        public var firstError: String?
    }

    public struct Result: Sendable {
        public var storeDirectory: String
        public var index: OperationRecord
        public var reindex: OperationRecord
        public var oldQuality: ComparisonReport.Quality?
        /// The validation report (from the reindex's checkpoint).
        public var validation: JSONValue?
        public var readers: Readers
        public var reportPath: String
        public var metrics: [String: [OperationMetric]]
        public var seconds: Double

        /// Whether the reindex switched and no reader failed.
        public var succeeded: Bool { reindex.status == .completed && readers.errors == 0 && readers.empty == 0 }
    }

    /// Runs the demo. `progress` receives a line per step; `onOperation` the operation record while one runs.
    public static func run(_ c: Configuration, progress: (String) -> Void, onOperation: ((OperationRecord) -> Void)? = nil) throws -> Result {
        let start = ContinuousClock.now
        let store = try Store.open(at: c.storeDirectory)
        defer { try? store.close() }
        let manager = try CollectionManager(store: store, vectors: c.vectors)
        let service = try ReindexService(manager: manager)
        try manager.setLimits(ResourceLimits(owner: "demo", maxCollections: 100, maxDocuments: 10_000_000, maxStorageBytes: Int.max / 4,
                                             maxOperationsPerHour: 1_000))
        var options = Worker.Options()
        options.pollInterval = .milliseconds(50)
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        let worker = Worker(manager: manager, options: options, handlers: [.reindex: ReindexHandler(settings: settings)])
        let queriesPath = (c.datasetDirectory as NSString).appendingPathComponent("queries.jsonl")
        let qrelsPath = (c.datasetDirectory as NSString).appendingPathComponent("qrels/test.tsv")

        // 1. A managed collection, indexed by an INDEX operation.
        progress("store: \(c.storeDirectory) (interrupt at any moment: `switchyard worker --store DIR` finishes or rolls back)")
        if manager.backend != "embedded" { progress("vectors: \(manager.backend)") }
        let (_, indexOp) = try manager.createCollection(CollectionSpec(name: c.collection, owner: "demo", embedder: c.oldEmbedder),
                                                        sources: [c.datasetDirectory], user: "demo")
        progress("INDEX \(c.datasetDirectory) into '\(c.collection)' with \(c.oldEmbedder) (operation \(indexOp.id))")
        let indexed = try worker.runOperation(indexOp.id, onProgress: onOperation)
        guard indexed.status == .completed else {
            throw OperationsError(.storage, "the demo's INDEX \(indexed.status.rawValue): \(indexed.error ?? "")")
        }

        // 2. Its quality on the labelled queries, through the alias.
        let serving = try manager.collection(named: c.collection)
        var measure = Comparison.Options()
        measure.queriesPath = queriesPath
        measure.qrelsPath = qrelsPath
        let side = try service.side("old", c.collection)
        let before = try Comparison(manager: manager, old: side, new: side, options: measure).run()
        progress(String(format: "old quality through '%@' (%@, %d chunks): nDCG@10 %.4f, recall@10 %.4f, MRR@10 %.4f",
                        c.collection, c.oldEmbedder, serving.vectorCount, before.oldSummary?.ndcg ?? 0, before.oldSummary?.recall ?? 0,
                        before.oldSummary?.mrr ?? 0))

        // 3. REINDEX to the new embedder while readers search through the alias.
        let readerCount = max(0, c.readers)
        let readers = AliasReaders(service: service, collection: c.collection, queries: BEIRDataset.loadQueries(path: queriesPath).0.map(\.text))
        readers.start(readerCount)
        func stopReaders() -> AliasReaders.Tally { readers.stop() }
        progress("readers: \(readerCount) searching '\(c.collection)' by text through the alias")
        let report = c.reportPath ?? (c.storeDirectory as NSString).appendingPathComponent("report.html")
        let reindexed: OperationRecord
        do {
            let op = try manager.requestReindex(c.collection, ReindexRequest(embedder: c.newEmbedder, queriesPath: queriesPath,
                                                                               qrelsPath: qrelsPath, reportPath: report), user: "demo")
            progress("REINDEX '\(c.collection)' to \(c.newEmbedder) (operation \(op.id))")
            Thread.sleep(forTimeInterval: 0.2)
            reindexed = try worker.runOperation(op.id, onProgress: onOperation)
            Thread.sleep(forTimeInterval: 0.2)
        } catch {
            _ = stopReaders()
            throw error
        }
        let seen = stopReaders()
        var metrics: [String: [OperationMetric]] = [:]
        for op in [indexed, reindexed] { metrics[op.id] = try manager.metrics(of: op.id).filter { $0.attempt == op.attempts } }
        return Result(storeDirectory: c.storeDirectory, index: indexed, reindex: reindexed, oldQuality: before.oldSummary,
                      validation: reindexed.checkpoint?["validation"],
                      readers: Readers(queries: seen.queries, errors: seen.errors, empty: seen.empty, generations: seen.generations,
                                       p50Milliseconds: seen.percentileMilliseconds(0.5), p99Milliseconds: seen.percentileMilliseconds(0.99),
                                       firstError: seen.firstError),
                      reportPath: report, metrics: metrics,
                      seconds: (ContinuousClock.now - start).seconds)
    }
}

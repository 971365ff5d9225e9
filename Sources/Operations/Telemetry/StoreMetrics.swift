import Foundation
import Prometheus
import Telemetry
import VectorStore

/// Metrics computed from a store's database: what `switchyard metrics --store DIR` prints and what a
/// worker's `/metrics` endpoint refreshes before each scrape.
public enum StoreMetrics {
    /// Gauges of the current state: collections by status, each collection's documents, vectors and
    /// size, and the operations waiting in the queue by type.
    public static func recordGauges(_ manager: CollectionManager, into t: Telemetry) throws {
        let collections = try manager.collections()
        for status in CollectionStatus.allCases {
            t.collections(status: status.rawValue, count: collections.filter { $0.status == status }.count)
        }
        for c in collections { t.collection(id: c.id, name: c.name, documents: c.documentCount, vectors: c.vectorCount, sizeBytes: c.totalSizeBytes) }
        let pending = try manager.operations(status: .pending, limit: 1_000_000)
        for type in OperationType.allCases { t.queueSize(type: type.rawValue, count: pending.filter { $0.type == type }.count) }
    }

    /// The history kept in the database, replayed as counters and histograms: finished operations by type
    /// and status with their durations, errors, retries, queue waits, documents, CPU and memory, and
    /// the checkpoints reindexes reached.
    public static func replayHistory(_ manager: CollectionManager, into t: Telemetry) throws {
        let finished = try manager.operations(limit: 1_000_000).filter { $0.status.isFinal }
        for op in finished {
            let type = op.type.rawValue
            let seconds = max(0, (op.completedAt ?? op.createdAt).timeIntervalSince(op.startedAt ?? op.createdAt))
            t.operationFinished(type: type, collectionID: op.collectionID, status: op.status.rawValue, seconds: seconds,
                                errorType: op.status == .completed ? nil : errorType(op))
            if let started = op.startedAt { t.queueWait(type: type, seconds: started.timeIntervalSince(op.createdAt)) }
            let metrics = try manager.metrics(of: op.id)
            let last = Dictionary(metrics.filter { $0.attempt == op.attempts }.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            let cpu = metrics.filter { $0.name == "cpu_user_seconds" || $0.name == "cpu_system_seconds" }.reduce(0) { $0 + $1.value }
            t.operationResources(type: type, memoryBytes: last["memory_peak_bytes"] ?? 0, cpuSeconds: cpu)
            let docs = Int(last["documents_processed"] ?? 0)
            t.documentsProcessed(type: type, collectionID: op.collectionID, status: op.status == .completed ? "success" : "failure", count: docs)
            // The database keeps an attempt's total, not each document's time: each document gets the mean,
            // so the histogram's count and sum are exact and its buckets approximate.
            if docs > 0 {
                let each = (last["duration_seconds"] ?? 0) / Double(docs)
                for _ in 0..<docs { t.documentProcessed(type: type, collectionID: op.collectionID, seconds: each) }
            }
            if op.type == .reindex, let stage = op.checkpoint?["stage"]?.stringValue {
                let stages = ["preflight", "staging", "reprocessing", "validation", "switch", "cleanup"]
                for s in stages.prefix(through: stages.firstIndex(of: stage) ?? -1) { t.reindexCheckpoint(s) }
                if let ms = op.result?["switch_ms"]?.numberValue { t.reindexSwitch(seconds: ms / 1000) }
                if let v = op.checkpoint?["validation"]?.objectValue?["seconds"]?.numberValue { t.reindexValidation(seconds: v) }
            }
        }
        for (type, collectionID, n) in try manager.retriedOperationCounts() {
            for _ in 0..<n { t.operationRetried(type: type, collectionID: collectionID) }
        }
    }

    /// The exposition text (Prometheus 0.0.4) of the database's gauges and history.
    public static func exposition(_ manager: CollectionManager) throws -> String {
        let registry = PrometheusCollectorRegistry()
        let t = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
        try recordGauges(manager, into: t)
        try replayHistory(manager, into: t)
        return registry.emitToString()
    }

    /// The operation's error type as its worker recorded it (the code of the error), or a bounded type
    /// from its error text for operations ended elsewhere.
    static func errorType(_ op: OperationRecord) -> String {
        if let recorded = op.result?["error_type"]?.stringValue { return recorded }
        let e = (op.error ?? "").lowercased()
        if op.status == .cancelled { return "cancelled" }
        if e.contains("worker lost") { return "worker_lost" }
        if e.contains("hard time limit") { return "hard_time_limit" }
        if e.contains("time limit") { return "time_limit" }
        if e.contains("validation rejected") { return "rejected" }
        if e.contains("quota exceeded") { return "quota_exceeded" }
        if e.contains("failed after") { return "transient" }
        return "error"
    }
}

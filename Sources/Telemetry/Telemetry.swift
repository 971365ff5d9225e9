import Locks
import CoreMetrics
import Foundation
import Prometheus

/// Switchyard's metrics (swift-metrics API), with their names, labels and histogram buckets. Layers
/// that do work record through a `Telemetry` value; which backend receives the numbers is the
/// factory's business (Prometheus in the CLI, `TestMetrics` in tests, the global bootstrap otherwise).
///
/// ```swift
/// let registry = PrometheusCollectorRegistry()
/// let telemetry = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
/// telemetry.operationFinished(type: "append", status: "completed", seconds: 1.2)
/// print(registry.emitToString())
/// ```
///
/// Labels never carry unbounded values other than collection names and ids. Label values are snake_case.
public struct Telemetry: Sendable {
    /// Metric names (Prometheus, with the `switchyard_` prefix).
    public enum Name {
        public static let operationsTotal = "switchyard_collection_operations_total"
        public static let operationDuration = "switchyard_collection_operation_duration_seconds"
        public static let operationErrors = "switchyard_collection_operation_errors_total"
        public static let operationRetries = "switchyard_collection_operation_retries_total"
        public static let collectionsTotal = "switchyard_collections_total"
        public static let collectionDocuments = "switchyard_collection_documents_total"
        public static let collectionVectors = "switchyard_collection_vectors_total"
        public static let collectionSize = "switchyard_collection_size_bytes"
        public static let reindexCheckpoints = "switchyard_reindex_checkpoints_total"
        public static let reindexValidationDuration = "switchyard_reindex_validation_duration_seconds"
        public static let reindexSwitchDuration = "switchyard_reindex_switch_duration_seconds"
        public static let memoryUsage = "switchyard_collection_memory_usage_bytes"
        public static let cpuSeconds = "switchyard_collection_cpu_seconds_total"
        public static let searchLatency = "switchyard_search_latency_seconds"
        public static let searchResults = "switchyard_search_results_total"
        public static let documentsProcessed = "switchyard_documents_processed_total"
        public static let documentDuration = "switchyard_document_processing_duration_seconds"
        public static let queueSize = "switchyard_operation_queue_size"
        public static let queueWait = "switchyard_operation_queue_wait_time_seconds"
        public static let storeOperations = "switchyard_store_operations_total"
        public static let storeDuration = "switchyard_store_operation_duration_seconds"
        public static let pointsUpserted = "switchyard_points_upserted_total"
        public static let storeSyncs = "switchyard_store_syncs_total"
    }

    /// Histogram buckets by metric name (seconds, except `search_results_total`: points).
    public static let buckets: [String: [Double]] = [
        Name.operationDuration: [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200],
        Name.reindexValidationDuration: [0.5, 1, 2, 5, 10, 30, 60],
        Name.reindexSwitchDuration: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
        Name.searchLatency: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        Name.documentDuration: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        Name.queueWait: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600],
        Name.storeDuration: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        // Not seconds: the number of points a search returned.
        Name.searchResults: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
        "switchyard_http_request_duration_seconds": [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ]

    /// A Prometheus factory with Switchyard's buckets.
    public static func makePrometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var f = PrometheusMetricsFactory(registry: registry)
        f.valueHistogramBuckets = buckets
        return f
    }

    public let factory: any MetricsFactory
    private let handles = Handles()

    /// Telemetry recording into `factory` (default: the globally bootstrapped one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Metric handles made once per name and label values, so recording on a hot path (every search,
    /// every upsert) is a dictionary lookup, not a registry lookup and two allocations.
    private final class Handles: Sendable {
        let counters = Locked<[String: CoreMetrics.Counter]>([:])
        let floatCounters = Locked<[String: FloatingPointCounter]>([:])
        let recorders = Locked<[String: CoreMetrics.Recorder]>([:])
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(into: label) { $0 += "\u{1F}\($1.0)=\($1.1)" }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
        let k = Self.key(label, dimensions)
        return handles.counters.withLock { c in
            if let h = c[k] { return h }
            let h = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            c[k] = h
            return h
        }
    }

    private func floatCounter(_ label: String, _ dimensions: [(String, String)]) -> FloatingPointCounter {
        let k = Self.key(label, dimensions)
        return handles.floatCounters.withLock { c in
            if let h = c[k] { return h }
            let h = FloatingPointCounter(label: label, dimensions: dimensions, factory: factory)
            c[k] = h
            return h
        }
    }

    /// A histogram (`aggregate`) or a gauge.
    private func recorder(_ label: String, _ dimensions: [(String, String)] = [], aggregate: Bool = true) -> CoreMetrics.Recorder {
        let k = Self.key(label, dimensions) + (aggregate ? "" : "\u{1F}gauge")
        return handles.recorders.withLock { c in
            if let h = c[k] { return h }
            let h = CoreMetrics.Recorder(label: label, dimensions: dimensions, aggregate: aggregate, factory: factory)
            c[k] = h
            return h
        }
    }

    // MARK: - Operations

    /// An operation reached a final status (each operation counted once).
    ///
    /// - Parameters:
    ///   - errorType: Why it did not complete: an error code (`invalidInput`, `timeLimit`, …; written as
    ///     snake_case, `invalid_input`) or a reason (`worker_lost`, `hard_time_limit`, `cancelled`).
    public func operationFinished(type: String, collectionID: String, status: String, seconds: Double, errorType: String? = nil) {
        counter(Name.operationsTotal, [("operation_type", type), ("status", status), ("collection_id", collectionID)]).increment()
        recorder(Name.operationDuration, [("operation_type", type), ("collection_id", collectionID)]).record(seconds)
        if let errorType {
            counter(Name.operationErrors, [("operation_type", type), ("error_type", Self.snakeCase(errorType)), ("collection_id", collectionID)]).increment()
        }
    }

    /// A transient failure was scheduled for a retry.
    public func operationRetried(type: String, collectionID: String) {
        counter(Name.operationRetries, [("operation_type", type), ("collection_id", collectionID)]).increment()
    }

    /// The resources an attempt used.
    public func operationResources(type: String, memoryBytes: Double, cpuSeconds: Double) {
        recorder(Name.memoryUsage, [("operation_type", type)], aggregate: false).record(memoryBytes)
        floatCounter(Name.cpuSeconds, [("operation_type", type)]).increment(by: max(0, cpuSeconds))
    }

    /// Documents an operation finished (`status` `success` or `failure`), counted when it ends.
    public func documentsProcessed(type: String, collectionID: String, status: String, count: Int) {
        guard count > 0 else { return }
        counter(Name.documentsProcessed, [("operation_type", type), ("status", status), ("collection_id", collectionID)]).increment(by: count)
    }

    /// One document's processing time (chunking, embedding, writing and committing its points).
    public func documentProcessed(type: String, collectionID: String, seconds: Double) {
        recorder(Name.documentDuration, [("operation_type", type), ("collection_id", collectionID)]).record(max(0, seconds))
    }

    /// `invalidInput` → `invalid_input`; snake_case stays as it is.
    public static func snakeCase(_ value: String) -> String {
        var out = ""
        for ch in value {
            if ch.isUppercase {
                if !out.isEmpty && out.last != "_" { out.append("_") }
                out += ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// How long a claimed operation waited in the queue.
    public func queueWait(type: String, seconds: Double) {
        recorder(Name.queueWait, [("operation_type", type)]).record(max(0, seconds))
    }

    /// Operations waiting, by type (a gauge).
    public func queueSize(type: String, count: Int) {
        recorder(Name.queueSize, [("operation_type", type)], aggregate: false).record(count)
    }

    // MARK: - Collections

    /// Managed collections by status (a gauge per status).
    public func collections(status: String, count: Int) {
        recorder(Name.collectionsTotal, [("status", status)], aggregate: false).record(count)
    }

    /// One collection's size (gauges), labelled with its id and its name.
    public func collection(id: String, name: String, documents: Int, vectors: Int, sizeBytes: Int) {
        let labels = [("collection_id", id), ("collection", name)]
        recorder(Name.collectionDocuments, labels, aggregate: false).record(documents)
        recorder(Name.collectionVectors, labels, aggregate: false).record(vectors)
        recorder(Name.collectionSize, labels, aggregate: false).record(sizeBytes)
    }

    // MARK: - Reindex

    /// A reindex recorded a checkpoint.
    public func reindexCheckpoint(_ checkpoint: String) {
        counter(Name.reindexCheckpoints, [("checkpoint", checkpoint)]).increment()
    }

    public func reindexValidation(seconds: Double) {
        recorder(Name.reindexValidationDuration).record(seconds)
    }

    public func reindexSwitch(seconds: Double) {
        recorder(Name.reindexSwitchDuration).record(seconds)
    }

    // MARK: - Store

    /// A store call (`upsert`, `delete`, `search`, `create_collection`, `drop_collection`, `update_aliases`, …).
    public func storeOperation(_ operation: String, status: String, seconds: Double) {
        counter(Name.storeOperations, [("operation", operation), ("status", status)]).increment()
        recorder(Name.storeDuration, [("operation", operation)]).record(seconds)
    }

    /// The store read the database to bring its memory up to date with commits it had not applied:
    /// `refresh` (the catalog, the aliases and every loaded collection) or `catch_up` (one collection).
    public func storeSync(_ kind: String) {
        counter(Name.storeSyncs, [("kind", kind)]).increment()
    }

    public func pointsUpserted(collection: String, count: Int) {
        counter(Name.pointsUpserted, [("collection", collection)]).increment(by: count)
    }

    /// A search (or one query of a batch) and the number of points it returned (a histogram).
    public func search(seconds: Double, results: Int) {
        recorder(Name.searchLatency).record(seconds)
        recorder(Name.searchResults).record(results)
    }
}

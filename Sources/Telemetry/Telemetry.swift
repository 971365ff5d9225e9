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
/// Labels never carry unbounded values other than collection names.
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
    }

    /// Histogram buckets by metric name (seconds).
    public static let buckets: [String: [Double]] = [
        Name.operationDuration: [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200],
        Name.reindexValidationDuration: [0.5, 1, 2, 5, 10, 30, 60],
        Name.reindexSwitchDuration: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
        Name.searchLatency: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        Name.documentDuration: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        Name.queueWait: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600],
        Name.storeDuration: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    ]

    /// A Prometheus factory with Switchyard's buckets.
    public static func makePrometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var f = PrometheusMetricsFactory(registry: registry)
        f.valueHistogramBuckets = buckets
        return f
    }

    public let factory: any MetricsFactory

    /// Telemetry recording into `factory` (default: the globally bootstrapped one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    // MARK: - Operations

    /// An operation reached a final status (each operation counted once).
    public func operationFinished(type: String, status: String, seconds: Double, errorType: String? = nil) {
        Counter(label: Name.operationsTotal, dimensions: [("operation_type", type), ("status", status)], factory: factory).increment()
        Recorder(label: Name.operationDuration, dimensions: [("operation_type", type)], factory: factory).record(seconds)
        if let errorType {
            Counter(label: Name.operationErrors, dimensions: [("operation_type", type), ("error_type", errorType)], factory: factory).increment()
        }
    }

    /// A transient failure was scheduled for a retry.
    public func operationRetried(type: String) {
        Counter(label: Name.operationRetries, dimensions: [("operation_type", type)], factory: factory).increment()
    }

    /// The resources an attempt used.
    public func operationResources(type: String, memoryBytes: Double, cpuSeconds: Double) {
        Recorder(label: Name.memoryUsage, dimensions: [("operation_type", type)], aggregate: false, factory: factory).record(memoryBytes)
        FloatingPointCounter(label: Name.cpuSeconds, dimensions: [("operation_type", type)], factory: factory).increment(by: max(0, cpuSeconds))
    }

    /// Documents an operation finished (`status` `success` or `failure`), and the mean time per document.
    public func documentsProcessed(type: String, status: String, count: Int, secondsEach: Double? = nil) {
        guard count > 0 else { return }
        Counter(label: Name.documentsProcessed, dimensions: [("operation_type", type), ("status", status)], factory: factory).increment(by: count)
        if let secondsEach {
            // One observation per call: the mean time per document of that operation.
            Recorder(label: Name.documentDuration, dimensions: [("operation_type", type)], factory: factory).record(secondsEach)
        }
    }

    /// How long a claimed operation waited in the queue.
    public func queueWait(type: String, seconds: Double) {
        Recorder(label: Name.queueWait, dimensions: [("operation_type", type)], factory: factory).record(max(0, seconds))
    }

    /// Operations waiting, by type (a gauge).
    public func queueSize(type: String, count: Int) {
        Recorder(label: Name.queueSize, dimensions: [("operation_type", type)], aggregate: false, factory: factory).record(count)
    }

    // MARK: - Collections

    /// Managed collections by status (a gauge per status).
    public func collections(status: String, count: Int) {
        Recorder(label: Name.collectionsTotal, dimensions: [("status", status)], aggregate: false, factory: factory).record(count)
    }

    /// One collection's size (gauges).
    public func collection(_ name: String, documents: Int, vectors: Int, sizeBytes: Int) {
        Recorder(label: Name.collectionDocuments, dimensions: [("collection", name)], aggregate: false, factory: factory).record(documents)
        Recorder(label: Name.collectionVectors, dimensions: [("collection", name)], aggregate: false, factory: factory).record(vectors)
        Recorder(label: Name.collectionSize, dimensions: [("collection", name)], aggregate: false, factory: factory).record(sizeBytes)
    }

    // MARK: - Reindex

    /// A reindex recorded a checkpoint.
    public func reindexCheckpoint(_ checkpoint: String) {
        Counter(label: Name.reindexCheckpoints, dimensions: [("checkpoint", checkpoint)], factory: factory).increment()
    }

    public func reindexValidation(seconds: Double) {
        Recorder(label: Name.reindexValidationDuration, factory: factory).record(seconds)
    }

    public func reindexSwitch(seconds: Double) {
        Recorder(label: Name.reindexSwitchDuration, factory: factory).record(seconds)
    }

    // MARK: - Store

    /// A store call (`upsert`, `delete`, `search`, `create_collection`, `drop_collection`, `update_aliases`, …).
    public func storeOperation(_ operation: String, status: String, seconds: Double) {
        Counter(label: Name.storeOperations, dimensions: [("operation", operation), ("status", status)], factory: factory).increment()
        Recorder(label: Name.storeDuration, dimensions: [("operation", operation)], factory: factory).record(seconds)
    }

    public func pointsUpserted(collection: String, count: Int) {
        Counter(label: Name.pointsUpserted, dimensions: [("collection", collection)], factory: factory).increment(by: count)
    }

    /// A search (or one query of a batch) and the points it returned.
    public func search(seconds: Double, results: Int) {
        Recorder(label: Name.searchLatency, factory: factory).record(seconds)
        Counter(label: Name.searchResults, factory: factory).increment(by: results)
    }
}

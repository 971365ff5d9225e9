import Foundation
import MetricsTestKit
import Operations
import Reindex
import Telemetry
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Telemetry through TestMetrics")
struct TelemetryTests {
    @Test func operationsStoreAndReindexRecordTheirMetrics() throws {
        let metrics = TestMetrics()
        let telemetry = Telemetry(factory: metrics)
        let dir = try TemporaryDirectory(prefix: "switchyard-telemetry")
        let src = dir.appending("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for i in 0..<30 { try "document \(i) words w\(i) w\(i * 3)".write(toFile: "\(src)/f\(i).txt", atomically: true, encoding: .utf8) }
        var so = Store.Options()
        so.telemetry = telemetry
        let store = try Store.open(at: dir.appending("store"), options: so)
        defer { try? store.close() }
        let manager = try CollectionManager(store: store, vectors: try BackendMatrix.vectors(for: dir.appending("store")))
        var o = Worker.Options()
        o.telemetry = telemetry
        o.pollInterval = .milliseconds(10)
        o.retryDelay = .milliseconds(10)
        o.faults = try FaultInjector.parse("ingest.embed=transient@1")
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        let worker = Worker(manager: manager, options: o, handlers: [.reindex: ReindexHandler(settings: settings)])
        let (c, _) = try manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try worker.runUntilIdle()
        try manager.requestReindex("c", ReindexRequest(embedder: "hash-v2"))
        try worker.runUntilIdle()

        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "index"), ("status", "completed")]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "reindex"), ("status", "completed")]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.operationRetries, [("operation_type", "index")]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.documentsProcessed, [("operation_type", "index"), ("status", "success")]).values == [30])
        #expect(try metrics.expectRecorder(Telemetry.Name.operationDuration, [("operation_type", "index")]).values.count == 1)
        for stage in ReindexStage.allCases {
            #expect(try metrics.expectCounter(Telemetry.Name.reindexCheckpoints, [("checkpoint", stage.rawValue)]).values == [1], "\(stage)")
        }
        #expect(try metrics.expectRecorder(Telemetry.Name.reindexSwitchDuration).values.count == 1)
        #expect(try metrics.expectRecorder(Telemetry.Name.reindexValidationDuration).values.count == 1)
        // The store's own metrics are recorded where the vectors are: in this process only for the embedded store.
        if TestBackend.current == .embedded {
            let upserts = try metrics.expectCounter(Telemetry.Name.storeOperations, [("operation", "upsert"), ("status", "ok")])
            #expect(upserts.values.count >= 2)
            #expect(try metrics.expectCounter(Telemetry.Name.pointsUpserted, [("collection", c.vectorStoreName)]).values.reduce(0, +) == 30)
            #expect(try metrics.expectRecorder(Telemetry.Name.searchLatency).values.count > 0)  // validation searched
        }
        // A failure is counted once, with a bounded error type.
        let more = dir.appending("more")
        try FileManager.default.createDirectory(atPath: more, withIntermediateDirectories: true)
        try "another document".write(toFile: more + "/x.txt", atomically: true, encoding: .utf8)
        try manager.append("c", source: more)
        var failing = o
        failing.faults = try FaultInjector.parse("ingest.embed=invalid")
        try Worker(manager: manager, options: failing).runUntilIdle()
        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "append"), ("status", "failed")]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.operationErrors, [("operation_type", "append"), ("error_type", "invalidInput")]).values == [1])
    }
}

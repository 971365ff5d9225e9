import Foundation
import Locks
import MetricsTestKit
import Operations
import Prometheus
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

        let id = c.id
        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "index"), ("status", "completed"), ("collection_id", id)]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "reindex"), ("status", "completed"), ("collection_id", id)]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.operationRetries, [("operation_type", "index"), ("collection_id", id)]).values == [1])
        #expect(try metrics.expectCounter(Telemetry.Name.documentsProcessed, [("operation_type", "index"), ("status", "success"), ("collection_id", id)]).values == [30])
        #expect(try metrics.expectRecorder(Telemetry.Name.operationDuration, [("operation_type", "index"), ("collection_id", id)]).values.count == 1)
        // One observation per document: the 30 of the INDEX (its retried first attempt committed none), the 30 the REINDEX wrote.
        for type in ["index", "reindex"] {
            let each = try metrics.expectRecorder(Telemetry.Name.documentDuration, [("operation_type", type), ("collection_id", id)]).values
            #expect(each.count == 30 && each.allSatisfy { $0 >= 0 && $0 < 60 }, "\(type): \(each.count)")
        }
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
            // Result counts, one per query: validation asks for 4·k = 40 chunks of a 30-point collection.
            let results = try metrics.expectRecorder(Telemetry.Name.searchResults).values
            #expect(!results.isEmpty && results.allSatisfy { $0 >= 0 && $0 <= 40 } && results.contains(30))
        }
        // A failure is counted once, with a bounded error type.
        let more = dir.appending("more")
        try FileManager.default.createDirectory(atPath: more, withIntermediateDirectories: true)
        try "another document".write(toFile: more + "/x.txt", atomically: true, encoding: .utf8)
        try manager.append("c", source: more)
        var failing = o
        failing.faults = try FaultInjector.parse("ingest.embed=invalid")
        try Worker(manager: manager, options: failing).runUntilIdle()
        #expect(try metrics.expectCounter(Telemetry.Name.operationsTotal, [("operation_type", "append"), ("status", "failed"), ("collection_id", id)]).values == [1])
        // Error types are snake_case, like the reasons a worker gives (`worker_lost`).
        #expect(try metrics.expectCounter(Telemetry.Name.operationErrors, [("operation_type", "append"), ("error_type", "invalid_input"), ("collection_id", id)]).values == [1])
    }

    /// A store's own writes to one collection leave its other loaded collections in step: searching them
    /// afterwards reads nothing from the database. Another instance's write is read once, and seen.
    @Test func ownWritesNeedNoSyncReads() throws {
        let (store, metrics, dir) = try Self.meteredStore("switchyard-syncs")
        defer { try? store.close() }
        try store.createCollection("x", dimension: 2, distance: .euclid)
        try store.createCollection("y", dimension: 2, distance: .euclid)
        try store.upsert("y", points: [Point(id: .number(1), vector: [1, 0])])
        _ = try store.search("x", SearchRequest(vector: [0, 0]))
        _ = try store.search("y", SearchRequest(vector: [0, 0]))
        func syncs() -> Int64 { Self.syncs(metrics) }
        let start = syncs()
        for i in 0..<20 {
            try store.upsert("x", points: [Point(id: .number(UInt64(i)), vector: [Float(i), 1])])
            #expect(try store.search("y", SearchRequest(vector: [0, 0])).map(\.id) == [.number(1)])
            try store.upsert("y", points: [Point(id: .number(1), vector: [1, 0], payload: ["round": .int(Int64(i))])])
            #expect(try store.search("x", SearchRequest(vector: [0, 0], limit: 100)).count == i + 1)
        }
        #expect(syncs() == start, "searches read the database after this store's own writes")

        let other = try Store.open(at: dir.appending("store"))
        defer { try? other.close() }
        try other.upsert("y", points: [Point(id: .number(2), vector: [2, 0])])
        #expect(try store.search("y", SearchRequest(vector: [0, 0])).map(\.id) == [.number(1), .number(2)])
        #expect(syncs() > start)
    }

    /// A store's own catalog changes (a collection created or dropped, an alias batch) are applied to its
    /// catalog in place: lookups and searches afterwards read nothing from the database, and the catalog is
    /// the one a fresh instance reads (named vectors and quantization included). After another instance's
    /// change, the next lookup refreshes and sees it.
    @Test func ownCatalogChangesNeedNoRefresh() throws {
        let (store, metrics, dir) = try Self.meteredStore("switchyard-catalog")
        defer { try? store.close() }
        try store.createCollection("c", dimension: 2, distance: .euclid)
        try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0])])
        _ = try store.search("c", SearchRequest(vector: [0, 0]))
        let start = Self.syncs(metrics)

        try store.createCollection("named", vectors: [VectorSpace(name: "a", dimension: 2, distance: .cosine),
                                                      VectorSpace(name: "b", dimension: 3, distance: .dot)])
        try store.createCollection("quantized", dimension: 4, distance: .cosine, quantization: ScalarQuantization())
        try store.updateAliases([.create(alias: "serving", collection: "quantized"), .create(alias: "old", collection: "c")])
        try store.upsert("quantized", points: [Point(id: .number(7), vector: [1, 2, 3, 4])])
        #expect(try store.search("serving", SearchRequest(vector: [1, 2, 3, 4])).map(\.id) == [.number(7)])
        try store.createCollection("doomed", dimension: 2, distance: .dot)
        try store.updateAliases([.create(alias: "gone", collection: "doomed")])
        try store.upsert("doomed", points: [Point(id: .number(3), vector: [0, 1])])
        _ = try store.search("gone", SearchRequest(vector: [0, 1]))
        try store.dropCollection("doomed")
        #expect(throws: StoreError.self) { try store.search("gone", SearchRequest(vector: [0, 1])) }
        #expect(try !store.collectionExists("doomed"))
        #expect(try store.search("old", SearchRequest(vector: [0, 0])).map(\.id) == [.number(1)])
        #expect(Self.syncs(metrics) == start, "lookups read the database after this store's own catalog changes")

        let fresh = try Store.open(at: dir.appending("store"))
        defer { try? fresh.close() }
        #expect(try store.collections() == fresh.collections())
        #expect(try store.aliases() == fresh.aliases())

        try fresh.createCollection("elsewhere", dimension: 2, distance: .euclid)
        try fresh.dropCollection("named")
        #expect(try store.collections() == fresh.collections())
        #expect(Self.syncs(metrics) > start)
    }

    /// Threads that search while the same store creates and drops collections, moves an alias and upserts
    /// never read the database to catch up: a thread that finds the new generation before memory reflects
    /// it waits at the refresh gate, which the writer holds from its commit until memory is up to date.
    @Test func searchesBesideThisStoresWritesNeedNoSyncReads() throws {
        let (store, metrics, dir) = try Self.meteredStore("switchyard-gate")
        defer {
            try? store.close()
            withExtendedLifetime(dir) {}
        }
        try store.createCollection("c", dimension: 2, distance: .euclid)
        try store.upsert("c", points: [Point(id: .number(0), vector: [0, 0])])
        _ = try store.search("c", SearchRequest(vector: [0, 0]))
        let start = Self.syncs(metrics)
        let done = Locked(false)
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for r in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                var last = 1
                while !done.withLock({ $0 }) {
                    do {
                        let n = try store.search("c", SearchRequest(vector: [0, 0], limit: 1000)).count
                        if n < last { failures.withLock { $0.append("reader \(r): \(n) points after \(last)") } }
                        last = n
                    } catch {
                        failures.withLock { $0.append("reader \(r): \(error)") }
                        return
                    }
                }
            }.start()
        }
        defer {
            done.withLock { $0 = true }
            group.wait()
        }
        for i in 1...150 {
            try store.createCollection("t\(i)", dimension: 2, distance: .euclid)
            try store.updateAliases([.create(alias: "a", collection: "t\(i)")])
            try store.upsert("c", points: [Point(id: .number(UInt64(i)), vector: [Float(i), 0])])
            if i > 1 { try store.dropCollection("t\(i - 1)") }
        }
        done.withLock { $0 = true }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(Self.syncs(metrics) == start, "searches read the database after this store's own writes")
        #expect(try store.search("c", SearchRequest(vector: [0, 0], limit: 1000)).count == 151)
    }

    /// A store in a new directory (kept as long as the returned value) whose metrics go to `metrics`.
    static func meteredStore(_ prefix: String) throws -> (store: Store, metrics: TestMetrics, dir: TemporaryDirectory) {
        let metrics = TestMetrics()
        let dir = try TemporaryDirectory(prefix: prefix)
        var so = Store.Options()
        so.telemetry = Telemetry(factory: metrics)
        return (try Store.open(at: dir.appending("store"), options: so), metrics, dir)
    }

    /// The database reads searches made to bring memory up to date (refreshes and catch-ups).
    static func syncs(_ metrics: TestMetrics) -> Int64 {
        ["refresh", "catch_up"].map { kind in
            (try? metrics.expectCounter(Telemetry.Name.storeSyncs, [("kind", kind)]).values.reduce(0, +)) ?? 0
        }.reduce(0, +)
    }

    /// In the Prometheus exposition, the result counts are a histogram with its own buckets (points, not seconds).
    @Test func searchResultsAreAHistogramOfResultCounts() {
        let registry = PrometheusCollectorRegistry()
        let t = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
        for n in [0, 3, 10, 10, 400] { t.search(seconds: 0.001, results: n) }
        let text = registry.emitToString()
        #expect(text.contains("# TYPE switchyard_search_results_total histogram"))
        #expect(text.contains("switchyard_search_results_total_bucket{le=\"0.0\"} 1"))
        #expect(text.contains("switchyard_search_results_total_bucket{le=\"10.0\"} 4"))
        #expect(text.contains("switchyard_search_results_total_bucket{le=\"500.0\"} 5"))
        #expect(text.contains("switchyard_search_results_total_sum 423"))
        #expect(text.contains("switchyard_search_results_total_count 5"))
    }

    @Test(arguments: [("invalidInput", "invalid_input"), ("timeLimit", "time_limit"), ("worker_lost", "worker_lost"), ("transient", "transient"),
                      ("quotaExceeded", "quota_exceeded")])
    func errorTypesAreSnakeCase(_ value: String, _ expected: String) {
        #expect(Telemetry.snakeCase(value) == expected)
    }
}

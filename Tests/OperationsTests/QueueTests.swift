import Foundation
import GRDB
import Operations
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Queue, workers, retries, limits, cancellation")
struct QueueTests {
    /// 300 one-chunk documents: three batches of 100.
    static func manyFiles(_ h: Harness, _ name: String = "many", count: Int = 300) throws -> String {
        var files: [String: String] = [:]
        for i in 0..<count { files[String(format: "d%04d.txt", i)] = "\(name) text \(i) with words \(i * 7) and \(i % 13)" }
        return try h.writeSource(name, files)
    }

    @Test func gatesRefuseASecondActiveOperationAndBadStates() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one"])
        try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        // Pending INDEX: appends and reindexes are refused with the reason.
        let e1 = #expect(throws: OperationsError.self) { try h.manager.append("c", source: src) }
        #expect(e1?.code == .conflict && e1?.message.contains("not indexed yet") == true)
        let e2 = #expect(throws: OperationsError.self) { try h.manager.removeSource("c", source: src) }
        #expect(e2?.code == .conflict && e2?.message.contains("is pending") == true)
        let e3 = #expect(throws: OperationsError.self) { try h.manager.deleteCollection("c") }
        #expect(e3?.code == .conflict && e3?.message.contains("already has an active operation") == true)
        try h.work()
        try h.manager.append("c", source: src)
        let e4 = #expect(throws: OperationsError.self) { try h.manager.requestReindex("c", ReindexRequest(embedder: "hash-v2")) }
        #expect(e4?.code == .conflict)
        try h.work()
        // The schema itself refuses a second active operation for one collection.
        let id = try h.manager.collection(named: "c").id
        let e5 = #expect(throws: (any Error).self) {
            try h.store.writeRecords { db in
                for n in 0..<2 {
                    try db.execute(sql: """
                        INSERT INTO operations (id, seq, collection_id, collection_name, user, type, status, config, run_after, created_at)
                        VALUES (?, ?, ?, 'c', 'u', 'append', 'pending', '{"source":"x"}', 0, 0)
                        """, arguments: ["raw-\(n)", 1000 + n, id])
                }
            }
        }
        #expect("\(e5!)".contains("UNIQUE"))
        #expect(try h.manager.operations(collection: "c").count == 2)
    }

    @Test func reindexRequestKeepsItsConfigAndIsRefusedOnAnErrorCollection() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two"])
        try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1", chunkSize: 50, chunkOverlap: 10), sources: [src])
        try h.work()
        let op = try h.manager.requestReindex("c", ReindexRequest(embedder: "hash-v2", thresholds: ["min_self_recall": 0.9]))
        #expect(op.type == .reindex && op.status == .pending)
        #expect(op.config["embedder"] == .string("hash-v2"))
        #expect(op.config["chunk_size"] == .int(50))
        #expect(op.config["previous"]?.objectValue?["embedder"] == .string("hash-v1"))
        #expect(op.config["thresholds"]?.objectValue?["min_self_recall"] == .double(0.9))
        try h.manager.cancel(op.id)
        #expect(try h.manager.operation(op.id).status == .cancelled)
        #expect(try h.manager.collection(named: "c").status == .ready)
        let bad = #expect(throws: OperationsError.self) { try h.manager.requestReindex("c", ReindexRequest(embedder: "hash:dim=0")) }
        #expect(bad?.code == .invalidInput)

        // An INDEX that fails permanently leaves the collection in error: appends and reindexes are refused.
        try h.manager.createCollection(CollectionSpec(name: "broken", embedder: "hash-v1"), sources: [src])
        try h.work(try Harness.options(faults: "ingest.embed=invalid"))
        let broken = try h.manager.collection(named: "broken")
        #expect(broken.status == .error)
        let e1 = #expect(throws: OperationsError.self) { try h.manager.append("broken", source: src) }
        #expect(e1?.code == .conflict && e1?.message.contains("in error") == true)
        let e2 = #expect(throws: OperationsError.self) { try h.manager.requestReindex("broken", ReindexRequest()) }
        #expect(e2?.code == .conflict)
        // Indexing it again recovers it.
        try h.manager.reindexFromSources("broken", sources: [])
        try h.work()
        #expect(try h.manager.collection(named: "broken").status == .ready)
    }

    /// The loop looks for work every poll interval, and also wakes when an attempt of its own ends: an
    /// operation run in the foreground returns when it ends, not at the next poll (two minutes here).
    @Test func theLoopWakesWhenAnAttemptEnds() throws {
        let h = try Harness()
        let src = try h.writeSource("src", ["a.txt": "alpha beta gamma", "b.txt": "delta epsilon"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var o = try Harness.options()
        o.pollInterval = .seconds(120)
        let start = ContinuousClock.now
        let done = try Worker(manager: h.manager, options: o).runOperation(op.id)
        #expect(done.status == .completed)
        #expect(ContinuousClock.now - start < .seconds(60), "returned at the next poll, not when the attempt ended")
    }

    @Test func transientFailuresAreRetriedThenSucceed() throws {
        let h = try Harness()
        let src = try Self.manyFiles(h)
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        let summary = try h.work(try Harness.options(faults: "ingest.embed=transient@2-3"))
        let done = try h.manager.operation(op.id)
        #expect(done.status == .completed)
        #expect(done.attempts == 3)
        #expect(summary.retries == 2)
        #expect(try h.expectConsistent("c") == (300, 300))
        let actions = try h.manager.audit(collection: "c").map(\.action)
        #expect(actions.filter { $0 == "operation_retried" }.count == 2)
        #expect(actions.last == "collection_indexed")
        // Each attempt has its metrics; failed ones record success = 0.
        let metrics = try h.manager.metrics(of: op.id)
        #expect(Set(metrics.map(\.attempt)) == [1, 2, 3])
        #expect(metrics.filter { $0.name == "success" }.map(\.value) == [0, 0, 1])
    }

    @Test func transientFailuresStopAtTheRetryLimit() throws {
        let h = try Harness()
        let src = try Self.manyFiles(h, count: 120)
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try h.work(try Harness.options(faults: "ingest.embed=transient", maxRetries: 1))
        let done = try h.manager.operation(op.id)
        #expect(done.status == .failed && done.attempts == 2)
        #expect(done.error?.contains("failed after 2 attempts") == true)
        #expect(try h.manager.collection(named: "c").status == .error)
        #expect(try h.manager.audit(collection: "c").last?.action == "index_failed")
    }

    @Test func permanentFailuresAreNotRetried() throws {
        let h = try Harness()
        let src = try Self.manyFiles(h)
        try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try h.work()
        let more = try Self.manyFiles(h, "more", count: 250)
        try FileManager.default.removeItem(atPath: more + "/d0000.txt")
        let op = try h.manager.append("c", source: more)
        try h.work(try Harness.options(faults: "ingest.batch=invalid@2"))  // after the append's 2nd batch of points
        let done = try h.manager.operation(op.id)
        #expect(done.status == .failed && done.attempts == 1)
        #expect(done.error?.contains("injected permanent fault") == true)
        let c = try h.manager.collection(named: "c")
        #expect(c.status == .degraded && c.statusMessage?.contains("append failed") == true)
        // Only whole documents remain searchable: the unfinished ones' points were removed.
        _ = try h.expectConsistent("c")
        // A later append finishes the pending documents.
        try h.manager.append("c", source: more)
        try h.work()
        #expect(try h.expectConsistent("c").documents == 300 + 249)
        #expect(try h.manager.collection(named: "c").status == .ready)
    }

    @Test func softTimeLimitCancelsCooperativelyAndRollsBack() throws {
        let h = try Harness()
        let src = try Self.manyFiles(h)
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var o = try Harness.options(faults: "ingest.batch=sleep:0.3")
        o.softTimeLimit = .milliseconds(400)
        try h.work(o)
        let done = try h.manager.operation(op.id)
        #expect(done.status == .failed && done.attempts == 1)
        #expect(done.error?.contains("soft time limit exceeded") == true)
        _ = try h.expectConsistent("c")
        #expect(try h.manager.documents(of: "c", status: .pending).count > 0)
    }

    /// The abandoned attempt is past its last `ensureActive` (asleep right before its upsert) when the
    /// hard limit abandons it and the rollback runs: its upsert must be refused by the fence checked in
    /// the write's own transaction, or its points would outlive the rollback.
    @Test func anAbandonedAttemptCannotWritePointsAfterTheRollback() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three", "b.txt": "four five six"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var o = try Harness.options(faults: "ingest.upsert=sleep:1.2@1")
        o.hardTimeLimit = .milliseconds(300)
        try h.work(o)
        let done = try h.manager.operation(op.id)
        #expect(done.status == .failed)
        #expect(done.error?.contains("hard time limit exceeded") == true)
        Thread.sleep(forTimeInterval: 1.6)  // the abandoned thread wakes up and tries its upsert
        #expect(try h.manager.operation(op.id).status == .failed)
        let physical = try h.manager.collection(named: "c").vectorStoreName
        #expect(try h.vectors.count(physical, filter: nil) == 0, "points written by an abandoned attempt after its rollback")
    }

    @Test func hardTimeLimitAbandonsTheAttempt() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var o = try Harness.options(faults: "ingest.embed=sleep:2")
        o.hardTimeLimit = .milliseconds(300)
        let start = ContinuousClock.now
        try h.work(o)
        #expect(ContinuousClock.now - start < .seconds(2))
        let done = try h.manager.operation(op.id)
        #expect(done.status == .failed)
        #expect(done.error?.contains("hard time limit exceeded") == true)
        #expect(try h.manager.collection(named: "c").status == .error)
        Thread.sleep(forTimeInterval: 2.2)  // the abandoned thread wakes up and must not write anything
        #expect(try h.manager.operation(op.id).status == .failed)
        #expect(try h.vectors.count(try h.manager.collection(named: "c").vectorStoreName, filter: nil) == 0)
    }

    @Test func cancelPendingAndProcessingOperations() throws {
        let h = try Harness()
        let src = try Self.manyFiles(h, count: 600)
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try h.manager.cancel(op.id)
        let cancelled = try h.manager.operation(op.id)
        #expect(cancelled.status == .cancelled && cancelled.completedAt != nil && cancelled.error != nil)
        let again = #expect(throws: OperationsError.self) { try h.manager.cancel(op.id) }
        #expect(again?.code == .conflict)
        // An INDEX cancelled before it ran leaves the collection in `error` (docs/operations.md), not
        // `pending` forever; it can be indexed again.
        let afterCancel = try h.manager.collection(named: "c")
        #expect(afterCancel.status == .error)
        #expect(afterCancel.statusMessage?.contains("cancelled before it started") == true)

        let index = try h.manager.reindexFromSources("c", sources: [src])
        let worker = Worker(manager: h.manager, options: try Harness.options(faults: "ingest.batch=sleep:0.2"))
        let t = Thread { _ = try? worker.runUntilIdle() }
        t.start()
        while try h.manager.operation(index.id).progressDone == 0 { Thread.sleep(forTimeInterval: 0.02) }
        try h.manager.cancel(index.id)
        while try !h.manager.operation(index.id).status.isFinal { Thread.sleep(forTimeInterval: 0.05) }
        let done = try h.manager.operation(index.id)
        #expect(done.status == .cancelled)
        #expect(try h.manager.collection(named: "c").status == .error)
        #expect(try h.manager.audit(collection: "c").last?.action == "operation_cancelled")
        _ = try h.expectConsistent("c")
    }

    @Test func anExpiredLeaseIsTakenOverAndTheOldAttemptIsFenced() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        let first = try #require(try h.manager.claim(worker: "a", lease: .milliseconds(100), maxAttempts: 4))
        #expect(first.operation.id == op.id && first.operation.attempts == 1 && first.operation.taskID == first.taskID)
        #expect(try h.manager.claim(worker: "b", lease: .seconds(5), maxAttempts: 4) == nil)  // leased
        Thread.sleep(forTimeInterval: 0.15)
        let second = try #require(try h.manager.claim(worker: "b", lease: .seconds(5), maxAttempts: 4))
        #expect(second.operation.attempts == 2 && second.taskID != first.taskID)
        let renewal = try h.manager.renewLease(operationID: op.id, taskID: first.taskID, lease: .seconds(5))
        #expect(renewal.owned == false)
        #expect(try h.manager.renewLease(operationID: op.id, taskID: second.taskID, lease: .milliseconds(1)).owned)
        Thread.sleep(forTimeInterval: 0.01)
        // No attempt left: recovery ends it as lost.
        let report = try h.manager.recover(maxAttempts: 2)
        #expect(report.failedWorkerLost == [op.id])
        let lost = try h.manager.operation(op.id)
        #expect(lost.status == .failed && lost.error?.contains("worker lost") == true)
        #expect(try h.manager.collection(named: "c").status == .error)
    }

    @Test func twoWorkersNeverRunTheSameOperation() throws {
        let h = try Harness()
        var ops: [String] = []
        for i in 0..<6 {
            let src = try h.writeSource("s\(i)", ["a.txt": "collection \(i) text", "b.txt": "more \(i)"])
            ops.append(try h.manager.createCollection(CollectionSpec(name: "c\(i)", embedder: "hash-v1"), sources: [src]).operation.id)
        }
        // A second store instance on the same files stands for a second process.
        let other = try Store.open(at: h.dir.appending("store"))
        defer { try? other.close() }
        let otherManager = try CollectionManager(store: other, vectors: try BackendMatrix.vectors(for: h.dir.appending("store")))
        let w1 = Worker(manager: h.manager, options: try Harness.options())
        let w2 = Worker(manager: otherManager, options: try Harness.options())
        let results = Results()
        let t1 = Thread { results.add(try? w1.runUntilIdle()) }
        let t2 = Thread { results.add(try? w2.runUntilIdle()) }
        t1.start(); t2.start()
        while results.count < 2 { Thread.sleep(forTimeInterval: 0.02) }
        for id in ops {
            let op = try h.manager.operation(id)
            #expect(op.status == .completed && op.attempts == 1)
        }
        #expect(results.completed == 6)
    }

    @Test func oneWorkerRunsSeveralCollectionsAtOnce() throws {
        let h = try Harness()
        let a = try Self.manyFiles(h, "a", count: 200)
        let b = try Self.manyFiles(h, "b", count: 200)
        try h.manager.createCollection(CollectionSpec(name: "a", embedder: "hash-v1"), sources: [a])
        try h.manager.createCollection(CollectionSpec(name: "b", embedder: "hash-v1"), sources: [b])
        var o = try Harness.options(faults: "ingest.batch=sleep:0.1")
        o.concurrency = 2
        let worker = Worker(manager: h.manager, options: o)
        let seen = Results()
        let t = Thread { seen.add(try? worker.runUntilIdle()) }
        t.start()
        var overlapped = false
        while seen.count == 0 {
            if try h.manager.operations(status: .processing).count == 2 { overlapped = true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(overlapped)
        #expect(seen.completed == 2)
    }
}

final class Results: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var summaries: [Worker.Summary?] = []
    func add(_ s: Worker.Summary?) { lock.lock(); summaries.append(s); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return summaries.count }
    var completed: Int { lock.lock(); defer { lock.unlock() }; return summaries.reduce(0) { $0 + ($1?.finished[.completed] ?? 0) } }
}

import Embedding
import Foundation
import Logging
import Operations
import SwitchyardJSON
import Telemetry
import VectorMath
import VectorStore

/// One attempt of a REINDEX: what it needs (the collection, the target configuration, its embedder and
/// chunker), and one method per checkpoint. Each method does its stage's work, then records the checkpoint
/// (fenced) and hits its fault point; ``ReindexHandler/run(_:)`` calls the ones the checkpoint has not passed.
struct ReindexRun {
    let handler: ReindexHandler
    let context: OperationContext
    let collection: ManagedCollection
    let target: ReindexTarget
    let distance: Distance
    let embedder: any Embedder
    let chunker: Chunker

    var manager: CollectionManager { context.manager }
    var operationID: String { context.operation.id }

    /// Reads the request; refuses an unknown distance or embedder and a collection on another backend.
    init(handler: ReindexHandler, context: OperationContext) throws {
        let op = context.operation
        guard let c = context.collection else {
            throw OperationsError(.invalidInput, "collection '\(op.collectionName)' no longer exists")
        }
        try context.manager.requireBackend(of: c)
        let target = ReindexTarget(op.config)
        guard let distance = Distance(parsing: target.distance) else {
            throw OperationsError(.invalidInput, "unknown distance '\(target.distance)' in the reindex request")
        }
        do { embedder = try Embedders.make(spec: target.embedder) } catch {
            throw error.operationsError("reindex embedder '\(target.embedder)'")
        }
        self.handler = handler
        self.context = context
        self.collection = c
        self.target = target
        self.distance = distance
        self.chunker = try CollectionManager.chunker(size: target.chunkSize, overlap: target.chunkOverlap)
    }

    // MARK: - 1. preflight

    /// Checks there is something to reindex, reserves room for the staging copy, records the serving generation.
    func preflight(_ cp: inout ReindexCheckpoint) throws {
        try context.ensureActive()
        let c = collection
        guard c.documentCount > 0, c.vectorCount > 0 else {
            throw OperationsError(.invalidInput, "collection '\(c.name)' is empty: nothing to reindex")
        }
        guard try manager.vectors.collectionExists(c.vectorStoreName) else {
            throw OperationsError(.invalidInput, "collection '\(c.name)' has no serving collection '\(c.vectorStoreName)'")
        }
        let reserve = try ReindexHandler.stagingReservation(c, embedder: embedder, manager: manager)
        // A repeated preflight (after a crash or a retry) reuses the operation's active reservation.
        let held = try manager.reservations().first { $0.operationID == operationID }?.id
        let reservation = try cp.reservation ?? held
            ?? manager.reserve(collection: c.name, bytes: reserve, operationID: operationID, purpose: "reindex staging copy").id
        try manager.ensureServingGeneration(of: c)
        cp.reservation = reservation
        cp.old = c.vectorStoreName
        cp.stage = .preflight
        try handler.save(cp, context)
        try context.faults.hit("reindex.preflight")
    }

    // MARK: - 2. staging

    /// Names the staging collection (recorded before it exists), then creates it.
    func createStaging(_ cp: inout ReindexCheckpoint) throws {
        try context.ensureActive()
        let name = cp.staging ?? ReindexHandler.stagingName(collectionID: collection.id)
        if cp.staging == nil {
            cp.staging = name
            try handler.save(cp, context)
        }
        // A collection of that name that serves, is kept or belongs to another operation is never reused or dropped.
        if try manager.isLiveGeneration(name) || manager.isReferenced(name, exceptOperation: operationID) {
            throw OperationsError(.conflict, "staging collection '\(name)' is in use by a collection or another operation")
        }
        let vectors = manager.vectors, dimension = embedder.dimension, distance = distance
        // At the worker's priority: readers of this process that find the new collection's commit wait until
        // the catalog has it, and a niced thread would get a core after their searches.
        try context.urgently { () throws(OperationsError) in
            try CollectionManager.guarded("creating staging collection '\(name)'") {
                if try vectors.collectionExists(name) {
                    // Left by an earlier attempt: reused when its shape matches.
                    let info = try vectors.collectionInfo(name)
                    guard info.dimension != dimension || info.distance != distance else { return }
                    try vectors.dropCollection(name)
                }
                try vectors.createCollection(name, dimension: dimension, distance: distance)
            }
        }
        manager.noteEmbedder(target.embedder, ofPhysical: name)
        cp.stage = .staging
        try handler.save(cp, context)
        try context.faults.hit("reindex.staging")
    }

    // MARK: - 3. reprocessing

    /// Every completed document, chunked and embedded anew into staging; resumable from the last finished batch.
    func reprocess(_ cp: inout ReindexCheckpoint, into staging: String) throws {
        let failed = try context.timed("reprocessing") { () throws(OperationsError) in
            try handler.reprocess(collection, into: staging, embedder: embedder, chunker: chunker, context: context)
        }
        cp.failedDocuments = failed
        cp.stage = .reprocessing
        try handler.save(cp, context)
        try context.faults.hit("reindex.reprocessing")
    }

    // MARK: - 4. validation

    /// Compares staging with the serving collection; a failed check rejects the reindex (the report is kept).
    func validate(_ cp: inout ReindexCheckpoint, staging: String) throws {
        try context.ensureActive()
        let c = collection
        var options = Comparison.Options()
        options.queriesPath = target.queries
        options.qrelsPath = target.qrels
        options.thresholds = try Thresholds.make(target.thresholds)
        // Scores and rankings are comparable only with the same embedder and the same distance.
        options.sameEmbedder = target.embedder == c.embedder && distance == c.distance
        options.sameChunking = target.chunkSize == c.chunkSize && target.chunkOverlap == c.chunkOverlap
        options.failedDocuments = cp.failedDocuments
        let report = try context.timed("validation") { () throws(OperationsError) in
            try Comparison(manager: manager,
                           old: try ComparisonSide(label: "old", collection: c.vectorStoreName, embedderSpec: c.embedder),
                           new: try ComparisonSide(label: "new", collection: staging, embedderSpec: target.embedder),
                           options: options).run()
        }
        context.telemetry.reindexValidation(seconds: report.seconds)
        if let path = target.report { try report.write(to: path) }
        cp.validation = report.json
        try handler.save(cp, context)
        guard report.passed else {
            let failing = report.checks.filter { $0.verdict == .fail }.map { c in
                "\(c.name) = \(c.value.map { String(format: "%.4f", $0) } ?? "n/a") (needs \(c.threshold))"
            }
            throw OperationsError(.rejected, "validation rejected the new collection: \(failing.joined(separator: "; "))")
        }
        cp.stage = .validation
        try handler.save(cp, context)
        try context.faults.hit("reindex.validation")
    }

    // MARK: - 5. switch

    /// Intent, then the alias batch on the backend, then the records with the checkpoint (documents,
    /// generations, audit) in one fenced transaction.
    func switchAlias(_ cp: inout ReindexCheckpoint, to staging: String) throws {
        try context.ensureActive()
        var after = cp
        after.stage = .switch
        let plan = SwitchPlan(staging: staging, embedder: target.embedder, dimension: embedder.dimension, chunkSize: target.chunkSize,
                              chunkOverlap: target.chunkOverlap, distance: distance, validation: cp.validation, checkpoint: after.json)
        // At the worker's priority, not the niced one of reprocessing: readers and the lease wait on it.
        let (total, flip) = try context.urgently { () throws(OperationsError) in
            try context.timed("switch") { () throws(OperationsError) in
                try Generations.switchTo(plan, context: context, collection: collection)
            }
        }
        context.telemetry.reindexSwitch(seconds: total)
        context.telemetry.reindexCheckpoint(ReindexStage.switch.rawValue)  // written inside the commit's transaction
        cp.switchMilliseconds = total * 1000
        cp.aliasFlipMilliseconds = flip * 1000
        cp.stage = .switch
        try handler.save(cp, context)
        try context.faults.hit("reindex.switch")
    }

    // MARK: - 6. cleanup

    /// Drops retired generations beyond the kept ones whose grace period is over (the others are dropped by
    /// workers' housekeeping later, so the collection is not held) and releases the reservation. The new
    /// collection serves already: nothing here fails the operation except a lost lease.
    ///
    /// - Returns: What could not be done, for the operation's result.
    func cleanUp(_ cp: inout ReindexCheckpoint) throws -> [String] {
        let opID = operationID
        var warnings = context.timed("cleanup") {
            Generations.cleanUp(manager, collectionID: collection.id, settings: handler.settings, exceptOperation: opID, context: context)
        }
        // The staging copy's bulk writes are still in the write-ahead log. The store's checkpoint thread copies
        // them into the database file from here on, while this operation finishes: waiting for it before the
        // switch (mostly for the disk) took 100–550 ms per reindex of 6,000 vectors. Asked for after the
        // cleanup's drops, so that their commits, which readers may wait for, do not share the disk with it.
        manager.store.requestCheckpoint()
        if let r = cp.reservation {
            // The final status releases it too; a failure here only delays that.
            do { try manager.release(reservation: r) } catch {
                Log.reindex.warning("could not release the reservation at cleanup", metadata: ["operation": "\(opID)", "error": "\(error)"])
            }
        }
        cp.stage = .cleanup
        do { try handler.save(cp, context) } catch {
            let e = CollectionManager.classify(error, doing: "recording the cleanup checkpoint")
            if e.code == .leaseLost { throw e }
            warnings.append("could not record the cleanup checkpoint: \(e)")
        }
        do { try context.faults.hit("reindex.cleanup") } catch {
            warnings.append("injected fault at cleanup: \(error)")  // after the switch nothing may fail the operation
        }
        return warnings
    }

    // MARK: - Outcome

    /// The operation's result; its commit clears the resume rows in the final status's transaction.
    func outcome(_ cp: ReindexCheckpoint, staging: String, warnings: [String]) -> HandlerOutcome {
        var result: [String: JSONValue] = [
            "old": .string(cp.old ?? collection.vectorStoreName), "new": .string(staging), "embedder": .string(target.embedder),
            "chunk_size": .int(Int64(target.chunkSize)), "chunk_overlap": .int(Int64(target.chunkOverlap)),
            "failed_documents": .int(Int64(cp.failedDocuments)),
            "switch_ms": cp.switchMilliseconds.map { .double($0) } ?? .null,
            "alias_flip_ms": cp.aliasFlipMilliseconds.map { .double($0) } ?? .null,
            "validation_passed": .bool(true),
        ]
        if !warnings.isEmpty { result["cleanup_warnings"] = .array(warnings.map { .string($0) }) }
        let opID = operationID
        return HandlerOutcome(result: result) { db in try CollectionManager.clearReindexProgress(db, operationID: opID) }
    }
}

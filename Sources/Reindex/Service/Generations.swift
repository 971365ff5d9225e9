import Foundation
import Logging
import Telemetry
import GRDB
import Operations
import SwitchyardJSON
import VectorMath
import VectorStore

/// A physical collection a managed collection serves or served from.
public struct Generation: Sendable, Equatable {
    public enum Status: String, Sendable { case serving, kept, dropped }
    public var vectorStoreName: String
    public var collectionID: String
    public var embedder: String
    public var dimension: Int
    public var chunkSize: Int
    public var chunkOverlap: Int
    public var distance: String
    public var status: Status
    /// The reindex that built it (`nil` for the first INDEX).
    public var operationID: String?
    /// Its validation report (JSON), when a reindex built it.
    public var validation: JSONValue?
    public var createdAt: Date
    public var retiredAt: Date?

    init(row: Row) {
        vectorStoreName = row["vector_store_name"]
        collectionID = row["collection_id"]
        embedder = row["embedder"]
        dimension = row["dimension"]
        chunkSize = row["chunk_size"]
        chunkOverlap = row["chunk_overlap"]
        distance = row["distance"]
        status = Status(rawValue: row["status"]) ?? .dropped
        operationID = row["operation_id"]
        validation = (row["validation"] as String?).flatMap { try? JSONParser.parse($0) }
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        retiredAt = (row["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

/// The generations table and the transactions that move between generations.
enum Generations {
    static func prepare(_ manager: CollectionManager) throws(OperationsError) {
        try CollectionManager.guarded("preparing the reindex tables") {
            try manager.store.migrateRecords(component: ReindexSchema.component, migrations: ReindexSchema.migrations)
        }
    }

    /// Records the serving collection as a generation if it is not yet (collections built by INDEX).
    static func ensureServing(_ manager: CollectionManager, collection c: ManagedCollection) throws(OperationsError) {
        try manager.write("recording the serving generation of '\(c.name)'") { db in
            try insertServing(db, c)
        }
    }

    static func insertServing(_ db: Database, _ c: ManagedCollection) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO collection_generations (vector_store_name, collection_id, embedder, dimension, chunk_size, chunk_overlap,
                distance, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'serving', ?)
            """, arguments: [c.vectorStoreName, c.id, c.embedder, c.dimension, c.chunkSize, c.chunkOverlap, c.distance.rawValue,
                             c.createdAt.timeIntervalSince1970])
    }

    /// The switch: alias → staging, the collection record, the documents' chunk counts, the
    /// generations, the audit rows and the checkpoint — one transaction, fenced by the attempt's task id.
    /// - Returns: The whole switch's duration and the alias flip's (the alias rows inside the
    ///   transaction plus the in-memory catalog swap), in seconds.
    static func switchTo(_ staging: String, context: OperationContext, collection c: ManagedCollection, target: ReindexTarget,
                         dimension: Int, distance: Distance, checkpoint: ReindexCheckpoint) throws(OperationsError) -> (Double, Double) {
        let op = context.operation
        var cp = checkpoint
        cp.stage = .switch
        let start = ContinuousClock.now
        var flip = 0.0
        var inner: (any Error)?
        do {
            let timing = try context.manager.store.updateAliases([.delete(alias: c.name), .create(alias: c.name, collection: staging)]) { db in
                do {
                    guard try Row.fetchOne(db, sql: "SELECT 1 FROM operations WHERE id = ? AND task_id = ? AND status = 'processing'",
                                           arguments: [op.id, context.taskID]) != nil else {
                        throw OperationsError(.leaseLost, "operation \(op.id): attempt \(context.taskID) no longer owns it")
                    }
                    let now = WallClock.now()
                    // With the chunking unchanged every document keeps its chunk count: nothing per document
                    // to do, and the switch stays a handful of row writes whatever the collection's size.
                    // Otherwise the retiring generation's counts are kept (for a rollback) and the new ones set.
                    let rechunked = target.chunkSize != c.chunkSize || target.chunkOverlap != c.chunkOverlap
                    let snapshot = rechunked ? try chunkCounts(db, collectionID: c.id) : nil
                    try insertServing(db, c)
                    try db.execute(sql: """
                        UPDATE collection_generations SET status = 'kept', retired_at = ?, chunk_counts = ? WHERE vector_store_name = ?
                        """, arguments: [now, snapshot, c.vectorStoreName])
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO collection_generations (vector_store_name, collection_id, embedder, dimension, chunk_size, chunk_overlap,
                            distance, status, operation_id, validation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'serving', ?, ?, ?)
                        """, arguments: [staging, c.id, target.embedder, dimension, target.chunkSize, target.chunkOverlap, distance.rawValue,
                                         op.id, cp.validation?.jsonText, now])
                    if rechunked {
                        try db.execute(sql: """
                            UPDATE documents SET chunk_count = p.chunk_count FROM reindex_progress p
                            WHERE p.operation_id = ? AND p.document_id = documents.id AND documents.collection_id = ? AND documents.status = 'completed'
                            """, arguments: [op.id, c.id])
                    }
                    try db.execute(sql: """
                        UPDATE collections SET vector_store_name = ?, embedder = ?, dimension = ?, chunk_size = ?, chunk_overlap = ?, distance = ?,
                            status = 'ready', status_message = NULL, updated_at = ? WHERE id = ?
                        """, arguments: [staging, target.embedder, dimension, target.chunkSize, target.chunkOverlap, distance.rawValue, now, c.id])
                    if rechunked { try PointLayout.recount(db, collectionID: c.id) }
                    try CollectionManager.audit(db, collection: c, operationID: op.id, user: op.user, action: .aliasSwitched, details: [
                        "alias": .string(c.name), "from": .string(c.vectorStoreName), "to": .string(staging),
                    ])
                    try CollectionManager.audit(db, collection: c, operationID: op.id, user: op.user, action: .collectionReindexed, details: [
                        "from": .string(c.vectorStoreName), "to": .string(staging),
                        "embedder": .string("\(c.embedder) -> \(target.embedder)"),
                        "chunking": .string("\(c.chunkSize)/\(c.chunkOverlap) -> \(target.chunkSize)/\(target.chunkOverlap)"),
                        "validation_passed": .bool(true),
                    ])
                    try db.execute(sql: "UPDATE operations SET checkpoint = ? WHERE id = ?", arguments: [JSONValue.object(cp.json).jsonText, op.id])
                } catch {
                    inner = error
                    throw error
                }
            }
            flip = timing.aliasRowsSeconds + timing.catalogSeconds
        } catch {
            if let inner { throw CollectionManager.classify(inner, doing: "switching '\(c.name)' to '\(staging)'") }
            throw CollectionManager.classify(error, doing: "switching '\(c.name)' to '\(staging)'")
        }
        return ((ContinuousClock.now - start).inSeconds, flip)
    }

    /// The completed documents' chunk counts (`{doc id: chunks}`), kept with a retiring generation.
    static func chunkCounts(_ db: Database, collectionID: String) throws -> String {
        var counts: [String: JSONValue] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, chunk_count FROM documents WHERE collection_id = ? AND status = 'completed'", arguments: [collectionID]) {
            counts[String(row["id"] as Int64)] = .int(row["chunk_count"])
        }
        return JSONValue.object(counts).jsonText
    }

    /// Drops retired generations beyond the newest `keepGenerations` whose grace period is over (without
    /// waiting: later ones are dropped by workers' housekeeping), once no search in this process uses them,
    /// never a serving collection, one another record references, or a system (`_`) collection.
    /// - Returns: Warnings (a drop that failed or was skipped); never throws: the switch is done.
    static func cleanUp(_ manager: CollectionManager, collectionID: String, settings: ReindexSettings, exceptOperation: String?) -> [String] {
        var warnings: [String] = []
        let retired: [Generation]
        do {
            retired = try manager.read("listing generations") { db in
                try Row.fetchAll(db, sql: """
                    SELECT * FROM collection_generations WHERE collection_id = ? AND status = 'kept' ORDER BY retired_at DESC
                    """, arguments: [collectionID]).map(Generation.init(row:))
            }
        } catch {
            Log.reindex.error("could not list retired generations", metadata: ["collection": "\(collectionID)", "error": "\(error)"])
            return ["could not list generations: \(error)"]
        }
        for g in retired.dropFirst(max(0, settings.keepGenerations)) {
            // A generation whose collection is gone counts as empty (the shortest grace period).
            let vectors = (try? manager.vectors.count(g.vectorStoreName, filter: nil)) ?? 0
            let dropAt = (g.retiredAt?.timeIntervalSince1970 ?? 0) + settings.grace(vectors: vectors)
            guard WallClock.now() >= dropAt else { continue }
            if let reason = unsafeToDrop(manager, g.vectorStoreName, exceptOperation: exceptOperation) {
                warnings.append("kept \(g.vectorStoreName): \(reason)")
                continue
            }
            let drainUntil = WallClock.now() + settings.searchDrainTimeout
            // A collection already gone has no searches to wait for.
            while ((try? manager.vectors.activeSearches(g.vectorStoreName)) ?? 0) > 0 && WallClock.now() < drainUntil {
                Thread.sleep(forTimeInterval: 0.01)
            }
            do {
                if try manager.vectors.collectionExists(g.vectorStoreName) { try manager.vectors.dropCollection(g.vectorStoreName) }
                try manager.write("recording the drop of \(g.vectorStoreName)") { db in
                    try db.execute(sql: "UPDATE collection_generations SET status = 'dropped', dropped_at = ?, chunk_counts = NULL WHERE vector_store_name = ?",
                                   arguments: [WallClock.now(), g.vectorStoreName])
                }
            } catch {
                warnings.append("could not drop \(g.vectorStoreName): \(error)")
                manager.reportCleanupFailure("dropping retired generation \(g.vectorStoreName) (housekeeping tries again)", error: error,
                                             collectionID: collectionID, operationID: exceptOperation, logger: Log.reindex)
            }
        }
        return warnings
    }

    /// Housekeeping: retired generations of every collection whose grace period has ended.
    static func dropExpiredGenerations(_ manager: CollectionManager, settings: ReindexSettings) {
        let ids: [String]
        do {
            ids = try manager.read("listing collections with kept generations") { db in
                try String.fetchAll(db, sql: "SELECT DISTINCT collection_id FROM collection_generations WHERE status = 'kept'")
            }
        } catch {
            Log.reindex.error("housekeeping could not list kept generations", metadata: ["error": "\(error)"])
            return
        }
        for id in ids { _ = cleanUp(manager, collectionID: id, settings: settings, exceptOperation: nil) }
    }

    /// Housekeeping: the staging collection and progress rows of reindexes that ended before their
    /// switch (cancelled while waiting for a retry, failed with their rollback interrupted).
    static func removeLeftoversOfEndedReindexes(_ manager: CollectionManager) {
        let ended: [(id: String, collection: String, checkpoint: ReindexCheckpoint)]
        do {
            ended = try manager.read("listing ended reindexes") { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, collection_id, checkpoint FROM operations WHERE type = 'reindex' AND status IN ('completed', 'failed', 'cancelled')
                      AND (id IN (SELECT DISTINCT operation_id FROM reindex_progress) OR checkpoint LIKE '%"staging"%')
                      AND completed_at > ?
                    """, arguments: [WallClock.now() - 7 * 86_400]).map { row in
                    (row["id"] as String, row["collection_id"] as String,
                     ReindexCheckpoint((row["checkpoint"] as String?).flatMap { try? JSONParser.parse($0).objectValue }))
                }
            }
        } catch {
            Log.reindex.error("housekeeping could not list ended reindexes", metadata: ["error": "\(error)"])
            return
        }
        for (id, collection, cp) in ended {
            if let staging = cp.staging, (cp.stage.map { $0 < .switch } ?? true), unsafeToDrop(manager, staging) == nil {
                do {
                    let kept = try manager.read("checking \(staging)") { db in
                        try Row.fetchOne(db, sql: "SELECT 1 FROM collection_generations WHERE vector_store_name = ? AND status <> 'dropped'", arguments: [staging]) != nil
                    }
                    if !kept, try manager.vectors.collectionExists(staging) { try manager.vectors.dropCollection(staging) }
                } catch {
                    manager.reportCleanupFailure("dropping staging collection \(staging) left by reindex \(id)", error: error,
                                                 collectionID: collection, operationID: id, logger: Log.reindex)
                }
            }
            do {
                try manager.write("clearing reindex progress") { db in
                    try db.execute(sql: "DELETE FROM reindex_progress WHERE operation_id = ?", arguments: [id])
                }
            } catch {
                manager.reportCleanupFailure("clearing the resume rows of reindex \(id)", error: error,
                                             collectionID: collection, operationID: id, logger: Log.reindex)
            }
        }
    }

    /// Why a physical collection must not be dropped, or `nil` when it may be.
    static func unsafeToDrop(_ manager: CollectionManager, _ name: String, exceptOperation: String? = nil) -> String? {
        if name.hasPrefix("_") { return "a system collection" }
        // When a check cannot be made, the collection is kept: dropping what may serve is the worse error.
        do {
            if try manager.vectors.aliases().contains(where: { $0.collection == name }) { return "an alias points to it" }
            let referenced = try manager.read("checking references") { db in
                try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE vector_store_name = ?", arguments: [name]) != nil
                    || Row.fetchOne(db, sql: """
                        SELECT 1 FROM operations WHERE status IN ('pending', 'processing') AND checkpoint LIKE '%' || ? || '%' AND id <> ?
                        """, arguments: [name, exceptOperation ?? ""]) != nil
            }
            return referenced ? "a collection or an active operation references it" : nil
        } catch {
            Log.reindex.warning("could not check whether a collection is still used; keeping it", metadata: ["collection": "\(name)", "error": "\(error)"])
            return "its references could not be checked (\(error))"
        }
    }

    /// Staging collections (`staging_*`) that no collection, generation or active operation references,
    /// older than `minimumAge` seconds: left by a crash that no operation will resume. Each removal is
    /// audited on the collection the name belongs to.
    @discardableResult
    static func removeOrphanedStaging(_ manager: CollectionManager, minimumAge: Double) throws(OperationsError) -> [String] {
        try prepare(manager)
        let candidates = try CollectionManager.guarded("listing collections") { try manager.vectors.collections() }
            .filter { $0.name.hasPrefix("staging_") && WallClock.now() - $0.createdAt.timeIntervalSince1970 >= minimumAge }
        var removed: [String] = []
        for info in candidates {
            let known = try manager.read("checking \(info.name)") { db in
                try Row.fetchOne(db, sql: "SELECT 1 FROM collection_generations WHERE vector_store_name = ? AND status <> 'dropped'", arguments: [info.name]) != nil
            }
            guard !known, unsafeToDrop(manager, info.name) == nil else { continue }
            // staging_col_<collection id>_<time>
            let parts = info.name.split(separator: "_")
            let owner = parts.count >= 3 && parts[1] == "col" ? String(parts[2]) : nil
            do {
                try CollectionManager.guarded("dropping orphaned \(info.name)") { try manager.vectors.dropCollection(info.name) }
            } catch {
                manager.reportCleanupFailure("dropping orphaned staging collection \(info.name)", error: error,
                                             collectionID: owner, operationID: nil, logger: Log.reindex)
                continue
            }
            removed.append(info.name)
            Log.reindex.notice("removed an orphaned staging collection", metadata: ["staging": "\(info.name)"])
            if let owner {
                do {
                    try manager.write("auditing the removal of \(info.name)") { db in
                        guard try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE id = ?", arguments: [owner]) != nil else { return }
                        let c = try CollectionManager.collection(db, id: owner)
                        try CollectionManager.audit(db, collection: c, operationID: nil, user: "worker", action: .stagingRemoved,
                                                    details: ["staging": .string(info.name), "reason": "orphaned (no operation references it)"])
                    }
                } catch {
                    Log.reindex.error("could not audit the removal of an orphaned staging collection", metadata: ["staging": "\(info.name)", "error": "\(error)"])
                }
            }
        }
        return removed
    }
}

import Foundation
import GRDB
import Locks
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

    /// The generation a collection's current record describes (before a reindex recorded it).
    init(serving c: ManagedCollection) {
        vectorStoreName = c.vectorStoreName
        collectionID = c.id
        embedder = c.embedder
        dimension = c.dimension
        chunkSize = c.chunkSize
        chunkOverlap = c.chunkOverlap
        distance = c.distance.rawValue
        status = .serving
        createdAt = c.createdAt
    }
}

/// The documents a reindex still has to write into its staging collection.
public struct ReprocessPlan: Sendable {
    public struct Document: Sendable {
        public var id: Int64
        public var name: String
        public var path: String
        public var contentHash: String
        public var sourceID: Int64?
    }
    /// Completed documents not yet written by an earlier attempt, in id order.
    public var remaining: [Document]
    /// Documents an earlier attempt already wrote.
    public var done: Int
    /// The collection's sources, by id.
    public var sources: [Int64: CollectionSource]
}

/// A reindex that ended (completed, failed or cancelled) whose staging collection or resume rows may remain.
public struct EndedReindex: Sendable {
    public var operationID: String
    public var collectionID: String
    public var checkpoint: [String: JSONValue]
}

// MARK: - Generations: the records of every physical collection a managed collection served from.

extension CollectionManager {
    /// A managed collection's generations, newest first.
    public func generations(collectionID: String) throws(OperationsError) -> [Generation] {
        try read("listing generations") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM collection_generations WHERE collection_id = ? ORDER BY created_at DESC",
                             arguments: [collectionID]).map(Generation.init(row:))
        }
    }

    /// Retired (`kept`) generations of a collection, the most recently retired first.
    public func keptGenerations(collectionID: String) throws(OperationsError) -> [Generation] {
        try read("listing kept generations") { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM collection_generations WHERE collection_id = ? AND status = 'kept' ORDER BY retired_at DESC
                """, arguments: [collectionID]).map(Generation.init(row:))
        }
    }

    /// Collections on this manager's backend that have kept generations (housekeeping drops those past their
    /// grace period; another backend's are that backend's workers' to drop).
    public func collectionsWithKeptGenerations() throws(OperationsError) -> [String] {
        try read("listing collections with kept generations") { db in
            try String.fetchAll(db, sql: """
                SELECT DISTINCT collection_id FROM collection_generations g WHERE status = 'kept'
                  AND coalesce((SELECT backend FROM collections WHERE id = g.collection_id), ?) = ?
                """, arguments: [backend, backend])
        }
    }

    /// Whether a collection id belongs to this store on this manager's backend: a collection of this backend, or
    /// one that is gone but has operations here. Housekeeping touches staging collections of such ids only (a
    /// shared Qdrant server holds other stores' collections too).
    public func ownsCollectionID(_ id: String) throws(OperationsError) -> Bool {
        try read("checking collection \(id)") { db in
            if let b = try String.fetchOne(db, sql: "SELECT backend FROM collections WHERE id = ?", arguments: [id]) { return b == backend }
            return try Row.fetchOne(db, sql: "SELECT 1 FROM operations WHERE collection_id = ?", arguments: [id]) != nil
        }
    }

    /// Records the serving collection as a generation if it is not yet (collections built by INDEX).
    public func ensureServingGeneration(of c: ManagedCollection) throws(OperationsError) {
        try write("recording the serving generation of '\(c.name)'") { db in try Self.insertServing(db, c) }
    }

    static func insertServing(_ db: Database, _ c: ManagedCollection) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO collection_generations (vector_store_name, collection_id, embedder, dimension, chunk_size, chunk_overlap,
                distance, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'serving', ?)
            """, arguments: [c.vectorStoreName, c.id, c.embedder, c.dimension, c.chunkSize, c.chunkOverlap, c.distance.rawValue,
                             c.createdAt.timeIntervalSince1970])
    }

    /// Whether a physical collection is a generation that is serving or kept (not dropped).
    public func isLiveGeneration(_ physical: String) throws(OperationsError) -> Bool {
        try read("checking \(physical)") { db in
            try Row.fetchOne(db, sql: "SELECT 1 FROM collection_generations WHERE vector_store_name = ? AND status <> 'dropped'",
                             arguments: [physical]) != nil
        }
    }

    /// Whether a collection record or an active operation (other than `exceptOperation`) references the physical collection.
    public func isReferenced(_ physical: String, exceptOperation: String? = nil) throws(OperationsError) -> Bool {
        try read("checking references to \(physical)") { db in
            try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE vector_store_name = ?", arguments: [physical]) != nil
                || Row.fetchOne(db, sql: """
                    SELECT 1 FROM operations WHERE status IN ('pending', 'processing') AND checkpoint LIKE '%' || ? || '%' AND id <> ?
                    """, arguments: [physical, exceptOperation ?? ""]) != nil
                || Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE kind <> 'drop' AND (to_collection = ? OR from_collection = ?)",
                                arguments: [physical, physical]) != nil
        }
    }

    /// The managed collection a physical collection is (or was) a generation of, or `nil`.
    public func managedCollectionID(ofPhysical physical: String) throws(OperationsError) -> String? {
        try read("finding the managed collection of '\(physical)'") { db in
            try String.fetchOne(db, sql: """
                SELECT collection_id FROM collection_generations WHERE vector_store_name = ?
                UNION SELECT id FROM collections WHERE vector_store_name = ? LIMIT 1
                """, arguments: [physical, physical])
        }
    }

    /// The embedder spec a physical collection's vectors were made with (its generation, the collection
    /// it serves, the switch moving to it, or the reindex building it).
    ///
    /// - Throws: ``OperationsError`` `notFound` for a collection the managed layer does not know.
    public func embedderSpec(ofPhysical name: String) throws(OperationsError) -> String {
        if let known = embeddersOfPhysical.withLock({ $0[name] }) { return known }
        let spec = try read("finding the embedder of '\(name)'") { db in
            if let e = try String.fetchOne(db, sql: "SELECT embedder FROM collection_generations WHERE vector_store_name = ?", arguments: [name]) { return e }
            if let e = try String.fetchOne(db, sql: "SELECT embedder FROM collections WHERE vector_store_name = ?", arguments: [name]) { return e }
            // Between a switch's alias flip and its commit, readers already resolve the alias to the new
            // generation, whose record the commit writes: its intent names the embedder. (The scan below
            // would find it too, but parses each reindex's checkpoint, validation report included, and
            // with every reader doing so at once it made the queries around a switch 5-25 ms slow.)
            if let e = try String.fetchOne(db, sql: """
                SELECT json_extract(details, '$.embedder') FROM alias_intents WHERE kind = 'switch' AND to_collection = ?
                """, arguments: [name]) { return e }
            for row in try Row.fetchAll(db, sql: "SELECT config, checkpoint FROM operations WHERE type = 'reindex' AND checkpoint LIKE '%' || ? || '%'", arguments: [name]) {
                if let cp = (row["checkpoint"] as String?).flatMap({ try? JSONParser.parse($0).objectValue }), cp["staging"]?.stringValue == name,
                   let e = (row["config"] as String?).flatMap({ try? JSONParser.parse($0).objectValue })?["embedder"]?.stringValue { return e }
            }
            throw OperationsError(.notFound, "'\(name)' is not a collection the managed layer knows: give its embedder")
        }
        embeddersOfPhysical.withLock { $0[name] = spec }
        return spec
    }

    /// Records the embedder of a physical collection this process just created for it (a reindex's staging
    /// collection), so that the first searches after the switch to it find the embedder in memory. Without
    /// it, every reader's first query on the new generation read it from the switch's records at the same
    /// moment, beside the switch's own transaction.
    public func noteEmbedder(_ spec: String, ofPhysical name: String) {
        embeddersOfPhysical.withLock { $0[name] = spec }
    }

    /// The generation record of a physical collection (recorded by a reindex, or the serving one).
    public func generationConfig(of physical: String) throws(OperationsError) -> Generation {
        try read("reading generation '\(physical)'") { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM collection_generations WHERE vector_store_name = ?", arguments: [physical]) {
                return Generation(row: row)
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collections WHERE vector_store_name = ?", arguments: [physical]) else {
                throw OperationsError(.notFound, "'\(physical)' is not a generation of a managed collection")
            }
            return Generation(serving: try ManagedCollection(row: row))
        }
    }

    /// Records a retired generation as dropped (its physical collection is gone).
    public func recordGenerationDropped(_ physical: String) throws(OperationsError) {
        try write("recording the drop of \(physical)") { db in
            try db.execute(sql: "UPDATE collection_generations SET status = 'dropped', dropped_at = ?, chunk_counts = NULL WHERE vector_store_name = ?",
                           arguments: [WallClock.now(), physical])
        }
    }

    /// The completed documents' chunk counts (`{doc id: chunks}`), kept with a retiring generation.
    static func chunkCounts(_ db: Database, collectionID: String) throws -> String {
        var counts: [String: JSONValue] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, chunk_count FROM documents WHERE collection_id = ? AND status = 'completed'", arguments: [collectionID]) {
            counts[String(row["id"] as Int64)] = .int(row["chunk_count"])
        }
        return JSONValue.object(counts).jsonText
    }

    // MARK: - Documents, as validation and reindex read them

    /// Ids of a managed collection's completed documents ("live documents", docs/reindex.md).
    public func completedDocumentIDs(collectionID: String) throws(OperationsError) -> Set<Int64> {
        Set(try read("reading live documents") { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM documents WHERE collection_id = ? AND status = 'completed'", arguments: [collectionID])
        })
    }

    /// Names (what qrels call corpus ids) of a managed collection's documents, by id.
    public func documentNames(collectionID: String) throws(OperationsError) -> [Int64: String] {
        try read("reading document names") { db in
            var out: [Int64: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM documents WHERE collection_id = ?", arguments: [collectionID]) {
                out[row["id"]] = row["name"]
            }
            return out
        }
    }

    // MARK: - Reindex progress (resume rows)

    /// What a reindex still has to write: completed documents without a resume row of this operation.
    public func reprocessPlan(collectionID: String, operationID: String) throws(OperationsError) -> ReprocessPlan {
        try read("listing documents to reindex") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, name, file_path, content_hash, source_id FROM documents d
                WHERE collection_id = ? AND status = 'completed'
                  AND NOT EXISTS (SELECT 1 FROM reindex_progress p WHERE p.operation_id = ? AND p.document_id = d.id)
                ORDER BY id
                """, arguments: [collectionID, operationID])
            let done = try Int.fetchOne(db, sql: "SELECT count(*) FROM reindex_progress WHERE operation_id = ?", arguments: [operationID]) ?? 0
            let sources = Dictionary(uniqueKeysWithValues: try Self.sources(db, collectionID: collectionID).map { ($0.id, $0) })
            return ReprocessPlan(remaining: rows.map {
                ReprocessPlan.Document(id: $0["id"], name: $0["name"], path: $0["file_path"], contentHash: $0["content_hash"], sourceID: $0["source_id"])
            }, done: done, sources: sources)
        }
    }

    /// Records, in the caller's transaction (a batch's fenced commit), the documents a reindex wrote.
    public static func recordReindexProgress(_ db: Database, operationID: String, finished: [(Int64, Int)]) throws {
        let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO reindex_progress (operation_id, document_id, chunk_count) VALUES (?, ?, ?)")
        for (id, chunks) in finished { try insert.execute(arguments: [operationID, id, chunks]) }
    }

    /// Removes a reindex's resume rows, in the caller's transaction (the final status's).
    public static func clearReindexProgress(_ db: Database, operationID: String) throws {
        try db.execute(sql: "DELETE FROM reindex_progress WHERE operation_id = ?", arguments: [operationID])
    }

    /// Removes a reindex's resume rows.
    public func clearReindexProgress(operationID: String) throws(OperationsError) {
        try write("clearing reindex progress") { db in try Self.clearReindexProgress(db, operationID: operationID) }
    }

    /// Reindexes that ended in the last `days` days and may have left a staging collection or resume rows.
    public func endedReindexesWithLeftovers(days: Double = 7) throws(OperationsError) -> [EndedReindex] {
        try read("listing ended reindexes") { db in
            try Row.fetchAll(db, sql: """
                SELECT id, collection_id, checkpoint FROM operations WHERE type = 'reindex' AND status IN ('completed', 'failed', 'cancelled')
                  AND (id IN (SELECT DISTINCT operation_id FROM reindex_progress) OR checkpoint LIKE '%"staging"%')
                  AND completed_at > ?
                  AND coalesce((SELECT backend FROM collections WHERE id = operations.collection_id), ?) = ?
                """, arguments: [WallClock.now() - days * 86_400, backend, backend]).map { row in
                EndedReindex(operationID: row["id"], collectionID: row["collection_id"],
                             checkpoint: (row["checkpoint"] as String?).flatMap { try? JSONParser.parse($0).objectValue } ?? [:])
            }
        }
    }

    /// Audits the removal of an orphaned staging collection on the collection it belonged to (if it still exists).
    public func auditStagingRemoved(collectionID: String, staging: String, reason: String) throws(OperationsError) {
        try write("auditing the removal of \(staging)") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE id = ?", arguments: [collectionID]) != nil else { return }
            let c = try Self.collection(db, id: collectionID)
            try Self.audit(db, collection: c, operationID: nil, user: "worker", action: .stagingRemoved,
                           details: ["staging": .string(staging), "reason": .string(reason)])
        }
    }

    /// Operations retried, by type and collection (from the audit log), for the metrics exposition.
    public func retriedOperationCounts() throws(OperationsError) -> [(type: String, collectionID: String, count: Int)] {
        try read("counting retried operations") { db in
            try Row.fetchAll(db, sql: """
                SELECT o.type AS type, o.collection_id AS collection_id, count(*) AS n
                FROM collection_audit_log a JOIN operations o ON o.id = a.operation_id
                WHERE a.action = 'operation_retried' GROUP BY o.type, o.collection_id
                """).map { ($0["type"] as String, $0["collection_id"] as String, $0["n"] as Int) }
        }
    }
}

import Locks
import Embedding
import Foundation
import GRDB
import Operations
import SwitchyardJSON
import VectorMath
import VectorStore

/// The reindex layer's requests beside the handler: rollback, generations, comparisons, and searches by
/// text that embed with the embedder of whichever generation the alias points to.
///
/// ```swift
/// let service = try ReindexService(manager: manager)
/// let hits = try service.search("defs", text: "a large body of water", limit: 5)
/// try service.rollback("defs")
/// ```
public final class ReindexService: Sendable {
    public let manager: CollectionManager
    private let embedders = Locked<[String: any Embedder]>([:])

    public init(manager: CollectionManager) throws(OperationsError) {
        self.manager = manager
        try Generations.prepare(manager)
    }

    /// A managed collection's generations, newest first.
    public func generations(of name: String) throws(OperationsError) -> [Generation] {
        let c = try manager.collection(named: name)
        return try manager.read("listing generations of '\(name)'") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM collection_generations WHERE collection_id = ? ORDER BY created_at DESC",
                             arguments: [c.id]).map(Generation.init(row:))
        }
    }

    /// Points the alias back at the newest kept generation, in one transaction with the collection's
    /// record (embedder, chunking, counts), the generations and the audit row (`reindex_rolled_back`).
    /// The generation that was serving is kept in turn (so a rollback can be undone by another one) and
    /// keeps its validation report.
    ///
    /// - Returns: The generation now serving.
    /// - Throws: ``OperationsError``: `notFound` (no kept generation), `conflict` (an operation is active,
    ///   or documents changed since that generation served — a rollback would lose them).
    @discardableResult
    public func rollback(_ name: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> Generation {
        let c = try manager.collection(named: name)
        let (target, counts) = try manager.read("finding the previous generation of '\(name)'") { db -> (Generation, [String: JSONValue]?) in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT * FROM collection_generations WHERE collection_id = ? AND status = 'kept' ORDER BY retired_at DESC LIMIT 1
                """, arguments: [c.id]) else {
                throw OperationsError(.notFound, "collection '\(name)' has no kept generation to roll back to")
            }
            // Chunk counts are kept only when that generation's chunking differs from its successor's.
            let counts = (row["chunk_counts"] as String?).flatMap { try? JSONParser.parse($0).objectValue }
            return (Generation(row: row), counts)
        }
        guard try CollectionManager.guarded("checking '\(target.vectorStoreName)'", { try manager.vectors.collectionExists(target.vectorStoreName) }) else {
            throw OperationsError(.notFound, "the kept generation '\(target.vectorStoreName)' of '\(name)' no longer exists")
        }
        var inner: (any Error)?
        do {
            try manager.store.updateAliases([.delete(alias: c.name), .create(alias: c.name, collection: target.vectorStoreName)]) { db in
                do {
                    let now = WallClock.now()
                    let current = try CollectionManager.collection(db, id: c.id)
                    // What was read before the transaction must still hold (a reindex may have ended meanwhile).
                    let newest = try String.fetchOne(db, sql: """
                        SELECT vector_store_name FROM collection_generations WHERE collection_id = ? AND status = 'kept' ORDER BY retired_at DESC LIMIT 1
                        """, arguments: [c.id])
                    guard newest == target.vectorStoreName, current.vectorStoreName == c.vectorStoreName else {
                        throw OperationsError(.conflict, "the generations of '\(name)' changed while the rollback was prepared; try again")
                    }
                    if let active = try String.fetchOne(db, sql: "SELECT id FROM operations WHERE collection_id = ? AND status IN ('pending', 'processing')",
                                                        arguments: [c.id]) {
                        throw OperationsError(.conflict, "collection '\(name)' has an active operation \(active); wait for it or cancel it before a rollback")
                    }
                    let rechunked = target.chunkSize != current.chunkSize || target.chunkOverlap != current.chunkOverlap
                    let changed = try Bool.fetchOne(db, sql: """
                        SELECT EXISTS (SELECT 1 FROM documents WHERE collection_id = ? AND updated_at > ?)
                        """, arguments: [c.id, target.retiredAt?.timeIntervalSince1970 ?? 0]) ?? true
                    let live = rechunked
                        ? try Int64.fetchAll(db, sql: "SELECT id FROM documents WHERE collection_id = ? AND status = 'completed'", arguments: [c.id]) : []
                    if changed || (rechunked && (counts.map { Set(live.map(String.init)) != Set($0.keys) } ?? true)) {
                        throw OperationsError(.conflict, "documents of '\(name)' changed since '\(target.vectorStoreName)' served; a rollback would lose them — reindex instead")
                    }
                    var snapshot: String?
                    if rechunked {
                        snapshot = try Generations.chunkCounts(db, collectionID: c.id)
                        let update = try db.cachedStatement(sql: "UPDATE documents SET chunk_count = ? WHERE id = ?")
                        for (id, n) in counts ?? [:] { try update.execute(arguments: [Int(n.numberValue ?? 0), Int64(id) ?? -1]) }
                    }
                    try db.execute(sql: """
                        UPDATE collection_generations SET status = 'kept', retired_at = ?, chunk_counts = ? WHERE vector_store_name = ?
                        """, arguments: [now, snapshot, current.vectorStoreName])
                    try db.execute(sql: "UPDATE collection_generations SET status = 'serving', retired_at = NULL, chunk_counts = NULL WHERE vector_store_name = ?",
                                   arguments: [target.vectorStoreName])
                    try db.execute(sql: """
                        UPDATE collections SET vector_store_name = ?, embedder = ?, dimension = ?, chunk_size = ?, chunk_overlap = ?, distance = ?,
                            status = 'ready', status_message = ?, updated_at = ? WHERE id = ?
                        """, arguments: [target.vectorStoreName, target.embedder, target.dimension, target.chunkSize, target.chunkOverlap, target.distance,
                                         "rolled back from \(current.vectorStoreName)", now, c.id])
                    if rechunked { try PointLayout.recount(db, collectionID: c.id) }  // else every count is unchanged
                    try CollectionManager.audit(db, collection: c, operationID: nil, user: user, action: .reindexRolledBack, details: [
                        "from": .string(current.vectorStoreName), "to": .string(target.vectorStoreName), "embedder": .string(target.embedder),
                    ])
                } catch {
                    inner = error
                    throw error
                }
            }
        } catch {
            throw CollectionManager.classify(inner ?? error, doing: "rolling back '\(name)'")
        }
        return try generations(of: name).first { $0.vectorStoreName == target.vectorStoreName }!
    }

    /// The embedder spec a physical collection's vectors were made with (its generation, the collection
    /// it serves, or the reindex building it).
    ///
    /// - Throws: ``OperationsError`` `notFound` for a collection the managed layer does not know.
    public func embedderSpec(ofPhysical name: String) throws(OperationsError) -> String {
        try manager.read("finding the embedder of '\(name)'") { db in
            if let e = try String.fetchOne(db, sql: "SELECT embedder FROM collection_generations WHERE vector_store_name = ?", arguments: [name]) { return e }
            if let e = try String.fetchOne(db, sql: "SELECT embedder FROM collections WHERE vector_store_name = ?", arguments: [name]) { return e }
            for row in try Row.fetchAll(db, sql: "SELECT config, checkpoint FROM operations WHERE type = 'reindex' AND checkpoint LIKE '%' || ? || '%'", arguments: [name]) {
                if let cp = (row["checkpoint"] as String?).flatMap({ try? JSONParser.parse($0).objectValue }), cp["staging"]?.stringValue == name,
                   let e = (row["config"] as String?).flatMap({ try? JSONParser.parse($0).objectValue })?["embedder"]?.stringValue { return e }
            }
            throw OperationsError(.notFound, "'\(name)' is not a collection the managed layer knows: give its embedder")
        }
    }

    /// The generation record of a physical collection (recorded by a reindex, or the serving one).
    public func generationConfig(of physical: String) throws(OperationsError) -> Generation {
        try manager.read("reading generation '\(physical)'") { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM collection_generations WHERE vector_store_name = ?", arguments: [physical]) {
                return Generation(row: row)
            }
            guard let c = try Row.fetchOne(db, sql: "SELECT * FROM collections WHERE vector_store_name = ?", arguments: [physical]) else {
                throw OperationsError(.notFound, "'\(physical)' is not a generation of a managed collection")
            }
            return Generation(row: Row([
                "vector_store_name": physical, "collection_id": c["id"], "embedder": c["embedder"], "dimension": c["dimension"],
                "chunk_size": c["chunk_size"], "chunk_overlap": c["chunk_overlap"], "distance": c["distance"], "status": "serving",
                "operation_id": nil, "validation": nil, "created_at": c["created_at"], "retired_at": nil,
            ] as [String: (any DatabaseValueConvertible)?]))
        }
    }

    /// A comparison side for a managed collection's name, an alias, or a physical collection.
    public func side(_ label: String, _ nameOrAlias: String, embedder: String? = nil) throws(OperationsError) -> ComparisonSide {
        let physical = try CollectionManager.guarded("resolving '\(nameOrAlias)'") { try manager.vectors.resolve(nameOrAlias) }
        let spec: String
        if let embedder { spec = embedder } else { spec = try embedderSpec(ofPhysical: physical) }
        return try ComparisonSide(label: label, collection: physical, embedderSpec: spec)
    }

    /// Searches a managed collection (or an alias, or a physical collection) by text: resolves the name,
    /// embeds with that generation's embedder, searches that physical collection. If the generation is
    /// dropped between the two steps (the alias moved on), it resolves again.
    public func search(_ name: String, text: String, limit: Int = 10, filter: Filter? = nil, withPayload: Bool = true) throws(OperationsError) -> (collection: String, hits: [ScoredPoint]) {
        var lastError: OperationsError?
        for _ in 0..<5 {
            let physical = try CollectionManager.guarded("resolving '\(name)'") { try manager.vectors.resolve(name) }
            let spec = try embedderSpec(ofPhysical: physical)
            let vector = try embed(text, spec: spec)
            do {
                let hits = try manager.vectors.search(physical, SearchRequest(vector: vector, limit: limit, filter: filter, withPayload: withPayload))
                return (physical, hits)
            } catch where error.code == .notFound {
                lastError = OperationsError(.notFound, error.description)
                continue
            } catch {
                throw CollectionManager.classify(error, doing: "searching '\(name)'")
            }
        }
        throw lastError ?? OperationsError(.notFound, "'\(name)' kept moving while it was searched")
    }

    private func embed(_ text: String, spec: String) throws(OperationsError) -> [Float] {
        let embedder: any Embedder
        if let e = embedders.withLock({ $0[spec] }) { embedder = e } else {
            do { embedder = try Embedders.make(spec: spec) } catch { throw OperationsError(.invalidInput, error.description) }
            embedders.withLock { $0[spec] = embedder }
        }
        do {
            return try embedder.embedBlocking([text])[0]
        } catch { throw CollectionManager.classify(error, doing: "embedding the query") }
    }
}

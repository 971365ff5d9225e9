import GRDB
import SwitchyardJSON
import VectorStore

/// How managed documents become points: ids, payload fields, and deletion by document.
public enum PointLayout {
    /// Bits of a point id that hold the chunk index (a document has at most 2^24 chunks).
    public static let chunkBits: UInt64 = 24

    /// The point id of a document's chunk: `doc_id << 24 | chunk_index` — deterministic, so writing
    /// a chunk twice (a redelivered operation) overwrites it instead of duplicating it.
    public static func pointID(documentID: Int64, chunkIndex: Int) -> PointID {
        .number(UInt64(documentID) << chunkBits | UInt64(chunkIndex))
    }

    /// The payload every point carries: `collection_id`, `doc_id`, `chunk_index`, `total_chunks`,
    /// `path`, `text`, and `generation` — the physical collection it was written to, so a reader can
    /// tell which generation a result came from.
    public static func payload(collectionID: String, generation: String, documentID: Int64, chunkIndex: Int, totalChunks: Int,
                               path: String, text: String) -> Payload {
        [
            "generation": .string(generation),
            "collection_id": .string(collectionID),
            "doc_id": .int(documentID),
            "chunk_index": .int(Int64(chunkIndex)),
            "total_chunks": .int(Int64(totalChunks)),
            "path": .string(path),
            "text": .string(text),
        ]
    }

    /// Deletes the points of these documents, by payload filter, 100 documents per call.
    ///
    /// - Parameters:
    ///   - precondition: When given, each call deletes only while it holds (an attempt's
    ///     ``OperationContext/fence``); rollbacks, which run after the attempt ended, pass none.
    /// - Returns: Points deleted.
    @discardableResult
    public static func deletePoints(of documentIDs: [Int64], in collection: String, vectors: any VectorBackend,
                                    precondition: WritePrecondition? = nil,
                                    between: () throws(OperationsError) -> Void = {}) throws(OperationsError) -> Int {
        var deleted = 0
        var start = 0
        while start < documentIDs.count {
            try between()
            let batch = documentIDs[start..<min(start + 100, documentIDs.count)]
            let filter = Filter(must: [.field(key: try! PayloadPath("doc_id"), FieldCondition(match: .any(batch.map { .int($0) })))])
            deleted += try CollectionManager.guarded("deleting points of \(batch.count) documents") {
                if let precondition { return try vectors.delete(collection, filter: filter, precondition: precondition) }
                return try vectors.delete(collection, filter: filter)
            }
            start += 100
        }
        return deleted
    }

    /// Recomputes a collection's counts (and its sources') from its documents.
    package static func recount(_ db: Database, collectionID: String) throws {
        try db.execute(sql: """
            UPDATE collections SET
                document_count = (SELECT count(*) FROM documents WHERE collection_id = ?1 AND status = 'completed'),
                vector_count = (SELECT coalesce(sum(chunk_count), 0) FROM documents WHERE collection_id = ?1 AND status = 'completed'),
                total_size_bytes = (SELECT coalesce(sum(size_bytes), 0) FROM documents WHERE collection_id = ?1 AND status = 'completed'),
                updated_at = ?2
            WHERE id = ?1
            """, arguments: [collectionID, WallClock.now()])
        try db.execute(sql: """
            UPDATE collection_sources SET
                document_count = (SELECT count(*) FROM documents d WHERE d.source_id = collection_sources.id AND d.status = 'completed'),
                size_bytes = (SELECT coalesce(sum(size_bytes), 0) FROM documents d WHERE d.source_id = collection_sources.id AND d.status = 'completed')
            WHERE collection_id = ?
            """, arguments: [collectionID])
    }
}

extension CollectionManager {
    /// Deletes the points of the documents `operationID` registered or resumed and did not finish (best
    /// effort): what a failed or cancelled INDEX/APPEND leaves behind. The documents stay `pending`, so
    /// a later APPEND of their source completes them.
    package func deletePointsOfUnfinishedDocuments(operationID: String) {
        var collectionID: String?
        do {
            let (serving, ids, owner) = try read("listing unfinished documents") { db -> (String?, [Int64], String?) in
                let row = try Row.fetchOne(db, sql: """
                    SELECT c.vector_store_name, c.id FROM operations o JOIN collections c ON c.id = o.collection_id WHERE o.id = ?
                    """, arguments: [operationID])
                let ids = try Int64.fetchAll(db, sql: "SELECT id FROM documents WHERE operation_id = ? AND status IN ('pending', 'processing')",
                                             arguments: [operationID])
                return (row?[0], ids, row?[1])
            }
            collectionID = owner
            guard let serving, !ids.isEmpty else { return }
            guard try Self.guarded("checking \(serving)", { try vectors.collectionExists(serving) }) else { return }
            try PointLayout.deletePoints(of: ids, in: serving, vectors: vectors)
        } catch {
            reportCleanupFailure("deleting the points of documents operation \(operationID) left unfinished", error: error,
                                 collectionID: collectionID, operationID: operationID)
        }
    }
}

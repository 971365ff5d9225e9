import Foundation
import GRDB
import VectorMath

/// A managed collection: what readers know by its name (the alias), the physical collection serving
/// it now, its configuration and its counts.
public struct ManagedCollection: Sendable, Equatable {
    /// A UUID, lower case.
    public var id: String
    /// Unique; also the alias readers search through.
    public var name: String
    public var description: String
    /// Whose quotas it counts against.
    public var owner: String
    /// The embedder spec (`hash-v2`, `hash:dim=512,…`).
    public var embedder: String
    public var dimension: Int
    public var chunkSize: Int
    public var chunkOverlap: Int
    public var distance: Distance
    /// The physical collection the alias points to (`col_<uuid>`).
    public var vectorStoreName: String
    public var status: CollectionStatus
    public var statusMessage: String?
    /// Completed documents.
    public var documentCount: Int
    /// Points of completed documents.
    public var vectorCount: Int
    /// Bytes of completed documents' content.
    public var totalSizeBytes: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// Where its vectors live: `embedded` (the records' store) or `qdrant <url>`.
    public var backend: String

    init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        description = row["description"]
        owner = row["owner"]
        embedder = row["embedder"]
        dimension = row["dimension"]
        chunkSize = row["chunk_size"]
        chunkOverlap = row["chunk_overlap"]
        let d: String = row["distance"]
        distance = Distance(rawValue: d) ?? .cosine
        vectorStoreName = row["vector_store_name"]
        let s: String = row["status"]
        guard let status = CollectionStatus(rawValue: s) else {
            throw OperationsError(.storage, "collection '\(name)' has an unknown status '\(s)'")
        }
        self.status = status
        statusMessage = row["status_message"]
        documentCount = row["document_count"]
        vectorCount = row["vector_count"]
        totalSizeBytes = row["total_size_bytes"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        updatedAt = Date(timeIntervalSince1970: row["updated_at"])
        backend = row["backend"] ?? "embedded"
    }
}

/// A source registered on a collection.
public struct CollectionSource: Sendable, Equatable {
    public var id: Int64
    public var collectionID: String
    /// Absolute, standardised path.
    public var path: String
    public var kind: String
    public var documentCount: Int
    public var sizeBytes: Int
    public var lastIndexedAt: Date?

    init(row: Row) {
        id = row["id"]
        collectionID = row["collection_id"]
        path = row["source_path"]
        kind = row["source_type"]
        documentCount = row["document_count"]
        sizeBytes = row["size_bytes"]
        lastIndexedAt = (row["last_indexed_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

/// A document of a managed collection.
public struct DocumentRecord: Sendable, Equatable {
    /// The database id; every point of the document carries it as `doc_id`.
    public var id: Int64
    public var collectionID: String
    public var sourceID: Int64?
    /// Its id within its source (relative path, record id).
    public var name: String
    public var filePath: String
    public var sizeBytes: Int
    public var contentHash: String
    public var status: DocumentStatus
    public var error: String?
    public var chunkCount: Int

    init(row: Row) {
        id = row["id"]
        collectionID = row["collection_id"]
        sourceID = row["source_id"]
        name = row["name"]
        filePath = row["file_path"]
        sizeBytes = row["size_bytes"]
        contentHash = row["content_hash"]
        status = DocumentStatus(rawValue: row["status"]) ?? .failed
        error = row["error"]
        chunkCount = row["chunk_count"]
    }
}

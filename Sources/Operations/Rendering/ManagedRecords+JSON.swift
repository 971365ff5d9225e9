import Foundation
import SwitchyardJSON
import VectorMath

// JSON and one-line renderings of the managed layer's records, shared by the CLI (`--json`) and the
// server's `/switchyard/v1` API.

private func iso(_ d: Date?) -> JSONValue {
    guard let d else { return .null }
    return .string(ISO8601DateFormatter().string(from: d))
}

extension ManagedCollection {
    public var json: JSONValue {
        [
            "id": .string(id), "name": .string(name), "description": .string(description), "owner": .string(owner),
            "embedder": .string(embedder), "dimension": .int(Int64(dimension)), "chunk_size": .int(Int64(chunkSize)),
            "chunk_overlap": .int(Int64(chunkOverlap)), "distance": .string(distance.rawValue),
            "vector_store_name": .string(vectorStoreName), "status": .string(status.rawValue),
            "status_message": statusMessage.map { .string($0) } ?? .null,
            "document_count": .int(Int64(documentCount)), "vector_count": .int(Int64(vectorCount)),
            "total_size_bytes": .int(Int64(totalSizeBytes)), "created_at": iso(createdAt), "updated_at": iso(updatedAt),
            "backend": .string(backend),
        ]
    }

    public var line: String {
        let message = statusMessage.map { " — \($0)" } ?? ""
        let on = backend == "embedded" ? "" : " on \(backend)"
        return "\(name)  \(status.rawValue)  documents=\(documentCount)  vectors=\(vectorCount)  embedder=\(embedder)  serving=\(vectorStoreName)\(on)\(message)"
    }
}

extension CollectionSource {
    public var json: JSONValue {
        [
            "id": .int(id), "path": .string(path), "type": .string(kind), "document_count": .int(Int64(documentCount)),
            "size_bytes": .int(Int64(sizeBytes)), "last_indexed_at": iso(lastIndexedAt),
        ]
    }
}

extension OperationRecord {
    public var json: JSONValue {
        [
            "id": .string(id), "collection": .string(collectionName), "collection_id": .string(collectionID),
            "user": .string(user), "type": .string(type.rawValue), "status": .string(status.rawValue),
            "task_id": taskID.map { .string($0) } ?? .null, "config": .object(config), "attempts": .int(Int64(attempts)),
            "lease_owner": leaseOwner.map { .string($0) } ?? .null, "lease_expires_at": iso(leaseExpiresAt),
            "cancel_requested": .bool(cancelRequested),
            "progress": ["done": .int(Int64(progressDone)), "total": .int(Int64(progressTotal))],
            "checkpoint": checkpoint.map { .object($0) } ?? .null, "result": result.map { .object($0) } ?? .null,
            "error": error.map { .string($0) } ?? .null, "created_at": iso(createdAt), "started_at": iso(startedAt),
            "completed_at": iso(completedAt),
        ]
    }

    public var line: String {
        let progress = progressTotal > 0 ? "  \(progressDone)/\(progressTotal)" : ""
        let err = error.map { "  error: \($0)" } ?? ""
        return "\(id)  \(type.rawValue)  \(collectionName)  \(status.rawValue)  attempts=\(attempts)\(progress)\(err)"
    }
}

extension AuditEntry {
    public var json: JSONValue {
        [
            "id": .int(id), "collection": .string(collectionName), "collection_id": .string(collectionID),
            "operation_id": operationID.map { .string($0) } ?? .null, "user": .string(user), "action": .string(action),
            "details": .object(details), "created_at": iso(createdAt),
        ]
    }
}

extension ResourceLimits {
    public var json: JSONValue {
        [
            "owner": .string(owner), "max_collections": .int(Int64(maxCollections)), "max_documents": .int(Int64(maxDocuments)),
            "max_storage_bytes": .int(Int64(maxStorageBytes)), "max_operations_per_hour": .int(Int64(maxOperationsPerHour)),
        ]
    }
}

extension ResourceUsage {
    public var json: JSONValue {
        [
            "collections": .int(Int64(collections)), "documents": .int(Int64(documents)), "storage_bytes": .int(Int64(storageBytes)),
            "reserved_bytes": .int(Int64(reservedBytes)), "operations_last_hour": .int(Int64(operationsLastHour)),
        ]
    }
}

extension Reservation {
    public var json: JSONValue {
        [
            "id": .string(id), "owner": .string(owner), "collection_id": .string(collectionID),
            "operation_id": operationID.map { .string($0) } ?? .null, "bytes": .int(Int64(bytes)), "purpose": .string(purpose),
            "created_at": iso(createdAt), "released_at": iso(releasedAt),
        ]
    }
}

/// Metrics as `{name: value}` per attempt.
public func metricsJSON(_ metrics: [OperationMetric]) -> JSONValue {
    var byAttempt: [Int: [String: JSONValue]] = [:]
    for m in metrics { byAttempt[m.attempt, default: [:]][m.name] = .double(m.value) }
    return .array(byAttempt.keys.sorted().map { a in .object(["attempt": .int(Int64(a)), "values": .object(byAttempt[a]!)]) })
}

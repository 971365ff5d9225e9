import Foundation
import GRDB
import SwitchyardJSON

/// An operation as stored: what it does, to which collection, and where it stands.
public struct OperationRecord: Sendable, Equatable {
    /// A UUID, lower case.
    public var id: String
    /// Creation order (the queue's order).
    public var sequence: Int64
    public var collectionID: String
    public var collectionName: String
    /// Who asked for it.
    public var user: String
    public var type: OperationType
    public var status: OperationStatus
    /// The current (or last) attempt's id, written by the worker as its first action.
    public var taskID: String?
    /// The request: source path, embedder, chunking … (never empty).
    public var config: [String: JSONValue]
    /// Attempts started so far.
    public var attempts: Int
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    /// A retried operation waits until then.
    public var runAfter: Date
    public var cancelRequested: Bool
    public var progressDone: Int
    public var progressTotal: Int
    /// Where a multi-stage operation stands (the reindex's checkpoint and staging name).
    public var checkpoint: [String: JSONValue]?
    /// What a finished operation did (documents added, skipped, failed, …).
    public var result: [String: JSONValue]?
    public var error: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var completedAt: Date?

    init(row: Row) throws {
        id = row["id"]
        sequence = row["seq"]
        collectionID = row["collection_id"]
        collectionName = row["collection_name"]
        user = row["user"]
        let t: String = row["type"]
        let s: String = row["status"]
        guard let type = OperationType(rawValue: t), let status = OperationStatus(rawValue: s) else {
            throw OperationsError(.storage, "operation \(row["id"] as String) has an unknown type '\(t)' or status '\(s)'")
        }
        self.type = type
        self.status = status
        taskID = row["task_id"]
        config = Self.object(row["config"]) ?? [:]
        attempts = row["attempts"]
        leaseOwner = row["lease_owner"]
        leaseExpiresAt = (row["lease_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        runAfter = Date(timeIntervalSince1970: row["run_after"])
        cancelRequested = row["cancel_requested"]
        progressDone = row["progress_done"]
        progressTotal = row["progress_total"]
        checkpoint = Self.object(row["checkpoint"])
        result = Self.object(row["result"])
        error = row["error"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        startedAt = (row["started_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        completedAt = (row["completed_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }

    static func object(_ text: String?) -> [String: JSONValue]? {
        guard let text, let v = try? JSONParser.parse(text) else { return nil }
        return v.objectValue
    }
}

/// One row of the audit log.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var collectionID: String
    public var collectionName: String
    public var operationID: String?
    public var user: String
    /// An ``AuditAction`` raw value.
    public var action: String
    /// Sanitised details.
    public var details: [String: JSONValue]
    public var createdAt: Date

    init(row: Row) {
        id = row["id"]
        collectionID = row["collection_id"]
        collectionName = row["collection_name"]
        operationID = row["operation_id"]
        user = row["user"]
        action = row["action"]
        details = OperationRecord.object(row["details"]) ?? [:]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

/// One measured number of one attempt of an operation.
public struct OperationMetric: Sendable, Equatable {
    public var operationID: String
    public var attempt: Int
    /// `duration_seconds`, `cpu_user_seconds`, `stage_embed_seconds`, …
    public var name: String
    public var value: Double
}

/// Per-owner quotas.
public struct ResourceLimits: Sendable, Equatable {
    public var owner: String
    public var maxCollections: Int
    public var maxDocuments: Int
    public var maxStorageBytes: Int
    public var maxOperationsPerHour: Int

    /// The defaults (docs/operations.md): 10 collections, 100,000 documents, 50 GB, 10 operations per hour.
    public static func defaults(owner: String) -> ResourceLimits {
        ResourceLimits(owner: owner, maxCollections: 10, maxDocuments: 100_000,
                       maxStorageBytes: 50_000_000_000, maxOperationsPerHour: 10)
    }

    public init(owner: String, maxCollections: Int, maxDocuments: Int, maxStorageBytes: Int, maxOperationsPerHour: Int) {
        self.owner = owner
        self.maxCollections = maxCollections
        self.maxDocuments = maxDocuments
        self.maxStorageBytes = maxStorageBytes
        self.maxOperationsPerHour = maxOperationsPerHour
    }
}

/// What an owner uses now, set against their limits.
public struct ResourceUsage: Sendable, Equatable {
    public var owner: String
    public var collections: Int
    /// Documents not deleted (pending, completed, failed).
    public var documents: Int
    /// Bytes of completed documents plus active reservations.
    public var storageBytes: Int
    public var reservedBytes: Int
    /// Operations requested in the last hour.
    public var operationsLastHour: Int
}

/// Space set aside for work that will need it (a reindex's staging copy).
public struct Reservation: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var collectionID: String
    public var operationID: String?
    public var bytes: Int
    public var purpose: String
    public var createdAt: Date
    public var releasedAt: Date?

    init(row: Row) {
        id = row["id"]
        owner = row["owner"]
        collectionID = row["collection_id"]
        operationID = row["operation_id"]
        bytes = row["bytes"]
        purpose = row["purpose"]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        releasedAt = (row["released_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

/// A managed collection's state (docs/operations.md).
public enum CollectionStatus: String, Sendable, Codable, CaseIterable {
    /// Created; its first INDEX has not finished.
    case pending
    /// Serving; every operation on it finished well.
    case ready
    /// An operation is running on it.
    case processing
    /// Its INDEX failed: it cannot serve until indexed again or deleted.
    case error
    /// Serving, but some documents failed (the status message says how many).
    case degraded
}

/// What an operation does.
public enum OperationType: String, Sendable, Codable, CaseIterable {
    case index
    case append
    case reindex
    case removeSource = "remove_source"
    case delete
}

/// Where an operation is in its life. `completed`, `failed` and `cancelled` are final.
public enum OperationStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case processing
    case completed
    case failed
    case cancelled

    /// Whether nothing will change this status any more.
    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A document's state within its collection.
public enum DocumentStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case processing
    case completed
    case failed
    case deleted
}

/// Actions recorded in the audit log (docs/operations.md, plus `collection_created`, `operation_cancelled`,
/// `operation_retried` and `staging_removed`).
public enum AuditAction: String, Sendable, CaseIterable {
    case collectionCreated = "collection_created"
    case collectionIndexed = "collection_indexed"
    case documentsAppended = "documents_appended"
    case collectionReindexed = "collection_reindexed"
    case sourceRemoved = "source_removed"
    case collectionDeleted = "collection_deleted"
    case aliasSwitched = "alias_switched"
    case reindexRolledBack = "reindex_rolled_back"
    case operationCancelled = "operation_cancelled"
    case operationRetried = "operation_retried"
    case stagingRemoved = "staging_removed"
    /// Recovery finished or undid an alias change left half done (a crash, or the vector backend unreachable).
    case aliasIntentRecovered = "alias_intent_recovered"
    /// A rollback or cleanup step failed (a staging collection not dropped, points not deleted …):
    /// what was left behind and why.
    case cleanupFailed = "cleanup_failed"
    /// A worker took over an operation whose previous attempt lost its lease (crashed or hung).
    case attemptTakenOver = "attempt_taken_over"
    case indexFailed = "index_failed"
    case appendFailed = "append_failed"
    case reindexFailed = "reindex_failed"
    case removeSourceFailed = "remove_source_failed"
    case deleteFailed = "delete_failed"

    /// `<type>_failed` for an operation type.
    public static func failed(_ type: OperationType) -> AuditAction {
        switch type {
        case .index: .indexFailed
        case .append: .appendFailed
        case .reindex: .reindexFailed
        case .removeSource: .removeSourceFailed
        case .delete: .deleteFailed
        }
    }
}

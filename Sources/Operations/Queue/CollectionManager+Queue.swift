import Foundation
import GRDB
import SwitchyardJSON
import VectorStore

/// An operation a worker has claimed: the record as claimed and the attempt's task id.
public struct ClaimedOperation: Sendable {
    public var operation: OperationRecord
    public var taskID: String
    /// The operation's collection as of the claim (`nil` when it no longer exists).
    public var collection: ManagedCollection?

    public init(operation: OperationRecord, taskID: String, collection: ManagedCollection? = nil) {
        self.operation = operation
        self.taskID = taskID
        self.collection = collection
    }
}

/// What a recovery pass did.
public struct RecoveryReport: Sendable, Equatable {
    /// Operations failed because their worker died and no attempt is left.
    public var failedWorkerLost: [String] = []
    /// Processing operations that had been asked to cancel and whose worker died.
    public var cancelled: [String] = []
    /// Reservations of ended operations released.
    public var releasedReservations: Int = 0

    public var isEmpty: Bool { failedWorkerLost.isEmpty && cancelled.isEmpty && releasedReservations == 0 }
}

// MARK: - The queue (acks-late)

extension CollectionManager {
    /// Claims the oldest runnable operation in one transaction: pending (and due), or processing with
    /// an expired lease and attempts left. Writes the new task id, the lease, the attempt count and
    /// `started_at`, and marks the collection `processing`.
    ///
    /// - Parameters:
    ///   - worker: The lease owner's name.
    ///   - lease: How long the lease lasts before another worker may take over.
    ///   - maxAttempts: Attempts allowed in all (1 + retries).
    ///   - operationID: Claim only this operation (a foreground run); `nil` for any.
    /// - Returns: The claim, or `nil` when nothing is runnable.
    ///   - excluding: Operations this worker is running already (never claimed twice by one process).
    public func claim(worker: String, lease: Duration, maxAttempts: Int, operationID: String? = nil,
                      excluding: [String] = []) throws(OperationsError) -> ClaimedOperation? {
        try write("claiming an operation") { db in
            let now = WallClock.now()
            var sql = """
                SELECT * FROM operations
                WHERE ((status = 'pending' AND run_after <= ?) OR (status = 'processing' AND lease_expires_at < ? AND attempts < ?))
                """
            var args: StatementArguments = [now, now, maxAttempts]
            // Only operations on this worker's backend (a collection already gone is on none: any worker ends it).
            sql += " AND coalesce((SELECT backend FROM collections WHERE id = operations.collection_id), ?) = ?"
            args += [backend, backend]
            if let operationID { sql += " AND id = ?"; args += [operationID] }
            if !excluding.isEmpty {
                sql += " AND id NOT IN (\(excluding.map { _ in "?" }.joined(separator: ", ")))"
                args += StatementArguments(excluding)
            }
            sql += " ORDER BY seq LIMIT 1"
            guard let row = try Row.fetchOne(db, sql: sql, arguments: args) else { return nil }
            let op = try OperationRecord(row: row)
            let takenOver = op.status == .processing
            let previousOwner: String? = row["lease_owner"]
            let taskID = UUID().uuidString.lowercased()
            try db.execute(sql: """
                UPDATE operations SET task_id = ?, status = 'processing', lease_owner = ?, lease_expires_at = ?,
                    attempts = attempts + 1, started_at = coalesce(started_at, ?)
                WHERE id = ?
                """, arguments: [taskID, worker, now + lease.seconds, now, op.id])
            try db.execute(sql: """
                UPDATE collections SET status = 'processing', status_message = ?, updated_at = ? WHERE id = ?
                """, arguments: ["\(op.type.rawValue) operation \(op.id) running", now, op.collectionID])
            let collection = try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE id = ?", arguments: [op.collectionID]) != nil
                ? try Self.collection(db, id: op.collectionID) : nil
            if takenOver {
                // The previous attempt's worker crashed or hung past its lease: a trace in the audit trail.
                try Self.audit(db, collectionID: op.collectionID, collectionName: op.collectionName, operationID: op.id, user: worker,
                               action: .attemptTakenOver, details: [
                                   "attempt": .int(Int64(op.attempts + 1)), "previous_owner": previousOwner.map { .string($0) } ?? .null,
                                   "previous_task": op.taskID.map { .string($0) } ?? .null,
                               ])
            }
            return ClaimedOperation(operation: try Self.operation(db, idOrPrefix: op.id), taskID: taskID, collection: collection)
        }
    }

    /// Extends a claimed operation's lease.
    ///
    /// - Returns: Whether this task still owns the operation, and whether a cancel was requested.
    public func renewLease(operationID: String, taskID: String, lease: Duration) throws(OperationsError) -> (owned: Bool, cancelRequested: Bool) {
        try write("renewing the lease of \(operationID)") { db in
            try db.execute(sql: """
                UPDATE operations SET lease_expires_at = ? WHERE id = ? AND task_id = ? AND status = 'processing'
                """, arguments: [WallClock.now() + lease.seconds, operationID, taskID])
            guard db.changesCount == 1 else { return (false, false) }
            let cancel = try Bool.fetchOne(db, sql: "SELECT cancel_requested FROM operations WHERE id = ?", arguments: [operationID]) ?? false
            return (true, cancel)
        }
    }

    /// Runs `body` in a transaction only if `taskID` still owns the operation (fencing: a worker that
    /// lost its lease cannot write over the one that took over).
    ///
    /// - Throws: ``OperationsError`` `leaseLost` when it does not.
    package func fenced<T>(_ what: @autoclosure () -> String, operationID: String, taskID: String, _ body: (Database) throws -> T) throws(OperationsError) -> T {
        try write(what()) { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM operations WHERE id = ? AND task_id = ? AND status = 'processing'",
                                   arguments: [operationID, taskID]) != nil else {
                throw OperationsError(.leaseLost, "operation \(operationID): this attempt (\(taskID)) no longer owns it")
            }
            return try body(db)
        }
    }

    /// Puts a claimed operation back in the queue after a transient failure, due after `delay`.
    func scheduleRetry(_ claim: ClaimedOperation, error: OperationsError, delay: Duration, metrics: [String: Double]) throws(OperationsError) {
        let op = claim.operation
        try fenced("scheduling a retry of \(op.id)", operationID: op.id, taskID: claim.taskID) { db in
            try db.execute(sql: """
                UPDATE operations SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, run_after = ?, error = ?
                WHERE id = ?
                """, arguments: [WallClock.now() + delay.seconds, "attempt \(op.attempts) failed, retrying: \(error.description)", op.id])
            try Self.recordMetrics(db, operationID: op.id, attempt: op.attempts, metrics)
            try Self.audit(db, collectionID: op.collectionID, collectionName: op.collectionName, operationID: op.id, user: op.user,
                           action: .operationRetried, details: [
                               "type": .string(op.type.rawValue), "attempt": .int(Int64(op.attempts)),
                               "error": .string(error.description), "delay_seconds": .double(delay.seconds),
                           ])
        }
    }

    /// Writes a claimed operation's final status (fenced), the collection's status, the audit row and
    /// the attempt's metrics, in one transaction.
    func complete(_ claim: ClaimedOperation, status: OperationStatus, error: String?, result: [String: JSONValue]?,
                  metrics: [String: Double], extra: ((Database) throws -> Void)? = nil) throws(OperationsError) {
        let op = claim.operation
        try fenced("finishing operation \(op.id)", operationID: op.id, taskID: claim.taskID) { db in
            try extra?(db)
            try Self.recordMetrics(db, operationID: op.id, attempt: op.attempts, metrics)
            try Self.finish(db, op, status: status, error: error, user: op.user, result: result)
        }
    }

    /// Writes an operation's final status, then the collection status and audit row docs/operations.md asks for,
    /// and releases the operation's reservations. The caller holds the transaction.
    static func finish(_ db: Database, _ op: OperationRecord, status: OperationStatus, error: String?, user: String,
                       result: [String: JSONValue]? = nil) throws {
        precondition(status.isFinal)
        let (status, error, result) = try afterSwitch(db, op, status: status, error: error, result: result)
        let now = WallClock.now()
        let message = status == .completed ? nil : (error ?? "\(op.type.rawValue) \(status.rawValue)")
        try db.execute(sql: """
            UPDATE operations SET status = ?, error = ?, result = coalesce(?, result), completed_at = ?,
                lease_owner = NULL, lease_expires_at = NULL
            WHERE id = ?
            """, arguments: [status.rawValue, message, result.map { JSONValue.object($0).jsonText }, now, op.id])
        try db.execute(sql: "UPDATE reservations SET released_at = ? WHERE operation_id = ? AND released_at IS NULL", arguments: [now, op.id])
        // A DELETE removed the collection's record: nothing left to update or audit on it.
        guard let c = try? collection(db, id: op.collectionID) else { return }
        let touched = op.startedAt != nil || status != .cancelled
        let failedDocuments = Int(result?["failed_documents"]?.numberValue ?? 0)
        let (next, action) = outcome(of: op, status: status, message: message, collection: c, failedDocuments: failedDocuments, touched: touched)
        if touched || next.0 != c.status {
            try db.execute(sql: "UPDATE collections SET status = ?, status_message = ?, updated_at = ? WHERE id = ?",
                           arguments: [next.0.rawValue, next.1, now, c.id])
        }
        if let action {
            var details: [String: JSONValue] = ["type": .string(op.type.rawValue), "attempts": .int(Int64(op.attempts))]
            if let result { details["result"] = .object(result) }
            if let message { details["error"] = .string(message) }
            try audit(db, collection: c, operationID: op.id, user: user, action: action, details: details)
        }
    }

    /// A REINDEX that fails at or after its switch completed: the new collection serves already, and what
    /// failed after it (cleanup, a lost worker) does not undo it. Left-over generations are dropped by
    /// workers' housekeeping.
    private static func afterSwitch(_ db: Database, _ op: OperationRecord, status: OperationStatus, error: String?,
                                    result: [String: JSONValue]?) throws -> (OperationStatus, String?, [String: JSONValue]?) {
        guard status == .failed, op.type == .reindex,
              let stage = try String.fetchOne(db, sql: "SELECT json_extract(checkpoint, '$.stage') FROM operations WHERE id = ?", arguments: [op.id]),
              stage == "switch" || stage == "cleanup"
        else { return (status, error, result) }
        var r = result ?? [:]
        r["after_switch"] = .string(error ?? "interrupted after the switch")
        return (.completed, nil, r)
    }

    /// The collection's next status (and message) and the audit action for an operation's final status.
    /// `touched`: the operation ran, or ended other than by a cancel before it started.
    private static func outcome(of op: OperationRecord, status: OperationStatus, message: String?, collection c: ManagedCollection,
                                failedDocuments: Int, touched: Bool) -> ((CollectionStatus, String?), AuditAction?) {
        var next: (CollectionStatus, String?) = (c.status, c.statusMessage)
        var action: AuditAction?
        switch (status, op.type) {
        case (.completed, .index), (.completed, .append):
            next = failedDocuments > 0 ? (.degraded, "\(failedDocuments) documents could not be indexed (operation \(op.id))") : (.ready, nil)
            action = op.type == .index ? .collectionIndexed : .documentsAppended
        case (.completed, .removeSource):
            next = (.ready, nil)
            action = .sourceRemoved
        case (.completed, .reindex):
            next = (.ready, nil)  // the switch wrote the new configuration; a resumed attempt still ends ready
        case (.completed, _):
            break  // delete removes the records
        case (.failed, .index):
            next = (.error, "index failed: \(message ?? "")")
        case (.failed, .delete):
            next = (.error, "delete failed: \(message ?? ""); delete it again")
        case (.failed, .append), (.failed, .removeSource):
            let failed = failedDocuments > 0 ? "; \(failedDocuments) documents failed" : ""
            next = (.degraded, "\(op.type.rawValue) failed: \(message ?? "")\(failed)")
        case (.failed, .reindex):
            next = (.ready, "reindex failed; still serving \(c.vectorStoreName): \(message ?? "")")
        case (.cancelled, .index) where !touched:
            // An INDEX cancelled before it ran leaves nothing indexed: the collection cannot stay
            // `pending` (no operation would ever finish it).
            action = .operationCancelled
            next = (.error, "index cancelled before it started; index it again or delete it")
        case (.cancelled, _):
            action = .operationCancelled
            if touched {
                switch op.type {
                case .index: next = (.error, "index cancelled before it finished")
                case .reindex: next = (.ready, "reindex cancelled; still serving \(c.vectorStoreName)")
                default: next = (.ready, "\(op.type.rawValue) cancelled: \(message ?? "")")
                }
            }
        default: break
        }
        if status == .failed { action = .failed(op.type) }
        return (next, action)
    }

    static func recordMetrics(_ db: Database, operationID: String, attempt: Int, _ metrics: [String: Double]) throws {
        let now = WallClock.now()
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) where value.isFinite {
            try db.execute(sql: """
                INSERT OR REPLACE INTO operation_metrics (operation_id, attempt, name, value, recorded_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [operationID, attempt, name, value, now])
        }
    }

    /// Ends what crashed workers left behind: processing operations whose lease expired with no
    /// attempt left are failed ("worker lost"); those asked to cancel are cancelled; reservations of
    /// ended operations are released. Safe to run at any time from any process.
    ///
    /// - Parameter maxAttempts: Attempts allowed in all (as the workers use).
    /// - Parameter cleanup: Called (outside the transaction) for each ended operation, to roll back
    ///   partial work (e.g. remove points of documents not finished).
    @discardableResult
    public func recover(maxAttempts: Int, cleanup: ((OperationRecord) -> Void)? = nil) throws(OperationsError) -> RecoveryReport {
        var ended: [OperationRecord] = []
        let report = try write("recovering interrupted operations") { db in
            var report = RecoveryReport()
            let now = WallClock.now()
            // Only operations of this manager's backend: their rollback acts on that backend's collections.
            let stale = try Row.fetchAll(db, sql: """
                SELECT * FROM operations WHERE status = 'processing' AND lease_expires_at < ? AND (attempts >= ? OR cancel_requested = 1)
                  AND coalesce((SELECT backend FROM collections WHERE id = operations.collection_id), ?) = ?
                """, arguments: [now, maxAttempts, backend, backend]).map { try OperationRecord(row: $0) }
            for op in stale {
                if op.cancelRequested {
                    try Self.finish(db, op, status: .cancelled, error: "cancelled (its worker stopped before it could finish)", user: op.user)
                    report.cancelled.append(op.id)
                } else {
                    try Self.recordMetrics(db, operationID: op.id, attempt: op.attempts, [
                        "success": 0, "duration_seconds": max(0, now - (op.startedAt?.timeIntervalSince1970 ?? now)),
                    ])
                    try Self.finish(db, op, status: .failed, error: "worker lost: the lease of attempt \(op.attempts) of \(maxAttempts) expired", user: op.user,
                                    result: ["error_type": "worker_lost"])
                    report.failedWorkerLost.append(op.id)
                }
                ended.append(op)
            }
            try db.execute(sql: """
                UPDATE reservations SET released_at = ? WHERE released_at IS NULL AND operation_id IS NOT NULL
                  AND operation_id IN (SELECT id FROM operations WHERE status IN ('completed', 'failed', 'cancelled'))
                """, arguments: [now])
            report.releasedReservations = db.changesCount
            return report
        }
        for op in ended { cleanup?(op) }
        return report
    }
}

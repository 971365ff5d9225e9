import Foundation
import GRDB
import Logging
import SwitchyardJSON
import Telemetry

extension CollectionManager {
    /// Leaves a trace of a rollback or cleanup step that failed: an error in the log and a
    /// `cleanup_failed` row in the collection's audit trail naming what was left behind and why.
    ///
    /// Best effort itself: when the audit row cannot be written either, that is logged too.
    ///
    /// - Parameters:
    ///   - step: What was being done ("dropping staging collection staging_col_…").
    ///   - error: Why it failed.
    ///   - collectionID: The managed collection, when known.
    ///   - operationID: The operation whose rollback or cleanup this was, when any.
    ///   - logger: The subsystem's logger.
    package func reportCleanupFailure(_ step: String, error: any Error, collectionID: String?, operationID: String?,
                                      logger: Logger = Log.worker) {
        var metadata: Logger.Metadata = ["step": "\(step)", "error": "\(error)"]
        if let operationID { metadata["operation"] = "\(operationID)" }
        if let collectionID { metadata["collection"] = "\(collectionID)" }
        logger.error("cleanup step failed; it is left for housekeeping or an operator", metadata: metadata)
        guard let collectionID else { return }
        do {
            try write("auditing a failed cleanup step") { db in
                guard let c = try Row.fetchOne(db, sql: "SELECT name FROM collections WHERE id = ?", arguments: [collectionID]) else { return }
                // Housekeeping retries a failing step every lease period: one audit row a day per step is
                // the trace; the log has every attempt.
                let recent = try Row.fetchOne(db, sql: """
                    SELECT 1 FROM collection_audit_log WHERE collection_id = ? AND action = ? AND created_at > ?
                      AND json_extract(details, '$.step') = ?
                    """, arguments: [collectionID, AuditAction.cleanupFailed.rawValue, WallClock.now() - 86_400, step])
                guard recent == nil else { return }
                try Self.audit(db, collectionID: collectionID, collectionName: c[0], operationID: operationID, user: "worker",
                               action: .cleanupFailed, details: ["step": .string(step), "error": .string("\(error)")])
            }
        } catch let auditError {
            logger.error("could not audit the failed cleanup step", metadata: ["step": "\(step)", "error": "\(auditError)"])
        }
    }
}

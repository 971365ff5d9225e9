import Foundation
import GRDB
import SwitchyardJSON
import VectorStore

/// REMOVE_SOURCE: deletes the source's points by payload filter, 100 documents per call, then — in
/// one transaction with the final status — marks its documents `deleted`, unregisters the source and
/// recomputes the counts. Deleting is idempotent, so a redelivered operation simply finishes.
struct RemoveSourceHandler: OperationHandler {
    func run(_ context: OperationContext) throws -> HandlerOutcome {
        let op = context.operation
        guard let c = context.collection else {
            throw OperationsError(.invalidInput, "collection '\(op.collectionName)' no longer exists")
        }
        guard let path = op.config["source"]?.stringValue else {
            throw OperationsError(.invalidInput, "operation \(op.id) has no source in its config")
        }
        let manager = context.manager
        let (sourceID, ids): (Int64?, [Int64]) = try manager.read("listing documents of \(path)") { db in
            guard let sid = try Int64.fetchOne(db, sql: "SELECT id FROM collection_sources WHERE collection_id = ? AND source_path = ?",
                                               arguments: [c.id, path]) else { return (nil, []) }
            // All of the source's documents: those a previous attempt already marked deleted may
            // still have points.
            return (sid, try Int64.fetchAll(db, sql: "SELECT id FROM documents WHERE source_id = ? ORDER BY id", arguments: [sid]))
        }
        guard let sourceID else {
            throw OperationsError(.notFound, "source '\(path)' is no longer registered on collection '\(c.name)'")
        }
        // The documents go first, so no `completed` document is ever left without its points; the
        // source stays registered until the end, so a failed removal can simply be run again.
        try manager.fenced("marking the documents of \(path) deleted", operationID: op.id, taskID: context.taskID) { db in
            try db.execute(sql: "UPDATE documents SET status = 'deleted', updated_at = ? WHERE source_id = ? AND status <> 'deleted'",
                           arguments: [WallClock.now(), sourceID])
            try PointLayout.recount(db, collectionID: c.id)
        }
        let total = (ids.count + 99) / 100
        try context.reportProgress(done: 0, total: total)
        var deleted = 0
        var batch = 0
        var start = 0
        while start < ids.count {
            try context.ensureActive()
            let slice = Array(ids[start..<min(start + 100, ids.count)])
            deleted += try context.timed("delete") { () throws(OperationsError) in
                try PointLayout.deletePoints(of: slice, in: c.vectorStoreName, vectors: manager.vectors, precondition: context.fence)
            }
            try context.faults.hit("remove.batch")
            context.sampleMemory()
            batch += 1
            start += 100
            try context.reportProgress(done: batch, total: total)
        }
        context.count(documents: ids.count)
        let collectionID = c.id
        return HandlerOutcome(result: [
            "source": .string(path), "documents_removed": .int(Int64(ids.count)), "points_deleted": .int(Int64(deleted)),
        ]) { db in
            try db.execute(sql: "UPDATE documents SET source_id = NULL WHERE source_id = ?", arguments: [sourceID])
            try db.execute(sql: "DELETE FROM collection_sources WHERE id = ?", arguments: [sourceID])
            try PointLayout.recount(db, collectionID: collectionID)
        }
    }
}

/// DELETE: drops the alias and every physical collection of the managed collection (the serving one
/// and any `staging_`/kept generation named after it), then removes its records in the transaction
/// of the final status. Its operations and audit log stay as history.
struct DeleteHandler: OperationHandler {
    func run(_ context: OperationContext) throws -> HandlerOutcome {
        let op = context.operation
        guard let c = context.collection else {
            return HandlerOutcome(result: ["already_deleted": .bool(true)])
        }
        let vectors = context.manager.vectors
        try context.ensureActive()  // the last point where a DELETE can be cancelled
        let dropped: [String] = try CollectionManager.guarded("dropping the collections of '\(c.name)'") {
            if try vectors.aliases().contains(where: { $0.alias == c.name }) {
                try vectors.updateAliases([.delete(alias: c.name)])
            }
            // Every generation: the first (`col_<id>`), reindexed ones (`staging_col_<id>_…`), the serving one.
            let first = "col_\(c.id)"
            let mine = try vectors.collections().map(\.name).filter {
                $0 == c.vectorStoreName || $0 == first || $0.hasPrefix("staging_\(first)") || $0.hasPrefix("\(first)_")
            }
            for name in mine { try vectors.dropCollection(name) }
            return mine
        }
        let id = c.id
        let name = c.name
        let user = op.user
        let opID = op.id
        let counts: [String: JSONValue] = [
            "documents": .int(Int64(c.documentCount)), "vectors": .int(Int64(c.vectorCount)),
            "dropped": .array(dropped.map { .string($0) }),
        ]
        return HandlerOutcome(result: counts) { db in
            try CollectionManager.audit(db, collectionID: id, collectionName: name, operationID: opID, user: user,
                                        action: .collectionDeleted, details: counts)
            try db.execute(sql: "UPDATE reservations SET released_at = ? WHERE collection_id = ? AND released_at IS NULL", arguments: [WallClock.now(), id])
            try db.execute(sql: "DELETE FROM documents WHERE collection_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM collection_sources WHERE collection_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM collections WHERE id = ?", arguments: [id])
        }
    }
}

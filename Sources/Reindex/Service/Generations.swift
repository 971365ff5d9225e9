import Foundation
import Logging
import Operations
import SwitchyardJSON
import Telemetry
import VectorMath
import VectorStore

/// Moving between generations: the switch, cleanup and housekeeping, through the records' APIs
/// (``CollectionManager``) and the vector backend (``CollectionManager/vectors``) only.
enum Generations {
    /// The switch, as intent → flip → commit (docs/reindex.md): the intent is recorded (fenced), the alias moves on
    /// the backend in one atomic alias batch, and the records commit (fenced) with the checkpoint. An attempt that
    /// finds the intent of an earlier one reads the alias and finishes it.
    /// - Returns: The whole switch's duration and the alias flip's (the backend's alias batch), in seconds.
    static func switchTo(_ plan: SwitchPlan, context: OperationContext, collection c: ManagedCollection) throws(OperationsError) -> (Double, Double) {
        let manager = context.manager
        let op = context.operation
        let start = ContinuousClock.now
        let intent = try manager.recordSwitchIntent(plan, collection: c, operationID: op.id, taskID: context.taskID)
        try context.faults.hit("reindex.switch.intent")
        // Where the alias is now decides: already moved (an earlier attempt flipped, then stopped), where it was,
        // or elsewhere (someone else moved it: the switch must not silently take it back).
        let now = try manager.aliasTarget(c.name)
        var flip = 0.0
        if now != plan.staging {
            guard now == intent.from || now == nil else {
                try manager.discardIntent(intent, reason: "alias '\(c.name)' points at '\(now ?? "")', not at '\(intent.from ?? "")'", user: op.user)
                throw OperationsError(.conflict, "alias '\(c.name)' was moved to '\(now ?? "")' by someone else during the reindex; the switch to '\(plan.staging)' is abandoned")
            }
            try context.ensureActive()
            let flipStart = ContinuousClock.now
            try CollectionManager.guarded("moving alias '\(c.name)' to '\(plan.staging)'") {
                try manager.vectors.updateAliases([.create(alias: c.name, collection: plan.staging)])
            }
            flip = (ContinuousClock.now - flipStart).seconds
        }
        try context.faults.hit("reindex.switch.flip")
        try manager.commitSwitch(intent, taskID: context.taskID, user: op.user)
        return ((ContinuousClock.now - start).seconds, flip)
    }

    /// Drops retired generations beyond the newest `keepGenerations` whose grace period is over (without
    /// waiting: later ones are dropped by workers' housekeeping), once no search in this process uses them,
    /// never a serving collection, one another record references, one any alias on the backend points at
    /// (the managed layer's or anyone's), or a system (`_`) collection. Each drop is intent → drop → commit, so a
    /// rollback to the same generation cannot run at the same time.
    ///
    /// A reindex passes its `context`: each drop then runs at the worker's priority (``OperationContext/urgently(_:)``),
    /// not the niced one of its thread. Readers of this process that find the drop's commit wait until memory
    /// reflects it (the store's refresh gate), and a niced thread got a core last, after those readers' searches.
    /// - Returns: Warnings (a drop that failed or was skipped); never throws: the switch is done.
    static func cleanUp(_ manager: CollectionManager, collectionID: String, settings: ReindexSettings, exceptOperation: String?,
                        context: OperationContext? = nil) -> [String] {
        var warnings: [String] = []
        let retired: [Generation]
        do { retired = try manager.keptGenerations(collectionID: collectionID) } catch {
            Log.reindex.error("could not list retired generations", metadata: ["collection": "\(collectionID)", "error": "\(error)"])
            return ["could not list generations: \(error)"]
        }
        for g in retired.dropFirst(max(0, settings.keepGenerations)) {
            // A generation whose collection is gone counts as empty (the shortest grace period).
            let vectors = (try? manager.vectors.count(g.vectorStoreName, filter: nil)) ?? 0
            let dropAt = (g.retiredAt?.timeIntervalSince1970 ?? 0) + settings.grace(vectors: vectors)
            guard WallClock.now() >= dropAt else { continue }
            if let reason = unsafeToDrop(manager, g.vectorStoreName, exceptOperation: exceptOperation) {
                warnings.append("kept \(g.vectorStoreName): \(reason)")
                continue
            }
            do {
                let (intent, refused) = try manager.recordDropIntent(g.vectorStoreName, collectionID: collectionID)
                guard let intent else {
                    warnings.append("kept \(g.vectorStoreName): \(refused ?? "refused")")
                    continue
                }
                let drainUntil = WallClock.now() + settings.searchDrainTimeout
                // A collection already gone has no searches to wait for.
                while ((try? manager.vectors.activeSearches(g.vectorStoreName)) ?? 0) > 0 && WallClock.now() < drainUntil {
                    Thread.sleep(forTimeInterval: 0.01)
                }
                // Checked again right before the drop: Qdrant drops the aliases of a collection it deletes.
                if let reason = aliasesPointing(manager, at: g.vectorStoreName) {
                    try manager.discardIntent(intent, reason: reason, user: "worker")
                    warnings.append("kept \(g.vectorStoreName): \(reason)")
                    continue
                }
                let drop = { () throws(OperationsError) in
                    try CollectionManager.guarded("dropping \(g.vectorStoreName)") {
                        if try manager.vectors.collectionExists(g.vectorStoreName) { try manager.vectors.dropCollection(g.vectorStoreName) }
                    }
                }
                if let context { try context.urgently(drop) } else { try drop() }
                try manager.commitDrop(intent)
            } catch {
                warnings.append("could not drop \(g.vectorStoreName): \(error)")
                manager.reportCleanupFailure("dropping retired generation \(g.vectorStoreName) (housekeeping tries again)", error: error,
                                             collectionID: collectionID, operationID: exceptOperation, logger: Log.reindex)
            }
        }
        return warnings
    }

    /// Housekeeping: retired generations of every collection whose grace period has ended.
    static func dropExpiredGenerations(_ manager: CollectionManager, settings: ReindexSettings) {
        let ids: [String]
        do { ids = try manager.collectionsWithKeptGenerations() } catch {
            Log.reindex.error("housekeeping could not list kept generations", metadata: ["error": "\(error)"])
            return
        }
        for id in ids { _ = cleanUp(manager, collectionID: id, settings: settings, exceptOperation: nil) }
    }

    /// Housekeeping: the staging collection and progress rows of reindexes that ended before their
    /// switch (cancelled while waiting for a retry, failed with their rollback interrupted).
    static func removeLeftoversOfEndedReindexes(_ manager: CollectionManager) {
        let ended: [EndedReindex]
        do { ended = try manager.endedReindexesWithLeftovers() } catch {
            Log.reindex.error("housekeeping could not list ended reindexes", metadata: ["error": "\(error)"])
            return
        }
        for e in ended {
            let cp = ReindexCheckpoint(e.checkpoint)
            if let staging = cp.staging, (cp.stage.map { $0 < .switch } ?? true), unsafeToDrop(manager, staging) == nil {
                do {
                    if try !manager.isLiveGeneration(staging) {
                        try CollectionManager.guarded("dropping \(staging)") {
                            if try manager.vectors.collectionExists(staging) { try manager.vectors.dropCollection(staging) }
                        }
                    }
                } catch {
                    manager.reportCleanupFailure("dropping staging collection \(staging) left by reindex \(e.operationID)", error: error,
                                                 collectionID: e.collectionID, operationID: e.operationID, logger: Log.reindex)
                }
            }
            do { try manager.clearReindexProgress(operationID: e.operationID) } catch {
                manager.reportCleanupFailure("clearing the resume rows of reindex \(e.operationID)", error: error,
                                             collectionID: e.collectionID, operationID: e.operationID, logger: Log.reindex)
            }
        }
    }

    /// The aliases on the backend that point at `name` (the managed layer's or anyone else's), as a reason to keep
    /// it; `nil` when there are none. When they cannot be read, the collection is kept.
    static func aliasesPointing(_ manager: CollectionManager, at name: String) -> String? {
        do {
            let pointing = try manager.vectors.aliases().filter { $0.collection == name }.map(\.alias)
            return pointing.isEmpty ? nil : "aliases point at it (\(pointing.joined(separator: ", ")))"
        } catch {
            return "the aliases could not be read (\(error))"
        }
    }

    /// Why a physical collection must not be dropped, or `nil` when it may be.
    static func unsafeToDrop(_ manager: CollectionManager, _ name: String, exceptOperation: String? = nil) -> String? {
        if name.hasPrefix("_") { return "a system collection" }
        if let reason = aliasesPointing(manager, at: name) { return reason }
        // When a check cannot be made, the collection is kept: dropping what may serve is the worse error.
        do {
            return try manager.isReferenced(name, exceptOperation: exceptOperation) ? "a collection or an active operation references it" : nil
        } catch {
            Log.reindex.warning("could not check whether a collection is still used; keeping it", metadata: ["collection": "\(name)", "error": "\(error)"])
            return "its references could not be checked (\(error))"
        }
    }

    /// The time in a staging name (`staging_col_<id>_<yyyyMMdd_HHmmss>[_<suffix>]`), if it has one.
    static func stagingTime(_ name: String) -> Date? {
        var parts = name.split(separator: "_")
        if parts.count >= 6 { parts = Array(parts.prefix(5)) }  // drop the random suffix
        guard parts.count >= 5 else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd_HHmmss"
        return f.date(from: "\(parts[parts.count - 2])_\(parts[parts.count - 1])")
    }

    /// Staging collections (`staging_*`) that no collection, generation or active operation references,
    /// older than `minimumAge` seconds: left by a crash that no operation will resume. Each removal is
    /// audited on the collection the name belongs to.
    @discardableResult
    static func removeOrphanedStaging(_ manager: CollectionManager, minimumAge: Double) throws(OperationsError) -> [String] {
        // Only `staging_col_<id>_…` of collection ids this store owns on this backend: a shared Qdrant server
        // holds other stores' (and other people's) collections too.
        var candidates: [String] = []
        for name in try CollectionManager.guarded("listing collections", { try manager.vectors.collectionNames() }) where name.hasPrefix("staging_col_") {
            let parts = name.split(separator: "_")
            guard parts.count >= 3, try manager.ownsCollectionID(String(parts[2])) else { continue }
            let made: Date
            if let d = stagingTime(name) { made = d } else {
                guard let info = try? manager.vectors.collectionInfo(name) else { continue }
                made = info.createdAt
            }
            if WallClock.now() - made.timeIntervalSince1970 >= minimumAge { candidates.append(name) }
        }
        var removed: [String] = []
        for name in candidates {
            guard try !manager.isLiveGeneration(name), unsafeToDrop(manager, name) == nil else { continue }
            // staging_col_<collection id>_<time>
            let parts = name.split(separator: "_")
            let owner = parts.count >= 3 && parts[1] == "col" ? String(parts[2]) : nil
            do {
                try CollectionManager.guarded("dropping orphaned \(name)") { try manager.vectors.dropCollection(name) }
            } catch {
                manager.reportCleanupFailure("dropping orphaned staging collection \(name)", error: error,
                                             collectionID: owner, operationID: nil, logger: Log.reindex)
                continue
            }
            removed.append(name)
            Log.reindex.notice("removed an orphaned staging collection", metadata: ["staging": "\(name)"])
            if let owner {
                do { try manager.auditStagingRemoved(collectionID: owner, staging: name, reason: "orphaned (no operation references it)") } catch {
                    Log.reindex.error("could not audit the removal of an orphaned staging collection", metadata: ["staging": "\(name)", "error": "\(error)"])
                }
            }
        }
        return removed
    }
}

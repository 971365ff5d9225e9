import Logging
import Telemetry
import Embedding
import Foundation
import Operations
import SwitchyardJSON
import VectorMath
import VectorStore

/// REINDEX: blue-green rebuild of a managed collection in six checkpoints (docs/reindex.md). Each checkpoint
/// is written (fenced) on the operation before the next stage begins, so a redelivered attempt resumes
/// where the last one stopped; any failure before the switch drops the staging collection and leaves
/// the old one serving.
public struct ReindexHandler: OperationHandler {
    public let settings: ReindexSettings

    public init(settings: ReindexSettings = ReindexSettings()) {
        self.settings = settings
    }

    public func run(_ context: OperationContext) throws -> HandlerOutcome {
        let run = try ReindexRun(handler: self, context: context)
        var cp = ReindexCheckpoint(try context.manager.operation(context.operation.id).checkpoint)
        // Each step records its checkpoint before the next begins; a redelivered attempt starts at the first
        // step its checkpoint has not passed.
        if cp.stage == nil { try run.preflight(&cp) }
        if cp.stage == .preflight { try run.createStaging(&cp) }
        guard let staging = cp.staging else {
            throw OperationsError(.storage, "reindex \(context.operation.id) has no staging collection recorded")
        }
        if cp.stage == .staging { try run.reprocess(&cp, into: staging) }
        if cp.stage == .reprocessing { try run.validate(&cp, staging: staging) }
        if cp.stage == .validation { try run.switchAlias(&cp, to: staging) }
        var warnings: [String] = []
        if cp.stage == .switch { warnings = try run.cleanUp(&cp) }
        return run.outcome(cp, staging: staging, warnings: warnings)
    }

    /// Before the switch: drops the staging collection and the resume rows (the final status releases
    /// the reservation and puts the collection back to `ready` on the old one). After the switch the new
    /// collection is serving and nothing is undone.
    public func rollBack(_ context: OperationContext) {
        let manager = context.manager
        let collectionID = context.operation.collectionID
        let op: OperationRecord
        do { op = try manager.operation(context.operation.id) } catch {
            manager.reportCleanupFailure("reading operation \(context.operation.id) to roll it back", error: error,
                                         collectionID: collectionID, operationID: context.operation.id, logger: Log.reindex)
            return
        }
        // Another attempt owns it now (this one lost its lease without noticing yet): leave its staging alone.
        if op.status == .processing && op.taskID != context.taskID { return }
        let cp = ReindexCheckpoint(op.checkpoint)
        guard let staging = cp.staging else { return }
        let serving: String?
        do { serving = try manager.collection(named: op.collectionName).vectorStoreName } catch {
            // A collection deleted meanwhile serves nothing: its staging can go.
            Log.reindex.notice("rolling back a reindex of a collection that is gone", metadata: ["operation": "\(op.id)", "error": "\(error)"])
            serving = nil
        }
        guard serving != staging, cp.stage.map({ $0 < .switch }) ?? true else { return }
        // A switch that began (intent recorded, maybe flipped) is undone first: the alias goes back to the old
        // collection before staging may go. When the backend cannot be reached, staging stays (an alias may point
        // at it) and housekeeping finishes the undo later.
        do {
            if let intent = try manager.switchIntent(operationID: op.id) {
                // An attempt abandoned at its time limit, or whose lease lapsed, may still have its alias batch in
                // flight: moving the alias back now could be overtaken by it. Housekeeping undoes the intent once
                // that batch is certainly over, and then drops staging.
                if context.attemptMayStillRun {
                    Log.reindex.notice("the attempt that began this switch may still run; housekeeping undoes it later",
                                       metadata: ["operation": "\(op.id)", "staging": "\(staging)"])
                    return
                }
                if try manager.aliasTarget(intent.alias) == staging, let from = intent.from {
                    try CollectionManager.guarded("moving alias '\(intent.alias)' back to '\(from)'") {
                        try manager.vectors.updateAliases([.create(alias: intent.alias, collection: from)])
                    }
                }
                try manager.discardIntent(intent, reason: "the reindex failed or was cancelled before its switch committed", user: op.user)
            }
        } catch {
            manager.reportCleanupFailure("undoing the switch of reindex \(op.id) (housekeeping finishes it; staging \(staging) kept)", error: error,
                                         collectionID: collectionID, operationID: op.id, logger: Log.reindex)
            return
        }
        do {
            try context.faults.hit("reindex.rollback.drop")
            if let reason = Generations.aliasesPointing(manager, at: staging) {
                throw OperationsError(.conflict, "staging \(staging) kept: \(reason)")
            }
            try CollectionManager.guarded("dropping \(staging)") {
                if try manager.vectors.collectionExists(staging) { try manager.vectors.dropCollection(staging) }
            }
        } catch {
            manager.reportCleanupFailure("dropping staging collection \(staging) (housekeeping removes it later)", error: error,
                                         collectionID: collectionID, operationID: op.id, logger: Log.reindex)
        }
        do {
            try manager.clearReindexProgress(operationID: op.id)
        } catch {
            manager.reportCleanupFailure("clearing the resume rows of reindex \(op.id)", error: error,
                                         collectionID: collectionID, operationID: op.id, logger: Log.reindex)
        }
    }

    /// Finishes or undoes alias changes left half done, then removes staging collections no operation or record
    /// references (older than the minimum age) and retired generations past their grace period.
    public func recover(_ manager: CollectionManager) {
        for line in manager.recoverAliasIntents(minimumAge: settings.intentMinimumAge, logger: Log.reindex) {
            Log.reindex.notice("recovered an alias change", metadata: ["intent": "\(line)"])
        }
        Generations.removeLeftoversOfEndedReindexes(manager)
        do { _ = try Generations.removeOrphanedStaging(manager, minimumAge: settings.stagingMinimumAge) } catch {
            Log.reindex.error("looking for orphaned staging collections failed", metadata: ["error": "\(error)"])
        }
        Generations.dropExpiredGenerations(manager, settings: settings)
    }

    // MARK: - Steps

    func save(_ cp: ReindexCheckpoint, _ context: OperationContext) throws(OperationsError) {
        let op = context.operation
        _ = op
        // The stage recorded before, read in the same transaction: a checkpoint counts once, also when an
        // attempt that took over records it again.
        let previous = try context.recordCheckpoint(cp.json)?["stage"]?.stringValue.flatMap(ReindexStage.init(rawValue:))
        if let stage = cp.stage, stage != previous { context.telemetry.reindexCheckpoint(stage.rawValue) }
    }

    /// Re-chunks and re-embeds every completed document into staging (texts re-read from the sources,
    /// matched by content hash); documents already written by an earlier attempt are skipped.
    /// - Returns: Documents whose content could not be found any more (counted, not fatal).
    func reprocess(_ c: ManagedCollection, into staging: String, embedder: any Embedder, chunker: Chunker,
                           context: OperationContext) throws(OperationsError) -> Int {
        let manager = context.manager
        let op = context.operation
        let plan = try manager.reprocessPlan(collectionID: c.id, operationID: op.id)
        let (docs, done, sources) = (plan.remaining, plan.done, plan.sources)
        let total = done + docs.count
        try context.reportProgress(done: done, total: total)
        // Where each text is, by content hash, from each source the remaining documents come from; the
        // texts themselves are read one document at a time below.
        // Every copy is kept: when one changed since, another file may still hold the content.
        var entries: [String: [(reader: TextSource, entry: SourceEntry)]] = [:]
        for sid in Set(docs.compactMap(\.sourceID)) {
            guard let s = sources[sid], let kind = SourceKind(rawValue: s.kind) else { continue }
            try context.ensureActive()
            let reader = TextSource(kind: kind, path: s.path)
            let catalog = context.timed("parse") { () -> SourceCatalog in
                do throws(EmbeddingError) { return try reader.catalog() } catch {
                    Log.reindex.warning("source cannot be read; its documents count as missing",
                                        metadata: ["source": "\(s.path)", "error": "\(error.message)"])
                    return SourceCatalog()
                }
            }
            for e in catalog.entries { entries[e.contentHash, default: []].append((reader, e)) }
            context.sampleMemory()
        }
        let opID = op.id
        var writer = BatchWriter(context: context, collection: c, embedder: embedder, total: total, target: staging, initialDone: done,
                                 faultPoint: "reindex.batch") { db, finished in
            try CollectionManager.recordReindexProgress(db, operationID: opID, finished: finished)
        }
        var failed = 0
        for d in docs {
            try context.ensureActive()
            var text: String?
            for copy in entries[d.contentHash] ?? [] where text == nil {
                do {
                    text = try context.timed("parse") { () throws(EmbeddingError) in try copy.reader.read(copy.entry).fullText }
                } catch where error.code == .io {
                    throw CollectionManager.classify(error, doing: "reading document \(d.name) again")
                } catch {
                    Log.reindex.warning("a copy of a document changed or vanished since its source was read",
                                        metadata: ["document": "\(d.name)", "error": "\(error.message)"])
                }
            }
            guard let text else { failed += 1; continue }
            let chunks = context.timed("chunk") { chunker.chunkingResult(documentID: d.name, text: text).chunks }
            try writer.add(PendingDocument(id: d.id, name: d.name, path: d.path, size: text.utf8.count), chunks: chunks)
        }
        try writer.flush()
        return failed
    }

    /// `staging_col_<collection id>_<UTC yyyyMMdd_HHmmss>`: the original design's `staging_<vector_store_name>_…` for the
    /// first generation (`col_<id>`), and the same base for later ones, so names never nest and grow.
    ///
    /// A random suffix keeps two reindexes of the same collection within one second apart (the second would
    /// otherwise find, and could replace, the first one's collection).
    static func stagingName(collectionID: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd_HHmmss"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "staging_col_\(collectionID)_\(f.string(from: Date()))_\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
    }

    /// Bytes reserved (against the owner's storage quota) for the staging copy: twice the collection's content and
    /// vectors. With the vectors on this machine the free disk must hold it too; with a remote backend the
    /// server's own count of the serving collection's points sizes the vectors instead (its disk is not ours to check).
    static func stagingReservation(_ c: ManagedCollection, embedder: any Embedder, manager: CollectionManager) throws(OperationsError) -> Int {
        let width = max(c.dimension, embedder.dimension) * 4
        if manager.vectors.isLocal {
            let reserve = 2 * (c.totalSizeBytes + c.vectorCount * width)
            if let free = freeDiskBytes(manager.store.directory), free < reserve {
                throw OperationsError(.quotaExceeded, "not enough free disk for the staging copy: \(reserve) bytes needed, \(free) free in \(manager.store.directory)")
            }
            return reserve
        }
        let points = try CollectionManager.guarded("reading '\(c.vectorStoreName)' on \(manager.backend)") {
            try manager.vectors.collectionInfo(c.vectorStoreName).pointCount
        }
        return 2 * (c.totalSizeBytes + points * width)
    }

    static func freeDiskBytes(_ path: String) -> Int? {
        guard let attrs = try? FileManager.default.attributesOfFileSystem(forPath: path),
              let free = attrs[.systemFreeSize] as? NSNumber else { return nil }
        return free.intValue
    }
}

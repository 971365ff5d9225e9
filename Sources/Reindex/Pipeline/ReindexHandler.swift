import Logging
import Telemetry
import Embedding
import Foundation
import GRDB
import Operations
import SwitchyardJSON
import VectorMath
import VectorStore

/// REINDEX: blue-green rebuild of a managed collection in six checkpoints (DESIGN §4). Each checkpoint
/// is written (fenced) on the operation before the next stage begins, so a redelivered attempt resumes
/// where the last one stopped; any failure before the switch drops the staging collection and leaves
/// the old one serving.
public struct ReindexHandler: OperationHandler {
    public let settings: ReindexSettings

    public init(settings: ReindexSettings = ReindexSettings()) {
        self.settings = settings
    }

    public func run(_ context: OperationContext) throws -> HandlerOutcome {
        let op = context.operation
        guard let c = context.collection else {
            throw OperationsError(.invalidInput, "collection '\(op.collectionName)' no longer exists")
        }
        let manager = context.manager
        try Generations.prepare(manager)
        let target = ReindexTarget(op.config)
        guard let distance = Distance(parsing: target.distance) else {
            throw OperationsError(.invalidInput, "unknown distance '\(target.distance)' in the reindex request")
        }
        let embedder: any Embedder
        do { embedder = try Embedders.make(spec: target.embedder) } catch {
            throw OperationsError(.invalidInput, "reindex embedder '\(target.embedder)': \(error.description)")
        }
        let chunker = try CollectionManager.chunker(size: target.chunkSize, overlap: target.chunkOverlap)
        var cp = ReindexCheckpoint(try manager.operation(op.id).checkpoint)

        // 1. preflight
        if cp.stage == nil {
            try context.ensureActive()
            guard c.documentCount > 0, c.vectorCount > 0 else {
                throw OperationsError(.invalidInput, "collection '\(c.name)' is empty: nothing to reindex")
            }
            guard try manager.vectors.collectionExists(c.vectorStoreName) else {
                throw OperationsError(.invalidInput, "collection '\(c.name)' has no serving collection '\(c.vectorStoreName)'")
            }
            let size = c.totalSizeBytes + c.vectorCount * max(c.dimension, embedder.dimension) * 4
            let reserve = 2 * size
            if let free = Self.freeDiskBytes(manager.store.directory), free < reserve {
                throw OperationsError(.quotaExceeded, "not enough free disk for the staging copy: \(reserve) bytes needed, \(free) free in \(manager.store.directory)")
            }
            // A repeated preflight (after a crash or a retry) reuses the operation's active reservation.
            let held = try manager.reservations().first { $0.operationID == op.id }?.id
            let reservation = try cp.reservation ?? held ?? manager.reserve(collection: c.name, bytes: reserve, operationID: op.id, purpose: "reindex staging copy").id
            try Generations.ensureServing(manager, collection: c)
            cp.reservation = reservation
            cp.old = c.vectorStoreName
            cp.stage = .preflight
            try save(cp, context)
            try context.faults.hit("reindex.preflight")
        }

        // 2. staging: the name is recorded before the collection exists.
        if cp.stage == .preflight {
            try context.ensureActive()
            let name = cp.staging ?? Self.stagingName(collectionID: c.id)
            if cp.staging == nil {
                cp.staging = name
                try save(cp, context)
            }
            try CollectionManager.guarded("creating staging collection '\(name)'") {
                if try manager.vectors.collectionExists(name) {
                    let info = try manager.vectors.collectionInfo(name)
                    if info.dimension != embedder.dimension || info.distance != distance {
                        try manager.vectors.dropCollection(name)
                        try manager.vectors.createCollection(name, dimension: embedder.dimension, distance: distance)
                    }
                } else {
                    try manager.vectors.createCollection(name, dimension: embedder.dimension, distance: distance)
                }
            }
            cp.stage = .staging
            try save(cp, context)
            try context.faults.hit("reindex.staging")
        }
        guard let staging = cp.staging else { throw OperationsError(.storage, "reindex \(op.id) has no staging collection recorded") }

        // 3. reprocessing: every completed document, resumable from the last finished batch.
        if cp.stage == .staging {
            let failed = try context.timed("reprocessing") { () throws(OperationsError) in
                try reprocess(c, into: staging, embedder: embedder, chunker: chunker, context: context)
            }
            cp.failedDocuments = failed
            cp.stage = .reprocessing
            try save(cp, context)
            try context.faults.hit("reindex.reprocessing")
        }

        // 4. validation
        if cp.stage == .reprocessing {
            try context.ensureActive()
            var options = Comparison.Options()
            options.queriesPath = target.queries
            options.qrelsPath = target.qrels
            options.thresholds = try Thresholds.make(target.thresholds)
            // Scores and rankings are comparable only with the same embedder and the same distance.
            options.sameEmbedder = target.embedder == c.embedder && distance == c.distance
            options.sameChunking = target.chunkSize == c.chunkSize && target.chunkOverlap == c.chunkOverlap
            options.failedDocuments = cp.failedDocuments
            let report = try context.timed("validation") { () throws(OperationsError) in
                try Comparison(manager: manager,
                               old: try ComparisonSide(label: "old", collection: c.vectorStoreName, embedderSpec: c.embedder),
                               new: try ComparisonSide(label: "new", collection: staging, embedderSpec: target.embedder),
                               options: options).run()
            }
            context.telemetry.reindexValidation(seconds: report.seconds)
            if let path = target.report { try report.write(to: path) }
            cp.validation = report.json
            try save(cp, context)
            guard report.passed else {
                let failing = report.checks.filter { $0.verdict == .fail }.map { c in
                    "\(c.name) = \(c.value.map { String(format: "%.4f", $0) } ?? "n/a") (needs \(c.threshold))"
                }
                throw OperationsError(.rejected, "validation rejected the new collection: \(failing.joined(separator: "; "))")
            }
            cp.stage = .validation
            try save(cp, context)
            try context.faults.hit("reindex.validation")
        }

        // 5. switch: alias, record, documents, generations, audit and checkpoint in one transaction.
        if cp.stage == .validation {
            try context.ensureActive()
            let (total, flip) = try context.timed("switch") { () throws(OperationsError) in
                try Generations.switchTo(staging, context: context, collection: c, target: target, dimension: embedder.dimension,
                                         distance: distance, checkpoint: cp)
            }
            context.telemetry.reindexSwitch(seconds: total)
            context.telemetry.reindexCheckpoint(ReindexStage.switch.rawValue)  // written inside the switch transaction
            cp.switchMilliseconds = total * 1000
            cp.aliasFlipMilliseconds = flip * 1000
            cp.stage = .switch
            try save(cp, context)
            try context.faults.hit("reindex.switch")
        }

        // 6. cleanup: retired generations beyond the kept ones whose grace period is over (the others are
        // dropped by workers' housekeeping later, so the collection is not held); the reservation.
        // The new collection serves already: nothing here may fail the operation.
        var warnings: [String] = []
        if cp.stage == .switch {
            warnings = context.timed("cleanup") { Generations.cleanUp(manager, collectionID: c.id, settings: settings, exceptOperation: op.id) }
            if let r = cp.reservation {
                // The final status releases it too; a failure here only delays that.
                do { try manager.release(reservation: r) } catch {
                    Log.reindex.warning("could not release the reservation at cleanup", metadata: ["operation": "\(op.id)", "error": "\(error)"])
                }
            }
            cp.stage = .cleanup
            do { try save(cp, context) } catch {
                let e = CollectionManager.classify(error, doing: "recording the cleanup checkpoint")
                if e.code == .leaseLost { throw e }
                warnings.append("could not record the cleanup checkpoint: \(e)")
            }
            do { try context.faults.hit("reindex.cleanup") } catch {
                warnings.append("injected fault at cleanup: \(error)")  // after the switch nothing may fail the operation
            }
        }

        let opID = op.id
        var result: [String: JSONValue] = [
            "old": .string(cp.old ?? c.vectorStoreName), "new": .string(staging), "embedder": .string(target.embedder),
            "chunk_size": .int(Int64(target.chunkSize)), "chunk_overlap": .int(Int64(target.chunkOverlap)),
            "failed_documents": .int(Int64(cp.failedDocuments)),
            "switch_ms": cp.switchMilliseconds.map { .double($0) } ?? .null,
            "alias_flip_ms": cp.aliasFlipMilliseconds.map { .double($0) } ?? .null,
            "validation_passed": .bool(true),
        ]
        if !warnings.isEmpty { result["cleanup_warnings"] = .array(warnings.map { .string($0) }) }
        return HandlerOutcome(result: result) { db in
            try db.execute(sql: "DELETE FROM reindex_progress WHERE operation_id = ?", arguments: [opID])
        }
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
        do {
            try context.faults.hit("reindex.rollback.drop")
            if try manager.vectors.collectionExists(staging) { try manager.vectors.dropCollection(staging) }
        } catch {
            manager.reportCleanupFailure("dropping staging collection \(staging) (housekeeping removes it later)", error: error,
                                         collectionID: collectionID, operationID: op.id, logger: Log.reindex)
        }
        do {
            try manager.write("clearing reindex progress") { db in
                try db.execute(sql: "DELETE FROM reindex_progress WHERE operation_id = ?", arguments: [op.id])
            }
        } catch {
            manager.reportCleanupFailure("clearing the resume rows of reindex \(op.id)", error: error,
                                         collectionID: collectionID, operationID: op.id, logger: Log.reindex)
        }
    }

    /// Removes staging collections no operation or record references, older than the minimum age.
    public func recover(_ manager: CollectionManager) {
        Generations.removeLeftoversOfEndedReindexes(manager)
        do { _ = try Generations.removeOrphanedStaging(manager, minimumAge: settings.stagingMinimumAge) } catch {
            Log.reindex.error("looking for orphaned staging collections failed", metadata: ["error": "\(error)"])
        }
        Generations.dropExpiredGenerations(manager, settings: settings)
    }

    // MARK: - Steps

    private func save(_ cp: ReindexCheckpoint, _ context: OperationContext) throws(OperationsError) {
        let op = context.operation
        let text = JSONValue.object(cp.json).jsonText
        // The stage recorded before, read in the same transaction: a checkpoint counts once, also when an
        // attempt that took over records it again.
        let previous = try context.manager.fenced("recording checkpoint \(cp.stage?.rawValue ?? "start") of \(op.id)", operationID: op.id, taskID: context.taskID) { db in
            let before = try String.fetchOne(db, sql: "SELECT json_extract(checkpoint, '$.stage') FROM operations WHERE id = ?", arguments: [op.id])
            try db.execute(sql: "UPDATE operations SET checkpoint = ? WHERE id = ?", arguments: [text, op.id])
            return before.flatMap(ReindexStage.init(rawValue:))
        }
        if let stage = cp.stage, stage != previous { context.telemetry.reindexCheckpoint(stage.rawValue) }
    }

    /// Re-chunks and re-embeds every completed document into staging (texts re-read from the sources,
    /// matched by content hash); documents already written by an earlier attempt are skipped.
    /// - Returns: Documents whose content could not be found any more (counted, not fatal).
    private func reprocess(_ c: ManagedCollection, into staging: String, embedder: any Embedder, chunker: Chunker,
                           context: OperationContext) throws(OperationsError) -> Int {
        let manager = context.manager
        let op = context.operation
        struct Doc { var id: Int64; var name: String; var path: String; var hash: String; var sourceID: Int64? }
        let (docs, done, sources): ([Doc], Int, [Int64: CollectionSource]) = try manager.read("listing documents to reindex") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, name, file_path, content_hash, source_id FROM documents d
                WHERE collection_id = ? AND status = 'completed'
                  AND NOT EXISTS (SELECT 1 FROM reindex_progress p WHERE p.operation_id = ? AND p.document_id = d.id)
                ORDER BY id
                """, arguments: [c.id, op.id])
            let done = try Int.fetchOne(db, sql: "SELECT count(*) FROM reindex_progress WHERE operation_id = ?", arguments: [op.id]) ?? 0
            let sources = Dictionary(uniqueKeysWithValues: try CollectionManager.sources(db, collectionID: c.id).map { ($0.id, $0) })
            return (rows.map { Doc(id: $0["id"], name: $0["name"], path: $0["file_path"], hash: $0["content_hash"], sourceID: $0["source_id"]) }, done, sources)
        }
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
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO reindex_progress (operation_id, document_id, chunk_count) VALUES (?, ?, ?)")
            for (id, chunks) in finished { try insert.execute(arguments: [opID, id, chunks]) }
        }
        var failed = 0
        for d in docs {
            try context.ensureActive()
            var text: String?
            for copy in entries[d.hash] ?? [] where text == nil {
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

    /// `staging_col_<collection id>_<UTC yyyyMMdd_HHmmss>`: DESIGN's `staging_<vector_store_name>_…` for the
    /// first generation (`col_<id>`), and the same base for later ones, so names never nest and grow.
    static func stagingName(collectionID: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd_HHmmss"
        return "staging_col_\(collectionID)_\(f.string(from: Date()))"
    }

    static func freeDiskBytes(_ path: String) -> Int? {
        guard let attrs = try? FileManager.default.attributesOfFileSystem(forPath: path),
              let free = attrs[.systemFreeSize] as? NSNumber else { return nil }
        return free.intValue
    }
}

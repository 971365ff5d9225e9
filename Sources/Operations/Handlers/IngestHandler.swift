import Embedding
import Foundation
import GRDB
import SwitchyardJSON
import VectorMath
import VectorStore

/// INDEX and APPEND: scan sources, register documents (deduplicated by content hash), chunk, embed
/// and upsert in batches of 100 points, marking documents done as their last chunk is written.
///
/// Idempotent: point ids come from (document id, chunk index) and completed documents are skipped, so
/// a redelivered operation finishes the work without duplicating a point. INDEX also creates the
/// physical collection and points the alias (the collection's name) at it.
///
/// Document rules within a collection:
/// - content seen before (same SHA-256) is not stored again: unchanged, or a duplicate when it comes
///   from another file or source; a file that moved within its source keeps its chunks and gets its new
///   path (`renamed`);
/// - a changed file (same name in its source, new content) is indexed anew and, once done, its old
///   chunks are deleted and the old document marked `deleted` (`replaced`);
/// - content that was deleted and comes back is indexed again (`readded`).
struct IngestHandler: OperationHandler {
    static let batchSize = 100

    func run(_ context: OperationContext) throws -> HandlerOutcome {
        let op = context.operation
        guard let c = context.collection else {
            throw OperationsError(.invalidInput, "collection '\(op.collectionName)' no longer exists")
        }
        let embedder = try Self.embedder(of: c)
        let chunker = try CollectionManager.chunker(size: c.chunkSize, overlap: c.chunkOverlap)
        let sources = try Self.sources(of: op)
        if op.type == .index { try prepareCollection(c, context: context) }

        var (plans, summary) = try planSources(sources, collection: c, context: context)
        try applyMoves(plans, collection: c, context: context)
        try writeDocuments(&plans, summary: &summary, collection: c, embedder: embedder, chunker: chunker, context: context)
        try retireReplaced(plans, collection: c, context: context)
        try context.faults.hit("ingest.finish")

        let collectionID = c.id
        return HandlerOutcome(result: summary.json) { db in
            try PointLayout.recount(db, collectionID: collectionID)
            try db.execute(sql: "UPDATE collection_sources SET last_indexed_at = ? WHERE collection_id = ?", arguments: [WallClock.now(), collectionID])
        }
    }

    /// The collection's embedder, checked against its dimension.
    static func embedder(of c: ManagedCollection) throws(OperationsError) -> any Embedder {
        let embedder: any Embedder
        do { embedder = try Embedders.make(spec: c.embedder) } catch {
            throw error.operationsError("collection '\(c.name)' has an unusable embedder")
        }
        guard embedder.dimension == c.dimension else {
            throw OperationsError(.invalidInput, "embedder '\(c.embedder)' gives \(embedder.dimension)-d vectors; collection '\(c.name)' has \(c.dimension)")
        }
        return embedder
    }

    /// Catalogues each source and registers its documents: what to process, what moved, what was replaced.
    private func planSources(_ sources: [Source], collection c: ManagedCollection,
                             context: OperationContext) throws -> ([SourcePlan], IngestSummary) {
        var summary = IngestSummary()
        var plans: [SourcePlan] = []
        var planned = Set<Int64>()
        for source in sources {
            try context.ensureActive()
            // Only ids, paths and hashes stay in memory; each text is read again when it is chunked.
            let reader = TextSource(kind: source.kind, path: source.path)
            let catalog: SourceCatalog
            do { catalog = try context.timed("parse") { () throws(EmbeddingError) in try reader.catalog() } } catch {
                throw OperationsError(.invalidInput, error.message)
            }
            let plan = try context.timed("commit") { () throws(OperationsError) in
                try register(catalog, reader: reader, source: source, collection: c, planned: planned, context: context)
            }
            context.sampleMemory()  // the catalogue and the plan are at their largest here
            planned.formUnion(plan.toProcess.map(\.document.id))
            summary.add(plan.counts)
            summary.issues += catalog.issues.map(\.description)
            plans.append(plan)
        }
        return (plans, summary)
    }

    /// Moved documents: their payloads' path first, then the record (so a retry still sees the move).
    private func applyMoves(_ plans: [SourcePlan], collection c: ManagedCollection, context: OperationContext) throws {
        let manager = context.manager
        for move in plans.flatMap(\.renamed) {
            try context.ensureActive()
            let fence = context.fence
            _ = try CollectionManager.guarded("updating the path of document \(move.id)") {
                let update = PayloadUpdate.merge(["path": .string(move.path)])
                let filter = Filter(must: [.field(key: try PayloadPath("doc_id"), FieldCondition(match: .value(.int(move.id))))])
                if let fence { return try manager.vectors.updatePayload(c.vectorStoreName, update, ids: nil, filter: filter, precondition: fence) }
                return try manager.vectors.updatePayload(c.vectorStoreName, update, ids: nil, filter: filter)
            }
            try manager.fenced("recording the move of document \(move.id)", operationID: context.operation.id, taskID: context.taskID) { db in
                try db.execute(sql: "UPDATE documents SET name = ?, file_path = ?, updated_at = ? WHERE id = ?",
                               arguments: [move.name, move.path, WallClock.now(), move.id])
            }
        }
    }

    /// Reads, chunks, embeds and writes every planned document, 100 points per batch. A document that can
    /// no longer be read fails alone (an I/O error fails the attempt, which is retried).
    private func writeDocuments(_ plans: inout [SourcePlan], summary: inout IngestSummary, collection c: ManagedCollection,
                                embedder: any Embedder, chunker: Chunker, context: OperationContext) throws {
        let total = plans.reduce(0) { $0 + $1.toProcess.count }
        try context.reportProgress(done: 0, total: total)
        var writer = BatchWriter(context: context, collection: c, embedder: embedder, total: total)
        for p in plans.indices {
            for item in plans[p].toProcess {
                try context.ensureActive()
                try context.faults.hit("ingest.read")
                let document: SourceDocument
                do {
                    document = try context.timed("parse") { () throws(EmbeddingError) in try plans[p].reader.read(item.entry) }
                } catch where error.code == .io {
                    // Permissions, too many open files, a read error: the operation is retried.
                    throw CollectionManager.classify(error, doing: "reading \(item.document.path) again")
                } catch {
                    // Gone or changed since the catalogue: the document fails alone; a later APPEND picks
                    // up the file's new content.
                    try fail(item.document, error.message, collection: c, context: context)
                    plans[p].unread.insert(item.document.name)
                    summary.failedDocuments += 1
                    summary.issues.append(error.message)
                    writer.skip()
                    continue
                }
                let result = context.timed("chunk") { chunker.chunkingResult(documentID: item.document.name, text: document.fullText) }
                try writer.add(item.document, chunks: result.chunks)
            }
        }
        try writer.flush()
        summary.chunks = writer.chunksWritten
        summary.emptyDocuments = writer.emptyDocuments
    }

    /// Changed files: their new content is indexed; now retire the old documents (first, so no `completed`
    /// document is ever left without its points) and delete their chunks. An old document whose new
    /// content could not be read stays as it is.
    private func retireReplaced(_ plans: [SourcePlan], collection c: ManagedCollection, context: OperationContext) throws {
        let manager = context.manager
        for plan in plans {
            let retired = plan.replaced.filter { !plan.unread.contains($0.name) }.map(\.id)
            guard !retired.isEmpty else { continue }
            try context.ensureActive()
            try manager.fenced("retiring replaced documents", operationID: context.operation.id, taskID: context.taskID) { db in
                for id in retired {
                    try db.execute(sql: "UPDATE documents SET status = 'deleted', updated_at = ? WHERE id = ?", arguments: [WallClock.now(), id])
                }
            }
            _ = try context.timed("upsert") { () throws(OperationsError) in
                try PointLayout.deletePoints(of: retired, in: c.vectorStoreName, vectors: manager.vectors,
                                             precondition: context.fence, between: context.ensureActive)
            }
        }
    }

    /// Removes the points of this operation's unfinished documents, so a failed or cancelled operation
    /// leaves only whole documents searchable (they stay `pending`; a later APPEND completes them).
    func rollBack(_ context: OperationContext) {
        context.manager.deletePointsOfUnfinishedDocuments(operationID: context.operation.id)
    }

    // MARK: - Steps

    /// Marks a document that could not be read again `failed`, with why. Points an earlier attempt wrote
    /// for it are deleted first, so a failed document is never partly searchable.
    private func fail(_ document: PendingDocument, _ message: String, collection c: ManagedCollection,
                      context: OperationContext) throws(OperationsError) {
        let op = context.operation
        _ = try context.timed("upsert") { () throws(OperationsError) in
            try PointLayout.deletePoints(of: [document.id], in: c.vectorStoreName, vectors: context.manager.vectors,
                                         precondition: context.fence, between: context.ensureActive)
        }
        try context.manager.fenced("marking document \(document.id) failed", operationID: op.id, taskID: context.taskID) { db in
            try db.execute(sql: "UPDATE documents SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                           arguments: [message, WallClock.now(), document.id])
        }
    }

    struct Source {
        var path: String
        var kind: SourceKind
    }

    static func sources(of op: OperationRecord) throws(OperationsError) -> [Source] {
        func parse(_ o: [String: JSONValue]) throws(OperationsError) -> Source {
            guard let path = o["path"]?.stringValue ?? o["source"]?.stringValue, let k = o["type"]?.stringValue, let kind = SourceKind(rawValue: k) else {
                throw OperationsError(.invalidInput, "operation \(op.id) has a malformed source in its config")
            }
            return Source(path: path, kind: kind)
        }
        if let list = op.config["sources"]?.arrayValue {
            return try list.map { (v: JSONValue) throws(OperationsError) in try parse(v.objectValue ?? [:]) }
        }
        return [try parse(op.config)]
    }

    /// INDEX: the physical collection (created if missing, checked if present) and the alias.
    private func prepareCollection(_ c: ManagedCollection, context: OperationContext) throws(OperationsError) {
        let vectors = context.manager.vectors
        try CollectionManager.guarded("creating physical collection '\(c.vectorStoreName)'") {
            if try vectors.collectionExists(c.vectorStoreName) {
                let info = try vectors.collectionInfo(c.vectorStoreName)
                guard info.dimension == c.dimension, info.distance == c.distance else {
                    throw OperationsError(.invalidInput, "physical collection '\(c.vectorStoreName)' exists with \(info.dimension)-d \(info.distance.rawValue) vectors, not \(c.dimension)-d \(c.distance.rawValue)")
                }
            } else {
                try vectors.createCollection(c.vectorStoreName, dimension: c.dimension, distance: c.distance)
            }
        }
        let current = try CollectionManager.guarded("reading aliases") { try vectors.aliases().first { $0.alias == c.name } }
        guard current?.collection != c.vectorStoreName else { return }
        var actions: [AliasAction] = []
        if current != nil { actions.append(.delete(alias: c.name)) }
        actions.append(.create(alias: c.name, collection: c.vectorStoreName))
        try CollectionManager.guarded("pointing alias '\(c.name)' at '\(c.vectorStoreName)'") { try vectors.updateAliases(actions) }
        let op = context.operation
        try context.manager.fenced("auditing the alias", operationID: op.id, taskID: context.taskID) { db in
            try CollectionManager.audit(db, collection: c, operationID: op.id, user: op.user, action: .aliasSwitched, details: [
                "alias": .string(c.name), "to": .string(c.vectorStoreName), "from": current.map { .string($0.collection) } ?? .null,
            ])
        }
    }

    /// A document to index: its record and where its text is.
    struct PlannedDocument {
        var document: PendingDocument
        var entry: SourceEntry
    }

    struct SourcePlan {
        /// Reads the source's texts again.
        let reader: TextSource
        var toProcess: [PlannedDocument] = []
        var renamed: [(id: Int64, name: String, path: String)] = []
        /// Old documents to retire once the new content under their name is indexed.
        var replaced: [(id: Int64, name: String)] = []
        /// Names whose new content could not be read again (their old documents stay).
        var unread = Set<String>()
        var counts = IngestSummary()
    }

    /// Registers the catalogued documents in one transaction (fenced) and plans the work. Each entry is
    /// looked up by its content hash and name (both indexed), so nothing of the collection is loaded whole.
    private func register(_ catalog: SourceCatalog, reader: TextSource, source: Source, collection c: ManagedCollection, planned: Set<Int64>,
                          context: OperationContext) throws(OperationsError) -> SourcePlan {
        let op = context.operation
        return try context.manager.fenced("registering documents of \(source.path)", operationID: op.id, taskID: context.taskID) { db in
            let registration = Registration(db: db, collection: c, source: source, sourceID: try Self.sourceID(db, collection: c, source: source),
                                            operationID: op.id, now: WallClock.now())
            var plan = SourcePlan(reader: reader)
            let (newEntries, moved) = try registration.matchKnown(catalog, planned: planned, into: &plan)
            try registration.planReplacements(catalog, moved: moved, into: &plan)
            try checkQuota(db, collection: c, adding: newEntries)
            try registration.insert(newEntries, into: &plan)
            plan.counts.failedDocuments = catalog.issues.count
            return plan
        }
    }

    /// The source's row, created on first use.
    private static func sourceID(_ db: Database, collection c: ManagedCollection, source: Source) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO collection_sources (collection_id, source_path, source_type, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (collection_id, source_path) DO UPDATE SET source_type = excluded.source_type
            """, arguments: [c.id, source.path, source.kind.rawValue, WallClock.now()])
        return try Int64.fetchOne(db, sql: "SELECT id FROM collection_sources WHERE collection_id = ? AND source_path = ?",
                                  arguments: [c.id, source.path])!
    }

    /// One source's registration inside the transaction.
    private struct Registration {
        let db: Database
        let collection: ManagedCollection
        let source: Source
        let sourceID: Int64
        let operationID: String
        let now: Double

        /// Entries whose content the collection has seen: unchanged, moved (renamed), duplicates, or
        /// pending/failed/deleted ones taken up again. Returns the entries with new content, and the
        /// documents that moved.
        func matchKnown(_ catalog: SourceCatalog, planned: Set<Int64>,
                        into plan: inout SourcePlan) throws -> (new: [SourceEntry], moved: Set<Int64>) {
            let byHash = try db.cachedStatement(sql: "SELECT id, source_id, name, status FROM documents WHERE collection_id = ? AND content_hash = ?")
            // Catalog ids are unique within a source.
            var scannedHash: [String: String] = [:]
            scannedHash.reserveCapacity(catalog.entries.count)
            for entry in catalog.entries { scannedHash[entry.id] = entry.contentHash }
            var seen = Set<String>()
            var moved = Set<Int64>()
            var newEntries: [SourceEntry] = []
            for entry in catalog.entries {
                let path = IngestHandler.path(of: entry, kind: source.kind)
                guard seen.insert(entry.contentHash).inserted else { plan.counts.duplicates += 1; continue }
                guard let row = try Row.fetchOne(byHash, arguments: [collection.id, entry.contentHash]) else { newEntries.append(entry); continue }
                let knownID: Int64 = row["id"], knownSource: Int64? = row["source_id"], knownName: String = row["name"]
                let status = DocumentStatus(rawValue: row["status"]) ?? .failed
                // Already planned from another source of this operation (overlapping sources).
                if planned.contains(knownID) { plan.counts.duplicates += 1; continue }
                switch status {
                case .completed:
                    if knownSource == sourceID && knownName == entry.id {
                        plan.counts.unchanged += 1
                    } else if knownSource == sourceID && scannedHash[knownName] != entry.contentHash {
                        // Its old name no longer holds this content (moved, or changed while a copy
                        // remains): the document follows its content to the new name.
                        plan.renamed.append((knownID, entry.id, path))
                        moved.insert(knownID)
                        plan.counts.renamed += 1
                    } else {
                        plan.counts.duplicates += 1
                    }
                case .pending, .processing, .failed, .deleted:
                    if status == .deleted { plan.counts.readded += 1 } else { plan.counts.resumed += 1 }
                    try db.execute(sql: """
                        UPDATE documents SET source_id = ?, name = ?, file_path = ?, size_bytes = ?, status = 'pending', error = NULL,
                            operation_id = ?, updated_at = ? WHERE id = ?
                        """, arguments: [sourceID, entry.id, path, entry.size, operationID, now, knownID])
                    plan.toProcess.append(PlannedDocument(
                        document: PendingDocument(id: knownID, name: entry.id, path: path, size: entry.size), entry: entry))
                }
            }
            return (newEntries, moved)
        }

        /// Changed files: live documents whose name now holds other content are replaced once the new
        /// content is indexed (unless the document moved to another name). That includes a document left
        /// pending or failed with content that no longer exists (a file changed after an earlier operation
        /// failed). Documents resumed above hold their entry's content, so they stay.
        func planReplacements(_ catalog: SourceCatalog, moved: Set<Int64>, into plan: inout SourcePlan) throws {
            let liveByName = try db.cachedStatement(sql: """
                SELECT id, content_hash FROM documents WHERE source_id = ? AND name = ? AND status <> 'deleted'
                """)
            for entry in catalog.entries {
                for old in try Row.fetchAll(liveByName, arguments: [sourceID, entry.id]) {
                    let oldID: Int64 = old["id"], oldHash: String = old["content_hash"]
                    if oldHash != entry.contentHash && !moved.contains(oldID) { plan.replaced.append((oldID, entry.id)) }
                }
            }
        }

        /// New content becomes pending documents of this operation.
        func insert(_ entries: [SourceEntry], into plan: inout SourcePlan) throws {
            let insert = try db.cachedStatement(sql: """
                INSERT INTO documents (collection_id, source_id, name, file_path, size_bytes, content_hash, status, operation_id, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                """)
            for entry in entries {
                let path = IngestHandler.path(of: entry, kind: source.kind)
                try insert.execute(arguments: [collection.id, sourceID, entry.id, path, entry.size, entry.contentHash, operationID, now, now])
                plan.toProcess.append(PlannedDocument(
                    document: PendingDocument(id: db.lastInsertedRowID, name: entry.id, path: path, size: entry.size), entry: entry))
                plan.counts.added += 1
            }
        }
    }

    private func checkQuota(_ db: Database, collection c: ManagedCollection, adding docs: [SourceEntry]) throws {
        guard !docs.isEmpty else { return }
        let limits = try CollectionManager.limits(db, owner: c.owner)
        let usage = try CollectionManager.usage(db, owner: c.owner)
        if usage.documents + docs.count > limits.maxDocuments {
            throw OperationsError(.quotaExceeded, "quota exceeded for owner '\(c.owner)': max_documents is \(limits.maxDocuments), \(usage.documents) in use, this source adds \(docs.count)")
        }
        let bytes = docs.reduce(0) { $0 + $1.size }
        if usage.storageBytes + bytes > limits.maxStorageBytes {
            throw OperationsError(.quotaExceeded, "quota exceeded for owner '\(c.owner)': max_storage_bytes is \(limits.maxStorageBytes), \(usage.storageBytes) in use, this source adds \(bytes)")
        }
    }

    /// The document's path as stored and in payloads: the file for files; `file#id` for records.
    static func path(of doc: SourceEntry, kind: SourceKind) -> String {
        switch kind {
        case .directory, .file: doc.path
        case .jsonl, .beir: "\(doc.path)#\(doc.id)"
        }
    }
}

/// A document to write: its id, name, path and size (its chunks carry the text).
package struct PendingDocument: Sendable {
    package var id: Int64
    package var name: String
    package var path: String
    package var size: Int

    package init(id: Int64, name: String, path: String, size: Int) {
        self.id = id
        self.name = name
        self.path = path
        self.size = size
    }
}

/// What an INDEX or APPEND did, stored as the operation's result.
struct IngestSummary {
    var added = 0
    var unchanged = 0
    var duplicates = 0
    var renamed = 0
    var readded = 0
    var resumed = 0
    var failedDocuments = 0
    var emptyDocuments = 0
    var chunks = 0
    var issues: [String] = []

    mutating func add(_ o: IngestSummary) {
        added += o.added; unchanged += o.unchanged; duplicates += o.duplicates; renamed += o.renamed
        readded += o.readded; resumed += o.resumed; failedDocuments += o.failedDocuments
    }

    var json: [String: JSONValue] {
        [
            "documents_added": .int(Int64(added)), "documents_unchanged": .int(Int64(unchanged)),
            "documents_duplicate": .int(Int64(duplicates)), "documents_renamed": .int(Int64(renamed)),
            "documents_readded": .int(Int64(readded)), "documents_resumed": .int(Int64(resumed)),
            "documents_empty": .int(Int64(emptyDocuments)),
            "failed_documents": .int(Int64(failedDocuments)), "chunks_written": .int(Int64(chunks)),
            "source_issues": .array(issues.prefix(20).map { .string($0) }),
        ]
    }
}

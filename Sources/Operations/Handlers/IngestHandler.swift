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
        let manager = context.manager
        let embedder: any Embedder
        do { embedder = try Embedders.make(spec: c.embedder) } catch {
            throw OperationsError(.invalidInput, "collection '\(c.name)' has an unusable embedder: \(error.description)")
        }
        guard embedder.dimension == c.dimension else {
            throw OperationsError(.invalidInput, "embedder '\(c.embedder)' gives \(embedder.dimension)-d vectors; collection '\(c.name)' has \(c.dimension)")
        }
        let chunker = try CollectionManager.chunker(size: c.chunkSize, overlap: c.chunkOverlap)
        let sources = try Self.sources(of: op)
        if op.type == .index { try prepareCollection(c, context: context) }

        var summary = IngestSummary()
        var plans: [SourcePlan] = []
        var planned = Set<Int64>()
        for source in sources {
            try context.ensureActive()
            let scan: SourceScan
            do { scan = try context.timed("parse") { () throws(EmbeddingError) in try TextSource(kind: source.kind, path: source.path).scan() } } catch {
                throw OperationsError(.invalidInput, error.message)
            }
            let plan = try context.timed("commit") { () throws(OperationsError) in
                try register(scan, source: source, collection: c, planned: planned, context: context)
            }
            planned.formUnion(plan.toProcess.map(\.id))
            summary.add(plan.counts)
            summary.issues += scan.issues.map(\.description)
            plans.append(plan)
        }
        // Moved documents: their payloads' path first, then the record (so a retry still sees the move).
        for plan in plans where !plan.renamed.isEmpty {
            for move in plan.renamed {
                try context.ensureActive()
                _ = try CollectionManager.guarded("updating the path of document \(move.id)") {
                    try manager.vectors.updatePayload(c.vectorStoreName, .merge(["path": .string(move.path)]), ids: nil,
                                                      filter: Filter(must: [.field(key: try PayloadPath("doc_id"), FieldCondition(match: .value(.int(move.id))))]))
                }
                try manager.fenced("recording the move of document \(move.id)", operationID: op.id, taskID: context.taskID) { db in
                    try db.execute(sql: "UPDATE documents SET name = ?, file_path = ?, updated_at = ? WHERE id = ?",
                                   arguments: [move.name, move.path, WallClock.now(), move.id])
                }
            }
        }

        let total = plans.reduce(0) { $0 + $1.toProcess.count }
        try context.reportProgress(done: 0, total: total)
        var writer = BatchWriter(context: context, collection: c, embedder: embedder, total: total)
        for plan in plans {
            for doc in plan.toProcess {
                try context.ensureActive()
                let result = context.timed("chunk") { chunker.chunkingResult(documentID: doc.name, text: doc.text) }
                try writer.add(doc, chunks: result.chunks)
            }
        }
        try writer.flush()
        summary.chunks = writer.chunksWritten
        summary.emptyDocuments = writer.emptyDocuments

        // Changed files: their new content is indexed; now retire the old documents (first, so no
        // `completed` document is ever left without its points) and delete their chunks.
        for plan in plans where !plan.replaced.isEmpty {
            try context.ensureActive()
            try manager.fenced("retiring replaced documents", operationID: op.id, taskID: context.taskID) { db in
                for id in plan.replaced {
                    try db.execute(sql: "UPDATE documents SET status = 'deleted', updated_at = ? WHERE id = ?", arguments: [WallClock.now(), id])
                }
            }
            _ = try context.timed("upsert") { () throws(OperationsError) in
                try PointLayout.deletePoints(of: plan.replaced, in: c.vectorStoreName, vectors: manager.vectors,
                                             precondition: context.fence, between: context.ensureActive)
            }
        }
        try context.faults.hit("ingest.finish")

        let collectionID = c.id
        return HandlerOutcome(result: summary.json) { db in
            try PointLayout.recount(db, collectionID: collectionID)
            try db.execute(sql: "UPDATE collection_sources SET last_indexed_at = ? WHERE collection_id = ?", arguments: [WallClock.now(), collectionID])
        }
    }

    /// Removes the points of this operation's unfinished documents, so a failed or cancelled operation
    /// leaves only whole documents searchable (they stay `pending`; a later APPEND completes them).
    func rollBack(_ context: OperationContext) {
        context.manager.deletePointsOfUnfinishedDocuments(operationID: context.operation.id)
    }

    // MARK: - Steps

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

    struct SourcePlan {
        var toProcess: [PendingDocument] = []
        var renamed: [(id: Int64, name: String, path: String)] = []
        var replaced: [Int64] = []
        var counts = IngestSummary()
    }

    /// Registers the scanned documents in one transaction (fenced) and plans the work.
    private func register(_ scan: SourceScan, source: Source, collection c: ManagedCollection, planned: Set<Int64>,
                          context: OperationContext) throws(OperationsError) -> SourcePlan {
        let op = context.operation
        return try context.manager.fenced("registering documents of \(source.path)", operationID: op.id, taskID: context.taskID) { db in
            let now = WallClock.now()
            try db.execute(sql: """
                INSERT INTO collection_sources (collection_id, source_path, source_type, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (collection_id, source_path) DO UPDATE SET source_type = excluded.source_type
                """, arguments: [c.id, source.path, source.kind.rawValue, now])
            let sourceID = try Int64.fetchOne(db, sql: "SELECT id FROM collection_sources WHERE collection_id = ? AND source_path = ?",
                                              arguments: [c.id, source.path])!
            struct Known { var id: Int64; var sourceID: Int64?; var name: String; var hash: String; var status: DocumentStatus }
            var byHash: [String: Known] = [:]
            var liveByName: [String: [Known]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, source_id, name, status, content_hash FROM documents WHERE collection_id = ?", arguments: [c.id]) {
                let k = Known(id: row["id"], sourceID: row["source_id"], name: row["name"], hash: row["content_hash"],
                              status: DocumentStatus(rawValue: row["status"]) ?? .failed)
                byHash[k.hash] = k
                if k.sourceID == sourceID && k.status != .deleted { liveByName[k.name, default: []].append(k) }
            }
            var scannedHash: [String: String] = [:]
            for doc in scan.documents where scannedHash[doc.id] == nil { scannedHash[doc.id] = doc.contentHash }
            var plan = SourcePlan()
            var seen = Set<String>()
            var moved = Set<Int64>()
            var newDocuments: [SourceDocument] = []
            for doc in scan.documents {
                let path = Self.path(of: doc, kind: source.kind)
                guard seen.insert(doc.contentHash).inserted else { plan.counts.duplicates += 1; continue }
                guard let known = byHash[doc.contentHash] else { newDocuments.append(doc); continue }
                // Already planned from another source of this operation (overlapping sources).
                if planned.contains(known.id) { plan.counts.duplicates += 1; continue }
                switch known.status {
                case .completed:
                    if known.sourceID == sourceID && known.name == doc.id {
                        plan.counts.unchanged += 1
                    } else if known.sourceID == sourceID && scannedHash[known.name] != doc.contentHash {
                        // Its old name no longer holds this content (moved, or changed while a copy
                        // remains): the document follows its content to the new name.
                        plan.renamed.append((known.id, doc.id, path))
                        moved.insert(known.id)
                        plan.counts.renamed += 1
                    } else {
                        plan.counts.duplicates += 1
                    }
                case .pending, .processing, .failed, .deleted:
                    if known.status == .deleted { plan.counts.readded += 1 } else { plan.counts.resumed += 1 }
                    try db.execute(sql: """
                        UPDATE documents SET source_id = ?, name = ?, file_path = ?, size_bytes = ?, status = 'pending', error = NULL,
                            operation_id = ?, updated_at = ? WHERE id = ?
                        """, arguments: [sourceID, doc.id, path, doc.size, op.id, now, known.id])
                    plan.toProcess.append(PendingDocument(id: known.id, name: doc.id, path: path, text: doc.fullText, size: doc.size))
                }
            }
            // Changed files: live documents whose name now holds other content are replaced once the new
            // content is indexed (unless the document moved to another name above).
            for (name, docs) in liveByName {
                guard let current = scannedHash[name] else { continue }
                for old in docs where old.status == .completed && old.hash != current && !moved.contains(old.id) {
                    plan.replaced.append(old.id)
                }
            }
            try checkQuota(db, collection: c, adding: newDocuments)
            let insert = try db.cachedStatement(sql: """
                INSERT INTO documents (collection_id, source_id, name, file_path, size_bytes, content_hash, status, operation_id, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                """)
            for doc in newDocuments {
                let path = Self.path(of: doc, kind: source.kind)
                try insert.execute(arguments: [c.id, sourceID, doc.id, path, doc.size, doc.contentHash, op.id, now, now])
                plan.toProcess.append(PendingDocument(id: db.lastInsertedRowID, name: doc.id, path: path, text: doc.fullText, size: doc.size))
                plan.counts.added += 1
            }
            plan.counts.failedDocuments = scan.issues.count
            return plan
        }
    }

    private func checkQuota(_ db: Database, collection c: ManagedCollection, adding docs: [SourceDocument]) throws {
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
    static func path(of doc: SourceDocument, kind: SourceKind) -> String {
        switch kind {
        case .directory, .file: doc.path
        case .jsonl, .beir: "\(doc.path)#\(doc.id)"
        }
    }
}

/// A document to write: its id, name, path and the text to chunk.
package struct PendingDocument: Sendable {
    package var id: Int64
    package var name: String
    package var path: String
    package var text: String
    package var size: Int

    package init(id: Int64, name: String, path: String, text: String, size: Int) {
        self.id = id
        self.name = name
        self.path = path
        self.text = text
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

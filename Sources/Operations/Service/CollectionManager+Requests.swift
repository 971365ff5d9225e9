import Embedding
import Foundation
import GRDB
import SwitchyardJSON
import VectorMath
import VectorStore

// MARK: - Requests: every one checks its gates and enqueues in one transaction.

extension CollectionManager {
    /// Refuses to act on a collection whose vectors live on another backend than this manager's (the alias
    /// would move, and points would be written, in the wrong place).
    ///
    /// - Throws: ``OperationsError`` `invalidInput` naming both backends and the option that selects the right one.
    public func requireBackend(of c: ManagedCollection) throws(OperationsError) {
        guard c.backend != backend else { return }
        func describe(_ b: String) -> String { b == "embedded" ? "the embedded store" : b }
        let hint = c.backend.hasPrefix("qdrant ") ? "give --qdrant-url \(c.backend.dropFirst("qdrant ".count))" : "leave out --qdrant-url"
        throw OperationsError(.invalidInput, "collection '\(c.name)' lives on \(describe(c.backend)), and this command points at \(describe(backend)); \(hint)")
    }

    /// Creates a managed collection and enqueues the INDEX operation that builds it.
    ///
    /// The collection starts `pending`; its physical collection `col_<uuid>` and its alias (the
    /// collection's name) are created by the INDEX operation.
    ///
    /// - Parameters:
    ///   - spec: Name, owner, embedder, chunking, distance.
    ///   - sources: Directories, files, JSON Lines files or BEIR corpora to index (at least one).
    ///   - user: Who asks (recorded on the operation and in the audit log).
    /// - Returns: The collection and its INDEX operation.
    /// - Throws: ``OperationsError``: `invalidInput` (name, embedder, chunking, source), `conflict` (the
    ///   name is taken by a collection or an alias), `quotaExceeded` (collections or operations per hour).
    @discardableResult
    public func createCollection(_ spec: CollectionSpec, sources: [String], user: String = CollectionSpec.defaultOwner)
        throws(OperationsError) -> (collection: ManagedCollection, operation: OperationRecord)
    {
        let (embedder, chunker, resolved) = try Self.check(spec, sources: sources, user: user)
        let exists = try read("checking the name '\(spec.name)'") { db in
            try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE name = ?", arguments: [spec.name]) != nil
        }
        if exists { throw OperationsError(.conflict, "collection '\(spec.name)' already exists") }
        let taken: Bool = try Self.guarded("checking the name '\(spec.name)'") {
            try vectors.collectionExists(spec.name) || vectors.aliases().contains { $0.alias == spec.name }
        }
        if taken {
            throw OperationsError(.conflict, "the name '\(spec.name)' is already used by a collection or alias of the store")
        }
        let id = UUID().uuidString.lowercased()
        let distance = spec.distance ?? embedder.preferredDistance
        let config: [String: JSONValue] = [
            "sources": .array(resolved.map { .object(["path": .string($0.path), "type": .string($0.kind.rawValue)]) }),
            "embedder": .string(spec.embedder),
            "chunk_size": .int(Int64(chunker.size)),
            "chunk_overlap": .int(Int64(chunker.overlap)),
            "distance": .string(distance.rawValue),
        ]
        return try write("creating collection '\(spec.name)'") { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM collections WHERE name = ?", arguments: [spec.name]) != nil {
                throw OperationsError(.conflict, "collection '\(spec.name)' already exists")
            }
            let limits = try Self.limits(db, owner: spec.owner)
            let owned = try Int.fetchOne(db, sql: "SELECT count(*) FROM collections WHERE owner = ?", arguments: [spec.owner]) ?? 0
            if owned + 1 > limits.maxCollections {
                throw OperationsError(.quotaExceeded, "quota exceeded for owner '\(spec.owner)': max_collections is \(limits.maxCollections), \(owned) in use")
            }
            try Self.checkOperationRate(db, owner: spec.owner, limits: limits)
            let now = WallClock.now()
            try db.execute(sql: """
                INSERT INTO collections (id, name, description, owner, embedder, dimension, chunk_size, chunk_overlap, distance,
                    vector_store_name, status, status_message, created_at, updated_at, backend)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 'waiting for its first index', ?, ?, ?)
                """, arguments: [id, spec.name, spec.description, spec.owner, spec.embedder, embedder.dimension,
                                 chunker.size, chunker.overlap, distance.rawValue, "col_\(id)", now, now, backend])
            let collection = try Self.collection(db, id: id)
            try Self.audit(db, collection: collection, operationID: nil, user: user, action: .collectionCreated, details: [
                "embedder": .string(spec.embedder), "dimension": .int(Int64(embedder.dimension)),
                "chunk_size": .int(Int64(chunker.size)), "chunk_overlap": .int(Int64(chunker.overlap)),
                "distance": .string(distance.rawValue), "owner": .string(spec.owner),
            ])
            let op = try Self.enqueue(db, collection: collection, type: .index, user: user, config: config)
            return (collection, op)
        }
    }

    /// Enqueues an INDEX of a collection whose first index failed (status `error`).
    ///
    /// - Throws: ``OperationsError`` `conflict` unless the collection is in `error` or `pending` without
    ///   an active operation.
    @discardableResult
    public func reindexFromSources(_ name: String, sources: [String], user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        try Self.validateUser(user, what: "user")
        let resolved = try sources.map { (p: String) throws(OperationsError) in try Self.resolveSource(p) }
        guard Set(resolved.map(\.path)).count == resolved.count else {
            throw OperationsError(.invalidInput, "the same source is given twice for collection '\(name)'")
        }
        return try write("indexing collection '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            try requireBackend(of: c)
            guard c.status == .error || c.status == .pending else {
                throw OperationsError(.conflict, "collection '\(name)' is \(c.status.rawValue): it is indexed already; use append to add a source")
            }
            var paths = resolved
            if paths.isEmpty {
                paths = try Self.sources(db, collectionID: c.id).map { ResolvedSource(path: $0.path, kind: SourceKind(rawValue: $0.kind) ?? .directory) }
            }
            guard !paths.isEmpty else { throw OperationsError(.invalidInput, "collection '\(name)' has no source to index; give --source") }
            try Self.checkOperationRate(db, owner: c.owner, limits: try Self.limits(db, owner: c.owner))
            return try Self.enqueue(db, collection: c, type: .index, user: user, config: [
                "sources": .array(paths.map { .object(["path": .string($0.path), "type": .string($0.kind.rawValue)]) }),
                "embedder": .string(c.embedder), "chunk_size": .int(Int64(c.chunkSize)),
                "chunk_overlap": .int(Int64(c.chunkOverlap)), "distance": .string(c.distance.rawValue),
            ])
        }
    }

    /// Enqueues an APPEND of a source: new documents are added, unchanged ones skipped, changed files
    /// replaced.
    ///
    /// - Throws: ``OperationsError``: `notFound`, `invalidInput` (source), `conflict` (collection in
    ///   `error` or `pending`, or another operation active), `quotaExceeded`.
    @discardableResult
    public func append(_ name: String, source: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        try Self.validateUser(user, what: "user")
        let s = try Self.resolveSource(source)
        return try write("appending to collection '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            try requireBackend(of: c)
            switch c.status {
            case .error:
                throw OperationsError(.conflict, "collection '\(name)' is in error (\(c.statusMessage ?? "its index failed")): index it again or delete it before appending")
            case .pending:
                throw OperationsError(.conflict, "collection '\(name)' is not indexed yet: wait for its INDEX operation")
            default: break
            }
            try Self.checkOperationRate(db, owner: c.owner, limits: try Self.limits(db, owner: c.owner))
            return try Self.enqueue(db, collection: c, type: .append, user: user, config: [
                "source": .string(s.path), "type": .string(s.kind.rawValue),
            ])
        }
    }

    /// Enqueues the removal of a source: its points are deleted and its documents marked `deleted`.
    ///
    /// - Throws: ``OperationsError``: `notFound` (collection, or the source is not registered on it),
    ///   `conflict` (another operation active).
    @discardableResult
    public func removeSource(_ name: String, source: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        try Self.validateUser(user, what: "user")
        try Self.checkNotEmpty(source, what: "source path")
        let path = TextSourcePath.absolute(source)
        return try write("removing a source from collection '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            try requireBackend(of: c)
            if c.status == .error || c.status == .pending {
                throw OperationsError(.conflict, "collection '\(name)' is \(c.status.rawValue): index it (or delete it) before removing a source")
            }
            let registered = try Self.sources(db, collectionID: c.id)
            guard registered.contains(where: { $0.path == path }) else {
                let known = registered.map(\.path).joined(separator: ", ")
                throw OperationsError(.notFound, "source '\(path)' is not registered on collection '\(name)' (registered: \(known.isEmpty ? "none" : known))")
            }
            try Self.checkOperationRate(db, owner: c.owner, limits: try Self.limits(db, owner: c.owner))
            return try Self.enqueue(db, collection: c, type: .removeSource, user: user, config: ["source": .string(path)])
        }
    }

    /// Enqueues the deletion of a collection: its alias, its physical collections and its records go;
    /// its operations and audit log stay as history.
    ///
    /// - Throws: ``OperationsError`` `notFound`, `conflict` (another operation active: cancel it first).
    @discardableResult
    public func deleteCollection(_ name: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        try Self.validateUser(user, what: "user")
        return try write("deleting collection '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            try requireBackend(of: c)
            return try Self.enqueue(db, collection: c, type: .delete, user: user, config: ["collection": .string(c.name)])
        }
    }

    /// Enqueues a blue-green REINDEX with a new configuration (run by the reindex layer's handler).
    ///
    /// - Throws: ``OperationsError``: `notFound`, `invalidInput` (embedder, chunking, files),
    ///   `conflict` (collection in `error`, `processing` or not yet indexed; another operation active),
    ///   `quotaExceeded`. The same configuration is allowed: it rebuilds the collection from its sources.
    @discardableResult
    public func requestReindex(_ name: String, _ request: ReindexRequest, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        try Self.validateUser(user, what: "user")
        try Self.validate(request, collection: name)
        return try write("requesting a reindex of '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            try requireBackend(of: c)
            switch c.status {
            case .error: throw OperationsError(.conflict, "collection '\(name)' is in error (\(c.statusMessage ?? "its index failed")): it cannot be reindexed")
            case .processing: throw OperationsError(.conflict, "collection '\(name)' is processing another operation: it cannot be reindexed now")
            case .pending: throw OperationsError(.conflict, "collection '\(name)' is not indexed yet")
            case .ready, .degraded: break
            }
            let chunker = try Self.chunker(size: request.chunkSize ?? c.chunkSize, overlap: request.chunkOverlap ?? c.chunkOverlap)
            var config: [String: JSONValue] = [
                "embedder": .string(request.embedder ?? c.embedder),
                "chunk_size": .int(Int64(chunker.size)),
                "chunk_overlap": .int(Int64(chunker.overlap)),
                "distance": .string((request.distance ?? c.distance).rawValue),
                "previous": .object([
                    "embedder": .string(c.embedder), "chunk_size": .int(Int64(c.chunkSize)),
                    "chunk_overlap": .int(Int64(c.chunkOverlap)), "distance": .string(c.distance.rawValue),
                    "vector_store_name": .string(c.vectorStoreName),
                ]),
                "thresholds": .object(request.thresholds.mapValues { .double($0) }),
            ]
            if let q = request.queriesPath { config["queries"] = .string(TextSourcePath.absolute(q)) }
            if let q = request.qrelsPath { config["qrels"] = .string(TextSourcePath.absolute(q)) }
            if let r = request.reportPath { config["report"] = .string(TextSourcePath.absolute(r)) }
            try Self.checkOperationRate(db, owner: c.owner, limits: try Self.limits(db, owner: c.owner))
            return try Self.enqueue(db, collection: c, type: .reindex, user: user, config: config)
        }
    }

    /// Checks a reindex request without touching any store: the embedder, and the validation files read
    /// in full (a malformed line is refused now, not found after the whole reindex ran) and the report
    /// path (writable now, not failing after the run).
    ///
    /// - Throws: ``OperationsError`` `invalidInput` naming the problem (the file and line for a bad query
    ///   or judgement).
    public static func validate(_ request: ReindexRequest, collection name: String) throws(OperationsError) {
        if let e = request.embedder {
            do { _ = try Embedders.make(spec: e) } catch {
                // A service that cannot be reached or a file that cannot be read now is not bad input (exit 1, not 2).
                throw error.operationsError(error.isTransientFailure ? "embedder for reindex of '\(name)' is unavailable" : "invalid embedder for reindex of '\(name)'")
            }
        }
        if request.qrelsPath != nil && request.queriesPath == nil {
            throw OperationsError(.invalidInput, "relevance labels (qrels) need a queries file")
        }
        if let q = request.queriesPath { _ = try ValidationInputs.loadQueries(q, qrels: request.qrelsPath) }
        if let r = request.reportPath { try ValidationInputs.checkReportPath(r) }
        _ = try chunker(size: request.chunkSize ?? 600, overlap: request.chunkOverlap ?? 0)
    }

    /// Cancels an operation: a pending one at once; a processing one is asked to stop, and its worker
    /// ends it `cancelled` at the next batch boundary (or recovery does, if the worker is gone).
    ///
    /// - Parameter id: The operation's id (or a unique prefix of at least 8 characters).
    /// - Returns: The operation after the request.
    /// - Throws: ``OperationsError`` `notFound`; `conflict` when it is already final.
    @discardableResult
    public func cancel(_ id: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> OperationRecord {
        let op = try write("cancelling operation \(id)") { db in
            let op = try Self.operation(db, idOrPrefix: id)
            switch op.status {
            case .completed, .failed, .cancelled:
                throw OperationsError(.conflict, "operation \(op.id) is already \(op.status.rawValue); only pending or processing operations can be cancelled")
            case .pending:
                try Self.finish(db, op, status: .cancelled, error: "cancelled by \(user) before it started", user: user)
            case .processing:
                try db.execute(sql: "UPDATE operations SET cancel_requested = 1 WHERE id = ?", arguments: [op.id])
            }
            return try Self.operation(db, idOrPrefix: op.id)
        }
        // A pending operation with earlier attempts (waiting for a retry) may have left partial work.
        if op.status == .cancelled && op.attempts > 0 && (op.type == .index || op.type == .append) {
            deletePointsOfUnfinishedDocuments(operationID: op.id)
        }
        return op
    }

    // MARK: - Helpers shared by requests

    /// Checks a new collection's request without touching any store: name, owner, user, embedder,
    /// chunking and sources (at least one, each usable, none twice).
    ///
    /// - Throws: ``OperationsError`` `invalidInput` naming the problem.
    public static func validate(_ spec: CollectionSpec, sources: [String], user: String) throws(OperationsError) {
        _ = try check(spec, sources: sources, user: user)
    }

    static func check(_ spec: CollectionSpec, sources: [String], user: String) throws(OperationsError)
        -> (any Embedder, Chunker, [ResolvedSource])
    {
        do { try Names.validate(spec.name, what: "collection") } catch { throw OperationsError(.invalidInput, error.message) }
        try validateUser(user, what: "user")
        try validateUser(spec.owner, what: "owner")
        let embedder: any Embedder
        do { embedder = try Embedders.make(spec: spec.embedder) } catch {
            // A service that cannot be reached or a file that cannot be read now is not bad input (exit 1, not 2).
            throw error.operationsError(error.isTransientFailure ? "embedder for collection '\(spec.name)' is unavailable" : "invalid embedder for collection '\(spec.name)'")
        }
        let chunker = try chunker(size: spec.chunkSize, overlap: spec.chunkOverlap)
        guard !sources.isEmpty else { throw OperationsError(.invalidInput, "collection '\(spec.name)' needs at least one source to index") }
        let resolved = try sources.map { (p: String) throws(OperationsError) in try resolveSource(p) }
        guard Set(resolved.map(\.path)).count == resolved.count else {
            throw OperationsError(.invalidInput, "the same source is given twice for collection '\(spec.name)'")
        }
        return (embedder, chunker, resolved)
    }

    static func enqueue(_ db: Database, collection c: ManagedCollection, type: OperationType, user: String,
                        config: [String: JSONValue]) throws -> OperationRecord {
        if let active = try Row.fetchOne(db, sql: """
            SELECT id, type, status FROM operations WHERE collection_id = ? AND status IN ('pending', 'processing')
            """, arguments: [c.id]) {
            throw OperationsError(.conflict, "collection '\(c.name)' already has an active operation \(active["id"] as String) (\(active["type"] as String), \(active["status"] as String)); wait for it or cancel it")
        }
        // A rollback between its intent and its commit checked that no operation runs and no document changed;
        // nothing may start until it commits (or recovery undoes it).
        if try Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE collection_id = ? AND kind = 'rollback'", arguments: [c.id]) != nil {
            throw OperationsError(.conflict, "collection '\(c.name)' has a rollback in progress; try again once it has finished (or once recovery has undone it)")
        }
        let id = UUID().uuidString.lowercased()
        let now = WallClock.now()
        let seq = (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM operations") ?? 0) + 1
        try db.execute(sql: """
            INSERT INTO operations (id, seq, collection_id, collection_name, user, type, status, config, run_after, created_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
            """, arguments: [id, seq, c.id, c.name, user, type.rawValue, JSONValue.object(config).jsonText, now, now])
        return try operation(db, idOrPrefix: id)
    }

    package static func chunker(size: Int, overlap: Int) throws(OperationsError) -> Chunker {
        do { return try Chunker(size: size, overlap: overlap) } catch { throw OperationsError(.invalidInput, error.message) }
    }

    struct ResolvedSource {
        var path: String
        var kind: SourceKind
    }

    static func resolveSource(_ path: String) throws(OperationsError) -> ResolvedSource {
        try checkNotEmpty(path, what: "source path")
        let absolute = TextSourcePath.absolute(path)
        do {
            let s = try TextSource.detect(path: absolute)
            return ResolvedSource(path: absolute, kind: s.kind)
        } catch { throw OperationsError(.invalidInput, error.message) }
    }

    /// An empty path (often an unset shell variable) would mean the current directory: refused.
    static func checkNotEmpty(_ path: String, what: String) throws(OperationsError) {
        if path.allSatisfy(\.isWhitespace) {
            throw OperationsError(.invalidInput, "the \(what) is empty (an unset shell variable?); give a file or directory")
        }
    }

    static func validateUser(_ user: String, what: String) throws(OperationsError) {
        guard !user.isEmpty, user.count <= 200, !user.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw OperationsError(.invalidInput, "invalid \(what) '\(user.prefix(60))': 1 to 200 characters, no line breaks")
        }
    }

    static func checkOperationRate(_ db: Database, owner: String, limits: ResourceLimits) throws {
        let recent = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM operations o JOIN collections c ON c.id = o.collection_id
            WHERE c.owner = ? AND o.created_at > ?
            """, arguments: [owner, WallClock.now() - 3600]) ?? 0
        if recent + 1 > limits.maxOperationsPerHour {
            throw OperationsError(.quotaExceeded, "quota exceeded for owner '\(owner)': max_operations_per_hour is \(limits.maxOperationsPerHour), \(recent) requested in the last hour")
        }
    }
}

/// Path normalisation shared with the sources (absolute, standardised).
enum TextSourcePath {
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

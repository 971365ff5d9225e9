import Locks
import Logging
import Telemetry
import Embedding
import Foundation
import Operations
import SwitchyardJSON
import VectorMath
import VectorStore

/// The reindex layer's requests beside the handler: rollback, generations, comparisons, and searches by
/// text that embed with the embedder of whichever generation the alias points to.
///
/// ```swift
/// let service = try ReindexService(manager: manager)
/// let hits = try service.search("defs", text: "a large body of water", limit: 5)
/// try service.rollback("defs")
/// ```
public final class ReindexService: Sendable {
    public let manager: CollectionManager
    private let embedders = Locked<[String: any Embedder]>([:])
    /// Managed collections found on this service's backend by a search. A managed collection keeps its
    /// backend for life, and deleting it removes its alias from that backend, so a later search by the name
    /// skips the check (one database read fewer per query) until the name stops resolving: then it checks
    /// again, and a collection recreated on another backend gets the error that says so. (A hand-made local
    /// alias of the same name that outlives the collection would be searched without that error.)
    private let onThisBackend = Locked<Set<String>>([])

    public init(manager: CollectionManager) throws(OperationsError) {
        self.manager = manager
    }

    /// A managed collection's generations, newest first.
    public func generations(of name: String) throws(OperationsError) -> [Generation] {
        let c = try manager.collection(named: name)
        return try manager.generations(collectionID: c.id)
    }

    /// Points the alias back at the newest kept generation, as intent → flip → commit (docs/reindex.md): the
    /// intent is recorded after the checks (no active operation, no document changed since that generation
    /// served), the alias moves on the backend in one atomic batch, and the collection's record (embedder,
    /// chunking, counts), the generations and the audit row (`reindex_rolled_back`) commit together. The
    /// generation that was serving is kept in turn (so a rollback can be undone by another one) and keeps its
    /// validation report. A crash or an unreachable backend between the steps leaves the intent, which
    /// housekeeping (or the next rollback) finishes or undoes by reading the alias.
    ///
    /// - Returns: The generation now serving.
    /// - Throws: ``OperationsError``: `notFound` (no kept generation, or it no longer exists), `conflict` (an
    ///   operation is active, documents changed since that generation served, another alias change is in progress).
    @discardableResult
    public func rollback(_ name: String, user: String = CollectionSpec.defaultOwner) throws(OperationsError) -> Generation {
        let c = try manager.collection(named: name)
        try manager.requireBackend(of: c)
        // An interrupted rollback of this collection is resolved first, once its process is gone (or long enough
        // ago that its alias batch is over). If it had moved the alias, finishing it is what was asked for.
        if let earlier = try manager.aliasIntents().first(where: { $0.kind == .rollback && $0.collectionID == c.id }) {
            switch try manager.recover(earlier, minimumAge: manager.intentSafeAge) {
            case .finished:
                if let g = try generations(of: name).first(where: { $0.vectorStoreName == earlier.to }) { return g }
            case .undone: break
            case .left:
                let age = Int(WallClock.now() - earlier.createdAt.timeIntervalSince1970)
                let owner = earlier.details["owner"]?["pid"].map { " by process \($0.jsonText)" } ?? ""
                throw OperationsError(.conflict, "a rollback of '\(name)' began \(age) s ago\(owner) and may still be running; try again once it has finished (at the latest in \(max(1, Int(manager.intentSafeAge) - age)) s)")
            }
        }
        guard let kept = try manager.keptGenerations(collectionID: c.id).first else {
            throw OperationsError(.notFound, "collection '\(name)' has no kept generation to roll back to")
        }
        guard try CollectionManager.guarded("checking '\(kept.vectorStoreName)'", { try manager.vectors.collectionExists(kept.vectorStoreName) }) else {
            throw OperationsError(.notFound, "the kept generation '\(kept.vectorStoreName)' of '\(name)' no longer exists")
        }
        let faults = try FaultInjector.fromEnvironment()
        let (intent, target) = try manager.recordRollbackIntent(name, user: user)
        try faults.hit("rollback.intent")
        do {
            try CollectionManager.guarded("moving alias '\(c.name)' to '\(target.vectorStoreName)'") {
                try manager.vectors.updateAliases([.create(alias: c.name, collection: target.vectorStoreName)])
            }
        } catch {
            // The batch is atomic on the backend, but its answer may have been lost after it was applied: the intent
            // is discarded only when the alias is certainly where it was; otherwise recovery resolves it.
            do {
                if try manager.aliasTarget(c.name) == intent.from {
                    try manager.discardIntent(intent, reason: "the alias batch failed: \(error)", user: user)
                }
            } catch let check {
                Log.reindex.warning("the rollback's alias batch failed and the alias could not be checked; recovery resolves it",
                                    metadata: ["collection": "\(name)", "error": "\(check)"])
            }
            throw error
        }
        try faults.hit("rollback.flip")
        try manager.commitRollback(intent)
        return try generations(of: name).first { $0.vectorStoreName == target.vectorStoreName }!
    }

    /// The embedder spec a physical collection's vectors were made with (its generation, the collection
    /// it serves, or the reindex building it).
    ///
    /// - Throws: ``OperationsError`` `notFound` for a collection the managed layer does not know.
    public func embedderSpec(ofPhysical name: String) throws(OperationsError) -> String {
        try manager.embedderSpec(ofPhysical: name)
    }

    /// The generation record of a physical collection (recorded by a reindex, or the serving one).
    public func generationConfig(of physical: String) throws(OperationsError) -> Generation {
        try manager.generationConfig(of: physical)
    }

    /// A comparison side for a managed collection's name, an alias, or a physical collection.
    public func side(_ label: String, _ nameOrAlias: String, embedder: String? = nil) throws(OperationsError) -> ComparisonSide {
        try checkBackend(nameOrAlias)
        let physical = try CollectionManager.guarded("resolving '\(nameOrAlias)'") { try manager.vectors.resolve(nameOrAlias) }
        let spec: String
        if let embedder { spec = embedder } else { spec = try embedderSpec(ofPhysical: physical) }
        return try ComparisonSide(label: label, collection: physical, embedderSpec: spec)
    }

    /// Searches a managed collection (or an alias, or a physical collection) by text: resolves the name,
    /// embeds with that generation's embedder, searches that physical collection. If the generation is
    /// dropped between the two steps (the alias moved on), it resolves again.
    public func search(_ name: String, text: String, limit: Int = 10, filter: Filter? = nil, withPayload: Bool = true) throws(OperationsError) -> (collection: String, hits: [ScoredPoint]) {
        let checked = onThisBackend.withLock { $0.contains(name) }
        if !checked { try checkBackend(name) }
        do {
            return try searchResolving(name, text: text, limit: limit, filter: filter, withPayload: withPayload)
        } catch where error.code == .notFound && checked {
            // Deleted since it was checked (and perhaps recreated elsewhere): check again, then search again.
            onThisBackend.withLock { _ = $0.remove(name) }
            try checkBackend(name)
            return try searchResolving(name, text: text, limit: limit, filter: filter, withPayload: withPayload)
        }
    }

    private func searchResolving(_ name: String, text: String, limit: Int, filter: Filter?, withPayload: Bool) throws(OperationsError) -> (collection: String, hits: [ScoredPoint]) {
        var lastError: OperationsError?
        for _ in 0..<5 {
            let physical = try CollectionManager.guarded("resolving '\(name)'") { try manager.vectors.resolve(name) }
            let spec = try embedderSpec(ofPhysical: physical)  // in memory after the first time
            let vector = try embed(text, spec: spec)
            do {
                let hits = try manager.vectors.search(physical, SearchRequest(vector: vector, limit: limit, filter: filter, withPayload: withPayload))
                return (physical, hits)
            } catch where error.code == .notFound {
                lastError = OperationsError(.notFound, error.description)
                continue
            } catch {
                throw CollectionManager.classify(error, doing: "searching '\(name)'")
            }
        }
        throw lastError ?? OperationsError(.notFound, "'\(name)' kept moving while it was searched")
    }

    /// A managed collection of that name must live on this manager's backend.
    private func checkBackend(_ name: String) throws(OperationsError) {
        let c: ManagedCollection
        do { c = try manager.collection(named: name) } catch where error.code == .notFound { return }
        try manager.requireBackend(of: c)
        onThisBackend.withLock { _ = $0.insert(name) }
    }

    private func embed(_ text: String, spec: String) throws(OperationsError) -> [Float] {
        let embedder: any Embedder
        if let e = embedders.withLock({ $0[spec] }) { embedder = e } else {
            do { embedder = try Embedders.make(spec: spec) } catch { throw error.operationsError("the embedder of the query") }
            embedders.withLock { $0[spec] = embedder }
        }
        do {
            return try embedder.embedBlocking([text])[0]
        } catch { throw CollectionManager.classify(error, doing: "embedding the query") }
    }
}

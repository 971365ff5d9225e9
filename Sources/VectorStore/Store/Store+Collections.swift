import Locks
import Synchronization
import Telemetry
import Foundation
import GRDB
import Logging
import VectorMath

extension Store {
    /// Creates an empty collection.
    ///
    /// - Parameters:
    ///   - name: see ``Names/rule``; must not be an existing collection or alias.
    ///   - dimension: components per vector, 1 to 65,536.
    ///   - distance: how vectors are compared.
    /// - Throws: ``StoreError`` — `invalidArgument` for a bad name or dimension, `alreadyExists` when taken.
    @discardableResult
    public func createCollection(_ name: String, dimension: Int, distance: Distance) throws(StoreError) -> CollectionInfo {
        try measured("create_collection") { () throws(StoreError) in try createCollectionUnmeasured(name, dimension: dimension, distance: distance) }
    }

    /// Creates an empty collection with several named vectors per point (Qdrant's named vectors), each
    /// with its own size and distance. A point's vector is the concatenation of its named vectors in this
    /// order; searches say which one they use (``SearchRequest/using``).
    ///
    /// - Parameters:
    ///   - vectors: at least one; names unique, 1 to 255 characters without control characters; sizes
    ///     1 to 65,536 each and together.
    /// - Throws: ``StoreError`` — `invalidArgument` for a bad name or size, `alreadyExists` when taken.
    @discardableResult
    public func createCollection(_ name: String, vectors: [VectorSpace]) throws(StoreError) -> CollectionInfo {
        try createCollection(name, vectors: vectors, quantization: nil)
    }

    /// Named vectors with scalar quantization (each named vector gets its own int8 copy; Manhattan ones stay exact).
    @discardableResult
    public func createCollection(_ name: String, vectors: [VectorSpace], quantization: ScalarQuantization?) throws(StoreError) -> CollectionInfo {
        try quantization?.validate()
        guard !vectors.isEmpty else { throw .invalid("collection '\(name)' needs at least one named vector") }
        var seen = Set<String>()
        for v in vectors {
            guard !v.name.isEmpty, v.name.unicodeScalars.count <= 255,
                  !v.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .invalid("invalid vector name '\(v.name)' in collection '\(name)': 1 to 255 characters, no control characters")
            }
            guard seen.insert(v.name).inserted else { throw .invalid("collection '\(name)' names vector '\(v.name)' twice") }
            guard (1...65_536).contains(v.dimension) else {
                throw .invalid("invalid size \(v.dimension) for vector '\(v.name)' of collection '\(name)': must be between 1 and 65536")
            }
        }
        let total = vectors.reduce(0) { $0 + $1.dimension }
        guard total <= 65_536 else {
            throw .invalid("collection '\(name)': its named vectors have \(total) components together, more than 65536")
        }
        return try measured("create_collection") { () throws(StoreError) in
            try createCollectionUnmeasured(name, dimension: total, distance: vectors[0].distance, spaces: vectors, quantization: quantization)
        }
    }

    /// Creates an empty collection with scalar quantization (int8): searches scan an int8 copy of the vectors
    /// and rescore the best candidates with the float ones (``SearchRequest/quantization``).
    ///
    /// - Throws: ``StoreError`` — `invalidArgument` for a bad name, size or quantile, `alreadyExists` when taken.
    @discardableResult
    public func createCollection(_ name: String, dimension: Int, distance: Distance, quantization: ScalarQuantization?) throws(StoreError) -> CollectionInfo {
        try quantization?.validate()
        return try measured("create_collection") { () throws(StoreError) in
            try createCollectionUnmeasured(name, dimension: dimension, distance: distance, quantization: quantization)
        }
    }

    func createCollectionUnmeasured(_ name: String, dimension: Int, distance: Distance, spaces: [VectorSpace]? = nil,
                                    quantization: ScalarQuantization? = nil) throws(StoreError) -> CollectionInfo {
        try Names.validate(name, what: "collection")
        guard (1...65_536).contains(dimension) else {
            throw .invalid("invalid dimension \(dimension) for collection '\(name)': must be between 1 and 65536")
        }
        let created = Date()
        var found = CatalogIDs(collections: [:], aliases: [:])
        var row: CatalogRow?
        // Committed: the catalog takes the new collection in place (or is reloaded; a failure to reload it
        // must not make the call look failed: the next call retries, since the generation moved on).
        try write("creating collection '\(name)'", changingCatalog: { before, after in
            guard let row else { return self.refreshAfterWrite() }
            self.noteCatalogChange(found: found, before: before, after: after) { c in c.byName[row.name] = CollectionHandle(row) }
        }) { db in
            found = try CatalogIDs.read(db)
            if found.collections[name] != nil {
                throw StoreError(.alreadyExists, "collection '\(name)' already exists")
            }
            if found.aliases[name] != nil {
                throw StoreError(.alreadyExists, "'\(name)' is already an alias; a collection cannot take an alias's name")
            }
            try db.execute(
                sql: "INSERT INTO vector_collections (name, dimension, distance, created_at, vectors, quantization) VALUES (?, ?, ?, ?, ?, ?)",
                // Named vectors: the distance column says so, so a build that predates them refuses the
                // collection ("unknown distance") instead of reading its rows as one vector.
                arguments: [name, dimension, spaces == nil ? distance.rawValue : Self.namedDistanceMarker, created.timeIntervalSince1970,
                            spaces.map(Self.encodeSpaces), quantization?.json.jsonText])
            let id = db.lastInsertedRowID
            try Schema.createCollectionTables(db, id: id)
            row = try Self.readCatalog(db, id: id).first
            return ((), {})
        }
        return CollectionInfo(name: name, dimension: dimension, distance: distance, createdAt: created, pointCount: 0, aliases: [],
                              vectors: spaces, quantization: quantization)
    }

    /// Every collection, sorted by name.
    public func collections() throws(StoreError) -> [CollectionInfo] {
        try refreshIfNeeded()
        let c = catalog.withLock { $0 }
        var out: [CollectionInfo] = []
        for name in c.byName.keys.sorted() { out.append(try info(c.byName[name]!, catalog: c)) }
        return out
    }

    /// A collection's configuration and point count (`nameOrAlias` may be an alias).
    ///
    /// - Throws: ``StoreError`` `notFound`.
    public func collectionInfo(_ nameOrAlias: String) throws(StoreError) -> CollectionInfo {
        let h = try handle(nameOrAlias)
        return try info(h, catalog: catalog.withLock { $0 })
    }

    /// The collection a name or alias resolves to, with its dimension and distance, from the catalog (no
    /// count, no database read when the catalog is current): cheap enough for every write to check shapes.
    public func collectionShape(_ nameOrAlias: String) throws(StoreError) -> CollectionShape {
        let h = try handle(nameOrAlias)
        return CollectionShape(name: h.name, dimension: h.dimension, distance: h.distance, vectors: h.spaces)
    }

    func info(_ h: CollectionHandle, catalog c: Catalog) throws(StoreError) -> CollectionInfo {
        let count: Int
        if let n = h.lock.withReadLock({ h.loaded ? h.rowOf.count : nil }) {
            count = n
        } else {
            count = try database("counting points of '\(h.name)'") {
                try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM points_\(h.id)") ?? 0 }
            }
        }
        let aliases = c.aliases.filter { $0.value == h.name }.map(\.key).sorted()
        return CollectionInfo(name: h.name, dimension: h.dimension, distance: h.distance, createdAt: h.createdAt,
                              pointCount: count, aliases: aliases, vectors: h.spaces, quantization: h.quantization)
    }

    /// Whether a collection (not an alias) of this name exists.
    public func collectionExists(_ name: String) throws(StoreError) -> Bool {
        try refreshIfNeeded()
        return catalog.withLock { $0.byName[name] != nil }
    }

    /// Drops a collection, its points and the aliases that point to it (as Qdrant does).
    ///
    /// Searches already running on it finish on what they started with. The name must be a
    /// collection, not an alias (dropping through an alias is refused to avoid surprises).
    ///
    /// - Throws: ``StoreError`` `notFound`.
    public func dropCollection(_ name: String) throws(StoreError) {
        try measured("drop_collection") { () throws(StoreError) in try dropCollectionUnmeasured(name) }
    }

    func dropCollectionUnmeasured(_ name: String) throws(StoreError) {
        try refreshIfNeeded()
        if catalog.withLock({ $0.byName[name] == nil && $0.aliases[name] != nil }) {
            throw .invalid("'\(name)' is an alias; drop the collection it points to by its own name")
        }
        // Held until the end: its memory (rows, payloads, the int8 copy) is freed here, after the catalog's lock
        // and the refresh gate are released, not under them while readers wait (milliseconds for 6,000 points).
        let dropped = catalog.withLock { $0.byName[name] }
        defer { withExtendedLifetime(dropped) {} }
        var found = CatalogIDs(collections: [:], aliases: [:])
        try write("dropping collection '\(name)'", changingCatalog: { before, after in
            self.noteCatalogChange(found: found, before: before, after: after) { c in
                c.byName[name] = nil
                c.aliases = c.aliases.filter { $0.value != name }
            }
        }) { db in
            found = try CatalogIDs.read(db)
            guard let id = found.collections[name] else {
                throw StoreError.notFound("collection '\(name)' not found")
            }
            try db.execute(sql: "DELETE FROM vector_aliases WHERE collection_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM vector_collections WHERE id = ?", arguments: [id])
            // O(1) inside the catalog transaction: the tables move aside and are dropped right after,
            // in their own transaction, so readers and the catalog never wait on the page walk.
            try Schema.moveCollectionTablesToTrash(db, id: id)
            return ((), {})
        }
        purgeTrash()
    }

    /// Drops tables of dropped collections (left behind if a process died between the two steps).
    /// A failure (a busy database) leaves them for the next open or drop, and is logged.
    func purgeTrash() {
        do {
            try pool.writeWithoutTransaction { db in
                let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'trash\\_%' ESCAPE '\\'")
                for n in names where n.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    try db.execute(sql: "DROP TABLE IF EXISTS \(n)")
                }
            }
        } catch {
            Log.store.warning("dropping the tables of dropped collections failed; the next open or drop tries again",
                              metadata: ["store": "\(directory)", "error": "\(error)"])
        }
    }

    /// Reloads the catalog after this process changed it. A failure is harmless (the next call
    /// refreshes first) but logged.
    func refreshAfterWrite() {
        do { try refresh() } catch {
            Log.store.notice("catalog refresh after a write failed; the next call refreshes", metadata: ["error": "\(error)"])
        }
    }

    /// Memory a collection's vectors hold in this process (loading it first): the float rows (with their norms
    /// and keys), the int8 copy of a collection with scalar quantization, and the int8 copy screening exact
    /// searches, capacity included.
    public func memory(_ nameOrAlias: String) throws(StoreError) -> CollectionMemory {
        let h = try loadedHandle(nameOrAlias)
        return h.lock.withReadLock {
            let all = [h.matrix] + h.spaceMatrices
            return CollectionMemory(vectorBytes: all.reduce(0) { $0 + $1.allocatedBytes },
                                    quantizedBytes: all.reduce(0) { $0 + ($1.quantized?.allocatedBytes ?? 0) },
                                    screenBytes: all.reduce(0) { $0 + ($1.screen?.allocatedBytes ?? 0) })
        }
    }

    /// Searches running right now on the collection behind `nameOrAlias` (a later cleanup waits for 0).
    public func activeSearches(_ nameOrAlias: String) throws(StoreError) -> Int {
        try handle(nameOrAlias).activeSearches.load(ordering: .relaxed)
    }
}

extension Store {
    // MARK: - Aliases

    /// Every alias, sorted by alias name.
    public func aliases() throws(StoreError) -> [AliasInfo] {
        try refreshIfNeeded()
        return catalog.withLock { c in c.aliases.map { AliasInfo(alias: $0.key, collection: $0.value) } }
            .sorted { $0.alias < $1.alias }
    }

    /// The collection a name designates: itself if it is a collection, its target if an alias.
    ///
    /// - Throws: ``StoreError`` `notFound`.
    public func resolve(_ nameOrAlias: String) throws(StoreError) -> String {
        try handle(nameOrAlias).name
    }

    /// Applies alias actions in one transaction: all or nothing. The batch is validated whole
    /// (against the state the earlier actions of the batch produce) before anything is written, and
    /// readers see the old mapping or the new one, never a mix.
    ///
    /// ```swift
    /// try store.updateAliases([.delete(alias: "docs"), .create(alias: "docs", collection: "docs_v2")])
    /// ```
    /// - Parameters:
    ///   - actions: Applied in order; all or none.
    ///   - alongside: Runs in the same transaction after the actions (e.g. the managed layer's records
    ///     of a switch); when it throws, nothing changes and the error is rethrown as ``StoreError``
    ///   (a `StoreError` it throws passes through). When it changes collections, points or aliases,
    ///   memory is reloaded in full after the commit instead of taking the batch as an alias change only.
    /// - Throws: ``StoreError`` naming the failing action (`actions[i]`) and why.
    /// - Returns: Where the time went (the alias rows, the rest of the transaction, the commit, the
    ///   in-memory catalog readers resolve through).
    @discardableResult
    public func updateAliases(_ actions: [AliasAction], alongside: (Database) throws -> Void) throws(StoreError) -> AliasUpdateTiming {
        try measured("update_aliases") { () throws(StoreError) in try applyAliases(actions, alongside: alongside, checkingAlongside: true) }
    }

    /// Applies alias actions atomically (see ``updateAliases(_:alongside:)``).
    public func updateAliases(_ actions: [AliasAction]) throws(StoreError) {
        _ = try measured("update_aliases") { () throws(StoreError) in try applyAliases(actions, alongside: { _ in }) }
    }

    /// Applies alias actions with Qdrant's server semantics where they are laxer than ``updateAliases(_:)``:
    /// deleting a missing alias does nothing, and renaming onto an existing alias replaces it. The batch is
    /// still checked whole and applied in one transaction (Qdrant applies the actions one by one).
    public func updateAliasesAsQdrant(_ actions: [AliasAction]) throws(StoreError) {
        _ = try measured("update_aliases") { () throws(StoreError) in try applyAliases(actions, lenient: true, alongside: { _ in }) }
    }

    @discardableResult
    private func applyAliases(_ actions: [AliasAction], lenient: Bool = false,
                              alongside: (Database) throws -> Void, checkingAlongside: Bool = false) throws(StoreError) -> AliasUpdateTiming {
        let start = ContinuousClock.now
        var began = start
        var aliasesWritten = start
        var bodyDone = start
        guard !actions.isEmpty else { throw .invalid("alias update needs at least one action") }
        for (i, a) in actions.enumerated() {
            switch a {
            case .create(let alias, let collection):
                try Names.validate(alias, what: "alias (actions[\(i)])")
                try Names.validate(collection, what: "collection (actions[\(i)])")
            case .delete(let alias):
                try Names.validate(alias, what: "alias (actions[\(i)])")
            case .rename(let from, let to):
                try Names.validate(from, what: "alias (actions[\(i)])")
                try Names.validate(to, what: "alias (actions[\(i)])")
            }
        }
        var found = CatalogIDs(collections: [:], aliases: [:])
        var aliases: [String: Int64] = [:]
        var aliasesOnly = true
        var committed = start
        var refreshed = start
        try write("updating aliases", changingCatalog: { before, after in
            committed = ContinuousClock.now
            defer { refreshed = ContinuousClock.now }
            guard aliasesOnly else { return self.refreshAfterWrite() }
            let nameOf = Dictionary(uniqueKeysWithValues: found.collections.map { ($0.value, $0.key) })
            self.noteCatalogChange(found: found, before: before, after: after) { c in
                c.aliases = aliases.compactMapValues { nameOf[$0] }
            }
        }) { db in
            began = ContinuousClock.now
            found = try CatalogIDs.read(db)
            let collections = found.collections
            aliases = found.aliases
            for (i, a) in actions.enumerated() {
                switch a {
                case .create(let alias, let collection):
                    guard let id = collections[collection] else {
                        throw StoreError.notFound("actions[\(i)]: collection '\(collection)' not found (aliases must point to a collection, not to another alias)")
                    }
                    if collections[alias] != nil {
                        throw StoreError(.alreadyExists, "actions[\(i)]: '\(alias)' is a collection; an alias cannot take a collection's name")
                    }
                    aliases[alias] = id
                case .delete(let alias):
                    guard aliases.removeValue(forKey: alias) != nil || lenient else {
                        throw StoreError.notFound("actions[\(i)]: alias '\(alias)' not found")
                    }
                case .rename(let from, let to):
                    guard let id = aliases[from] else { throw StoreError.notFound("actions[\(i)]: alias '\(from)' not found") }
                    if collections[to] != nil {
                        throw StoreError(.alreadyExists, "actions[\(i)]: '\(to)' is a collection; an alias cannot take a collection's name")
                    }
                    if aliases[to] != nil, from != to, !lenient {
                        throw StoreError(.alreadyExists, "actions[\(i)]: alias '\(to)' already exists")
                    }
                    aliases.removeValue(forKey: from)
                    aliases[to] = id
                }
            }
            try db.execute(sql: "DELETE FROM vector_aliases")
            let insert = try db.cachedStatement(sql: "INSERT INTO vector_aliases (alias, collection_id) VALUES (?, ?)")
            for (alias, id) in aliases { try insert.execute(arguments: [alias, id]) }
            aliasesWritten = ContinuousClock.now
            if checkingAlongside {
                // Memory takes the batch as an alias change only if the caller's records left the catalog,
                // the aliases and every collection's points as the batch made them.
                let marks = try Self.catalogFingerprint(db)
                try alongside(db)
                aliasesOnly = try Self.catalogFingerprint(db) == marks
            } else {
                try alongside(db)
            }
            bodyDone = ContinuousClock.now
            return ((), {})
        }
        return AliasUpdateTiming(aliasRowsSeconds: (aliasesWritten - began).seconds, alongsideSeconds: (bodyDone - aliasesWritten).seconds,
                                 commitSeconds: (committed - bodyDone).seconds, catalogSeconds: (refreshed - committed).seconds,
                                 totalSeconds: (refreshed - start).seconds)
    }
}

extension Store {
    /// The collections, the aliases and the sequence numbers of every collection's points and tombstones
    /// (an upsert or a delete moves them), as one comparable value.
    static func catalogFingerprint(_ db: Database) throws -> [String?] {
        try Row.fetchOne(db, sql: """
            SELECT (SELECT group_concat(name || ':' || seq, ',') FROM sqlite_sequence
                    WHERE name = 'vector_collections' OR name GLOB 'points_*' OR name GLOB 'tombstones_*'),
                   (SELECT group_concat(id || ':' || name, ',') FROM vector_collections),
                   (SELECT group_concat(alias || ':' || collection_id, ',') FROM vector_aliases)
            """).map { [$0[0], $0[1], $0[2]] } ?? []
    }
}

/// Where an alias update's time went.
public struct AliasUpdateTiming: Sendable, Equatable {
    /// Inside the transaction: reading the catalog, checking the actions, rewriting the alias rows.
    public var aliasRowsSeconds: Double
    /// Inside the transaction: the caller's `alongside` records, with the check that they left the catalog,
    /// the aliases and the points as the batch made them.
    public var alongsideSeconds: Double
    /// The commit (with `synchronous=FULL`, the WAL's fsync), and the wait for the refresh gate before it (a
    /// refresh that a search of this process started holds it).
    public var commitSeconds: Double
    /// Updating the in-memory catalog readers resolve names through: the alias map swapped in place, or a
    /// full reload when another instance (or process) committed since this one last looked, a refresh of
    /// this process raced the swap, or `alongside` changed collections, points or aliases.
    public var catalogSeconds: Double
    /// From the call to its return (includes waiting for SQLite's write lock).
    public var totalSeconds: Double
}

import Foundation
import GRDB
import Locks
import Synchronization
import Telemetry
import VectorMath

// MARK: - Keeping memory in step with the database (this and other processes)

/// Rows and tombstones committed after what memory reflects.
struct PendingChanges {
    var rows: [(seq: Int64, id: PointID, vector: [Float], payload: Payload?)] = []
    var tombstones: [(seq: Int64, id: PointID)] = []
    /// The highest sequence numbers ever handed out in the snapshot (rows since deleted included):
    /// once applied, memory reflects the snapshot up to them, so an older snapshot applied later by
    /// a concurrent refresh cannot bring back a row this one no longer had.
    var pointHighWater: Int64 = 0
    var tombHighWater: Int64 = 0
    /// The store generation of the snapshot these changes were read in.
    var generation: Int64 = -1
}

extension Store {
    /// Reads the generation counter; when another process (or a write in this one) committed since
    /// the last refresh, reloads the catalog and applies what changed to loaded collections.
    ///
    /// - Returns: the generation read (what a collection must reflect to be current).
    @discardableResult
    func refreshIfNeeded() throws(StoreError) -> Int64 {
        let current = try generationProbes.read()
        guard current != knownGeneration.load(ordering: .acquiring) else { return current }
        // One refresh at a time: the threads that find the same new generation wait for the first one's
        // refresh instead of each reading the catalog and every loaded collection's changes at once.
        // What the refresh replaced (a collection another process dropped, with its memory) is released
        // after the gate, not while the threads that found the drop wait there.
        let replaced = try refreshGate.withLock { refreshes throws(StoreError) -> Catalog? in
            guard knownGeneration.load(ordering: .acquiring) < current else { return nil }
            refreshes += 1
            return try refresh()
        }
        withExtendedLifetime(replaced) {}
        return current
    }

    /// Whether collection `id` is still in the catalog (a handle may outlive a drop by another thread or process).
    static func collectionExists(_ db: Database, id: Int64) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT 1 FROM vector_collections WHERE id = ?", arguments: [id]) != nil
    }

    /// Raises the known generation to `generation` (never lowers it: refreshes may finish out of order).
    func noteGeneration(_ generation: Int64) {
        knownGeneration.raise(to: generation)
    }

    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'generation'") ?? 0
    }

    /// Reloads the catalog and every loaded collection's changes from one consistent snapshot.
    ///
    /// - Returns: The catalog it replaced (nil when a newer one was already in place), for the caller to
    ///   release where no one waits for it: a collection dropped elsewhere frees its memory with it.
    @discardableResult
    func refresh() throws(StoreError) -> Catalog? {
        // Copy the handles out first: never wait on a collection's lock while holding the catalog's.
        let all = catalog.withLock { c in Array(c.byName.values) }
        let loadedHandles = all.filter { h in h.lock.withReadLock { h.loaded } }
        let marks = loadedHandles.map { h in h.lock.withReadLock { (id: h.id, pointSeq: h.pointSeq, tombSeq: h.tombSeq) } }
        options.telemetry.storeSync("refresh")
        let snapshot = try database("refreshing the store") {
            try pool.read { db -> (Int64, [CatalogRow], [(String, Int64)], [Int64: PendingChanges]) in
                let generation = try Self.generation(db)
                let rows = try Self.readCatalog(db)
                let aliases = try Row.fetchAll(db, sql: "SELECT alias, collection_id FROM vector_aliases").map { r in
                    (r[0] as String, r[1] as Int64)
                }
                var changes: [Int64: PendingChanges] = [:]
                let live = Set(rows.map(\.id))
                for (id, pseq, tseq) in marks where live.contains(id) {
                    guard let dimension = rows.first(where: { $0.id == id })?.dimension else { continue }
                    var ch = try Self.readChanges(db, collectionID: id, dimension: dimension, afterPointSeq: pseq, afterTombSeq: tseq)
                    ch.generation = generation
                    changes[id] = ch
                }
                return (generation, rows, aliases, changes)
            }
        }
        let (generation, rows, aliasRows, changes) = snapshot
        // The catalog replaced is released after the lock (by the caller), not while every name lookup waits.
        let previous = catalog.withLock { c -> Catalog? in
            guard generation >= c.generation else { return nil }
            var byID: [Int64: CollectionHandle] = [:]
            for h in c.byName.values { byID[h.id] = h }
            var next = Catalog()
            next.generation = generation
            for r in rows {
                next.byName[r.name] = byID[r.id] ?? CollectionHandle(r)
            }
            let nameOf = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.name) })
            for (alias, cid) in aliasRows { if let n = nameOf[cid] { next.aliases[alias] = n } }
            defer { c = next }
            return c
        }
        for (h, mark) in zip(loadedHandles, marks) {
            guard let ch = changes[h.id] else { continue }
            Self.record(ch, in: h, pointSeq: mark.pointSeq, tombSeq: mark.tombSeq)
        }
        noteGeneration(generation)
        return previous
    }

    /// The collections (name → id) and aliases (alias → collection id) a catalog-changing transaction of this
    /// process read before it changed them: what the in-memory catalog must hold for the change to be applied
    /// to it in place (``noteCatalogChange(found:before:after:_:)``).
    struct CatalogIDs {
        var collections: [String: Int64]
        var aliases: [String: Int64]

        static func read(_ db: Database) throws -> CatalogIDs {
            let collections = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, id FROM vector_collections").map {
                ($0[0] as String, $0[1] as Int64)
            })
            let aliases = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT alias, collection_id FROM vector_aliases").map {
                ($0[0] as String, $0[1] as Int64)
            })
            return CatalogIDs(collections: collections, aliases: aliases)
        }
    }

    /// After this process committed a change to the catalog alone (collections created or dropped, aliases
    /// moved; no other collection's points), generation `before` → `after`: applies `change` to the
    /// in-memory catalog in place, without reading the database or taking any collection's lock. Readers then
    /// need no refresh, which every one of them would otherwise wait for at once (a reindex creates its
    /// staging collection, flips the alias and drops the old generation: three such moments).
    ///
    /// Only when this instance had seen everything up to `before`: the known generation is `before`, and the
    /// catalog holds the collections and aliases the transaction read (`found`). Then every collection whose
    /// memory reflected `before` reflects `after`. Otherwise it refreshes in full.
    func noteCatalogChange(found: CatalogIDs, before: Int64, after: Int64, _ change: (inout Catalog) -> Void) {
        let nameOf = Dictionary(uniqueKeysWithValues: found.collections.map { ($0.value, $0.key) })
        let applied = catalog.withLock { c -> Bool in
            guard c.generation < after, knownGeneration.load(ordering: .acquiring) == before,
                  c.byName.count == found.collections.count,
                  c.byName.allSatisfy({ found.collections[$0.key] == $0.value.id }),
                  c.aliases == found.aliases.compactMapValues({ nameOf[$0] }) else { return false }
            change(&c)
            c.generation = after
            return true
        }
        guard applied else { return refreshAfterWrite() }
        // The collections first, then the known generation: a thread that finds `after` known goes on to
        // search without the refresh gate, and must find its collection at `after` too (else it catches up).
        for h in catalog.withLock({ Array($0.byName.values) }) {
            _ = h.syncedGeneration.compareExchange(expected: before, desired: after, ordering: .acquiringAndReleasing)
        }
        // A refresh of this process may have raced the change (it is then already at `after` or later).
        if !knownGeneration.compareExchange(expected: before, desired: after, ordering: .acquiringAndReleasing).exchanged { refreshAfterWrite() }
    }

    struct CatalogRow {
        var id: Int64
        var name: String
        var dimension: Int
        var distance: Distance
        var createdAt: Date
        var spaces: [VectorSpace]?
        var quantization: ScalarQuantization?
    }

    /// The catalog's rows, or the one of collection `id`.
    static func readCatalog(_ db: Database, id: Int64? = nil) throws -> [CatalogRow] {
        let sql = "SELECT id, name, dimension, distance, created_at, vectors, quantization FROM vector_collections"
        return try (id.map { try Row.fetchAll(db, sql: sql + " WHERE id = ?", arguments: [$0]) } ?? Row.fetchAll(db, sql: sql)).map { r in
            let d: String = r[3]
            let name: String = r[1]
            let dimension: Int = r[2]
            let quantization = try decodeQuantization(r[6], collection: name)
            if d == namedDistanceMarker {
                guard let spaces = try decodeSpaces(r[5], collection: name, dimension: dimension) else {
                    throw StoreError(.storage, "collection '\(name)' is marked as having named vectors but lists none in the database")
                }
                return CatalogRow(id: r[0], name: name, dimension: dimension, distance: spaces[0].distance,
                                  createdAt: Date(timeIntervalSince1970: r[4]), spaces: spaces, quantization: quantization)
            }
            guard let distance = Distance(rawValue: d) else {
                throw StoreError(.storage, "collection '\(name)' has an unknown distance '\(d)' in the database")
            }
            return CatalogRow(id: r[0], name: name, dimension: dimension, distance: distance, createdAt: Date(timeIntervalSince1970: r[4]),
                              quantization: quantization)
        }
    }

    static func decodeQuantization(_ text: String?, collection: String) throws -> ScalarQuantization? {
        guard let text else { return nil }
        do { return try ScalarQuantization(json: try JSONParser.parse(text)) } catch {
            throw StoreError(.storage, "collection '\(collection)' has a corrupt quantization configuration in the database: \(error)")
        }
    }

    /// The `distance` column of a collection with named vectors (each has its own distance in `vectors`).
    static let namedDistanceMarker = "Named"

    /// The named vectors stored as `[{"name", "size", "distance"}, …]`.
    static func decodeSpaces(_ text: String?, collection: String, dimension: Int) throws -> [VectorSpace]? {
        guard let text else { return nil }
        let corrupt = StoreError(.storage, "collection '\(collection)' has corrupt named vectors in the database")
        guard case .array(let items) = try JSONParser.parse(text), !items.isEmpty else { throw corrupt }
        var names = Set<String>()
        let spaces = try items.map { item in
            guard let name = item["name"]?.stringValue, !name.isEmpty, names.insert(name).inserted,
                  case .int(let size)? = item["size"], (1...65_536).contains(size),
                  let d = item["distance"]?.stringValue, let distance = Distance(rawValue: d) else { throw corrupt }
            return VectorSpace(name: name, dimension: Int(size), distance: distance)
        }
        // The rows hold exactly the named vectors side by side.
        guard spaces.reduce(0, { $0 + $1.dimension }) == dimension else { throw corrupt }
        return spaces
    }

    static func encodeSpaces(_ spaces: [VectorSpace]) -> String {
        JSONValue.array(spaces.map { ["name": .string($0.name), "size": .int(Int64($0.dimension)), "distance": .string($0.distance.rawValue)] }).jsonText
    }

    static func decodeVector(_ data: Data, dimension: Int, collection: Int64) throws -> [Float] {
        guard data.count == dimension * 4 else {
            throw StoreError(.storage, "corrupt vector in collection #\(collection): \(data.count) bytes, expected \(dimension * 4)")
        }
        return data.withUnsafeBytes { raw in
            (0..<dimension).map { i in Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
    }

    static func decodePayload(_ text: String?) throws -> Payload? {
        guard let text else { return nil }
        guard case .object(let o) = try JSONParser.parse(text) else {
            throw StoreError(.storage, "corrupt payload in the database (not a JSON object)")
        }
        return o.isEmpty ? nil : o
    }

    static func readChanges(_ db: Database, collectionID id: Int64, dimension: Int, afterPointSeq: Int64,
                            afterTombSeq: Int64) throws -> PendingChanges {
        var ch = PendingChanges()
        ch.pointHighWater = try highWater(db, table: "points_\(id)")
        ch.tombHighWater = try highWater(db, table: "tombstones_\(id)")
        let tombs = try Row.fetchCursor(db, sql: "SELECT seq, pid FROM tombstones_\(id) WHERE seq > ? ORDER BY seq", arguments: [afterTombSeq])
        while let r = try tombs.next() {
            guard let pid = PointID(storageKey: r[1]) else { throw StoreError(.storage, "corrupt point id in collection #\(id)") }
            ch.tombstones.append((r[0], pid))
        }
        let rows = try Row.fetchCursor(db, sql: "SELECT seq, pid, vector, payload FROM points_\(id) WHERE seq > ? ORDER BY seq", arguments: [afterPointSeq])
        while let r = try rows.next() {
            guard let pid = PointID(storageKey: r[1]) else { throw StoreError(.storage, "corrupt point id in collection #\(id)") }
            ch.rows.append((r[0], pid, try decodeVector(r[2], dimension: dimension, collection: id), try decodePayload(r[3])))
        }
        return ch
    }

    /// The largest sequence number an AUTOINCREMENT table has handed out (0 before its first row).
    static func highWater(_ db: Database, table: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = ?", arguments: [table]) ?? 0
    }

    /// Applies changes read from one snapshot: deletions first, then rows (a row present in the
    /// snapshot is current, so it wins over an earlier tombstone of the same id). Snapshots may be
    /// applied out of order by concurrent refreshes: the high-water marks make a stale one a no-op.
    static func apply(_ ch: PendingChanges, to h: CollectionHandle) {
        guard h.loaded else { return }
        for t in ch.tombstones { h.applyDelete(id: t.id, seq: t.seq) }
        for r in ch.rows {
            r.vector.withUnsafeBufferPointer { h.applyUpsert(id: r.id, vector: $0.baseAddress!, payload: r.payload, seq: r.seq) }
        }
        h.pointSeq = max(h.pointSeq, ch.pointHighWater)
        h.tombSeq = max(h.tombSeq, ch.tombHighWater)
        h.syncedGeneration.raise(to: ch.generation)
    }

    /// Brings one loaded collection up to `generation` from a fresh read snapshot (a collection loaded
    /// while a concurrent refresh skipped it may lag behind the store-wide generation).
    func catchUpIfBehind(_ h: CollectionHandle, generation: Int64) throws(StoreError) {
        let marks: (Int64, Int64)? = h.lock.withReadLock {
            h.loaded && h.syncedGeneration.load(ordering: .acquiring) < generation ? (h.pointSeq, h.tombSeq) : nil
        }
        guard let (pseq, tseq) = marks else { return }
        options.telemetry.storeSync("catch_up")
        let ch = try database("refreshing collection '\(h.name)'") {
            try pool.read { db -> PendingChanges? in
                guard try Self.collectionExists(db, id: h.id) else {
                    return nil
                }
                var ch = try Self.readChanges(db, collectionID: h.id, dimension: h.dimension, afterPointSeq: pseq, afterTombSeq: tseq)
                ch.generation = try Self.generation(db)
                return ch
            }
        }
        guard let ch else { throw .notFound("collection '\(h.name)' not found (dropped)") }
        Self.record(ch, in: h, pointSeq: pseq, tombSeq: tseq)
    }

    /// Applies changes read after the marks `pointSeq` and `tombSeq` under `h`'s write lock. When nothing
    /// changed in `h` since the marks (the commits were to other collections, the catalog or aliases),
    /// memory, which only moves forward, already reflects the snapshot: then only the synced generation
    /// moves, under the read lock, and the searches running on `h` are not waited for.
    static func record(_ ch: PendingChanges, in h: CollectionHandle, pointSeq: Int64, tombSeq: Int64) {
        if ch.rows.isEmpty, ch.tombstones.isEmpty, ch.pointHighWater <= pointSeq, ch.tombHighWater <= tombSeq {
            h.lock.withReadLock { if h.loaded { h.syncedGeneration.raise(to: ch.generation) } }
        } else {
            h.lock.withWriteLock { apply(ch, to: h) }
        }
    }

    /// Loads a collection's vectors into memory if not yet loaded; returns its point count.
    @discardableResult
    func ensureLoaded(_ h: CollectionHandle) throws(StoreError) -> Int {
        if let n = h.lock.withReadLock({ h.loaded ? h.rowOf.count : nil }) { return n }
        return try h.lock.withWriteLock { () throws(StoreError) -> Int in
            if h.loaded { return h.rowOf.count }
            try database("loading collection '\(h.name)'") {
                try pool.read { db in
                    guard try Self.collectionExists(db, id: h.id) else {
                        throw StoreError.notFound("collection '\(h.name)' not found (dropped)")
                    }
                    let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM points_\(h.id)") ?? 0
                    h.resetMemory(capacity: count)
                    let maxTomb = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM tombstones_\(h.id)") ?? 0
                    let rows = try Row.fetchCursor(db, sql: "SELECT seq, pid, vector, payload FROM points_\(h.id) ORDER BY seq")
                    var maxSeq: Int64 = 0
                    let d = h.dimension
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
                    defer { scratch.deallocate() }
                    while let r = try rows.next() {
                        guard let pid = PointID(storageKey: r[1]) else { throw StoreError(.storage, "corrupt point id in collection '\(h.name)'") }
                        let seq: Int64 = r[0]
                        // The blob is read in place (valid until the cursor moves) and copied out at once.
                        let whole = try r.withUnsafeData(atIndex: 2) { data -> Bool in
                            guard let data, data.count == d * 4 else { return false }
                            data.withUnsafeBytes { raw in
                                for i in 0..<d {
                                    scratch[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                                }
                            }
                            return true
                        }
                        guard whole else { throw StoreError(.storage, "corrupt vector in collection '\(h.name)' (point \(pid))") }
                        let row = h.appendRow(scratch, key: pid.rowKey)
                        h.rowOf[pid] = Int32(row)
                        h.payloads.append(try Self.decodePayload(r[3]))
                        maxSeq = max(maxSeq, seq)
                    }
                    h.pointSeq = max(maxSeq, try Self.highWater(db, table: h.pointsTable))
                    h.tombSeq = max(maxTomb, try Self.highWater(db, table: h.tombstonesTable))
                    h.syncedGeneration.store(try Self.generation(db), ordering: .releasing)
                }
            }
            h.enableQuantization()
            if options.exactScreening { h.enableScreening() }
            h.loaded = true
            return h.rowOf.count
        }
    }

    /// Brings a loaded collection up to date from inside a write transaction (no other process can
    /// commit meanwhile), so the sequence numbers this write adds follow on from what memory holds.
    func catchUp(_ h: CollectionHandle, _ db: Database) throws {
        let marks: (Int64, Int64)? = h.lock.withReadLock { h.loaded ? (h.pointSeq, h.tombSeq) : nil }
        guard let (pseq, tseq) = marks else { return }
        let ch = try Self.readChanges(db, collectionID: h.id, dimension: h.dimension, afterPointSeq: pseq, afterTombSeq: tseq)
        if !ch.rows.isEmpty || !ch.tombstones.isEmpty { h.lock.withWriteLock { Self.apply(ch, to: h) } }
    }

    /// Runs `body` in one IMMEDIATE transaction that also bumps the generation, then runs the closure it
    /// returns (the in-memory apply) while still holding this process's writer.
    ///
    /// A write that changes the catalog (collections, aliases) passes `changingCatalog`, which brings the
    /// in-memory catalog up to the commit (`before` → `after`, always `before + 1`).
    ///
    /// The commit and what brings memory up to it (the apply, the synced generations, `changingCatalog`)
    /// run under the refresh gate. A thread of this process that finds the new generation in between then
    /// waits for memory to reflect it instead of reading the database to refresh: without the gate, every
    /// reader found it at once, each refresh made the others slower, and the writer (a niced operation
    /// thread) was the last to get a core.
    func write<T>(_ what: @autoclosure () -> String, catchingUp handle: CollectionHandle? = nil,
                  changingCatalog: ((_ before: Int64, _ after: Int64) -> Void)? = nil,
                  _ body: (Database) throws -> (T, () -> Void)) throws(StoreError) -> T {
        try database(what()) {
            try pool.writeWithoutTransaction { db in
                try db.beginTransaction(.immediate)
                var committed = false
                do {
                    let before = try Self.generation(db)
                    if let handle {
                        // Resolved before the transaction: it may have been dropped meanwhile.
                        guard try Self.collectionExists(db, id: handle.id) else {
                            throw StoreError.notFound("collection '\(handle.name)' not found (dropped)")
                        }
                        try catchUp(handle, db)
                    }
                    let (result, apply) = try body(db)
                    // SQLite may have rolled the transaction back on its own (a full disk, an I/O error) in
                    // a failure the body caught: then nothing may be written, nor committed, outside it.
                    guard db.isInsideTransaction else { throw DatabaseError(resultCode: .SQLITE_ABORT, message: "the transaction was rolled back") }
                    let after = try Schema.bumpGeneration(db)
                    try refreshGate.withLock { _ in
                        try db.commit()
                        committed = true
                        apply()
                        if let handle {
                            // Caught up inside the transaction and applied: memory reflects `after`.
                            handle.lock.withReadLock { if handle.loaded { handle.syncedGeneration.raise(to: after) } }
                            if changingCatalog == nil { noteUntouched(besides: handle, before: before, after: after) }
                        }
                        if let changingCatalog {
                            changingCatalog(before, after)
                        } else {
                            // Nothing else committed since this process last refreshed: no need to refresh again.
                            _ = knownGeneration.compareExchange(expected: before, desired: after, ordering: .acquiringAndReleasing)
                        }
                    }
                    checkpointIfDue(db)
                    return result
                } catch {
                    if !committed, db.isInsideTransaction { try? db.rollback() }
                    throw error
                }
            }
        }
    }

    /// After this process committed a write to `handle`'s points alone (generation `before` → `after`):
    /// every other collection whose memory reflected `before` reflects `after` too, since the write
    /// transaction found `before` and nothing else could commit until it did. Without this, a search of
    /// any other collection would read the database to catch up after each of these writes, and during a
    /// reindex (a write every batch) every reader query did, all of them at once.
    func noteUntouched(besides handle: CollectionHandle, before: Int64, after: Int64) {
        for h in catalog.withLock({ Array($0.byName.values) }) where h !== handle {
            _ = h.syncedGeneration.compareExchange(expected: before, desired: after, ordering: .acquiringAndReleasing)
        }
    }

    /// Resolves a collection or alias name to its handle, refreshing from the database first.
    func handle(_ nameOrAlias: String) throws(StoreError) -> CollectionHandle {
        try refreshIfNeeded()
        guard let h = catalog.withLock({ $0.resolve(nameOrAlias) }) else {
            throw .notFound("collection or alias '\(nameOrAlias)' not found")
        }
        return h
    }

    /// A loaded, up-to-date handle.
    func loadedHandle(_ nameOrAlias: String) throws(StoreError) -> CollectionHandle {
        let generation = try refreshIfNeeded()
        guard let h = catalog.withLock({ $0.resolve(nameOrAlias) }) else {
            throw .notFound("collection or alias '\(nameOrAlias)' not found")
        }
        try ensureLoaded(h)
        try catchUpIfBehind(h, generation: generation)
        return h
    }
}

extension Atomic where Value == Int64 {
    /// Raises the value to `value` (never lowers it).
    func raise(to value: Int64) {
        var current = load(ordering: .relaxed)
        while current < value {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}

import Locks
import Telemetry
import Foundation
import GRDB
import VectorMath

extension Store {
    // MARK: - Upsert

    /// Inserts or replaces points (vector and payload) in one transaction.
    ///
    /// Cosine vectors are normalised before they are stored. Within a batch, a repeated id keeps its
    /// last occurrence. Either the whole batch is stored or, on error, nothing.
    ///
    /// - Throws: ``StoreError`` `invalidArgument` for a wrong dimension, an empty vector or a NaN/infinite
    ///   component (naming the point), `notFound` for an unknown collection.
    /// - Complexity: O(points × dimension) plus one SQLite transaction.
    @discardableResult
    public func upsert(_ collection: String, points: [Point]) throws(StoreError) -> Int {
        try upsertPoints(collection, points, precondition: nil)
    }

    /// Upserts `points` only while `precondition` holds, checked inside the write's transaction before
    /// anything is written (see ``WritePrecondition``).
    ///
    /// - Throws: ``StoreError`` `preconditionFailed` when it does not hold (nothing is written), or as
    ///   ``upsert(_:points:)``.
    @discardableResult
    public func upsert(_ collection: String, points: [Point], precondition: WritePrecondition) throws(StoreError) -> Int {
        try upsertPoints(collection, points, precondition: precondition)
    }

    /// Upserts `points` into the collection only if it still has `layout` (name, size, distance and named
    /// vectors): a caller that built the points from a layout it read earlier never writes them into a
    /// collection that was dropped and made again with another one.
    ///
    /// - Throws: ``StoreError`` `preconditionFailed` when the layout changed (nothing is written), or as
    ///   ``upsert(_:points:)``.
    @discardableResult
    public func upsert(_ collection: String, points: [Point], layout: CollectionShape) throws(StoreError) -> Int {
        try upsertPoints(collection, points, precondition: nil, layout: layout)
    }

    /// Flattens `points`' vectors into one buffer and upserts them in one transaction.
    private func upsertPoints(_ collection: String, _ points: [Point], precondition: WritePrecondition?,
                              layout: CollectionShape? = nil) throws(StoreError) -> Int {
        let h = try handle(collection)
        if let layout, layout != CollectionShape(name: h.name, dimension: h.dimension, distance: h.distance, vectors: h.spaces) {
            throw StoreError(.preconditionFailed, "collection '\(collection)' changed its vectors since they were read; nothing was written")
        }
        try Self.checkShapes(points, of: h)
        var flat: [Float] = []
        flat.reserveCapacity(points.count * h.dimension)
        for p in points { flat.append(contentsOf: p.vector) }
        return try flat.withUnsafeBufferPointer { buf throws(StoreError) in
            try measured("upsert") { () throws(StoreError) in
                try upsertUnmeasured(collection, ids: points.map(\.id), vectors: buf, payloads: points.map { $0.payload }, precondition: precondition)
            }
        }
    }

    /// Checks points as ``upsert(_:points:)`` would — dimension, empty vectors, NaN or infinite
    /// components, non-finite payload numbers — without writing anything. A caller that upserts a large
    /// input in several batches validates it whole first, so a bad point late in the input changes nothing.
    ///
    /// - Throws: ``StoreError`` `invalidArgument` naming the first bad point, `notFound` for an unknown collection.
    public func validate(_ collection: String, points: [Point]) throws(StoreError) {
        let h = try handle(collection)
        try Self.checkShapes(points, of: h)
        for (i, p) in points.enumerated() {
            try p.vector.withUnsafeBufferPointer { v throws(StoreError) in try Self.checkFinite(v, id: p.id, index: i) }
            try Self.checkPayload(p.payload, id: p.id, index: i)
        }
    }

    static func checkShapes(_ points: [Point], of h: CollectionHandle) throws(StoreError) {
        for (i, p) in points.enumerated() {
            guard !p.vector.isEmpty else { throw .invalid("point \(p.id) (#\(i)): empty vector") }
            guard p.vector.count == h.dimension else {
                throw .invalid("point \(p.id) (#\(i)): vector has \(p.vector.count) components, collection '\(h.name)' has dimension \(h.dimension)")
            }
        }
    }

    static func checkFinite(_ v: UnsafeBufferPointer<Float>, id: PointID, index i: Int) throws(StoreError) {
        if let bad = Vectors.firstNonFinite(v) {
            throw .invalid("point \(id) (#\(i)): component \(bad) is \(v[bad].isNaN ? "NaN" : "infinite")")
        }
    }

    static func checkPayload(_ p: Payload?, id: PointID, index i: Int) throws(StoreError) {
        if let p, let bad = nonFinitePath(in: .object(p)) {
            throw .invalid("point \(id) (#\(i)): payload value at '\(bad)' is not a finite number")
        }
    }

    /// Inserts or replaces `ids.count` points whose vectors are consecutive in `vectors` (row-major).
    ///
    /// The fast path for bulk loads: no per-point arrays. `payloads`, when given, has one entry per id
    /// (`nil` or empty for none).
    @discardableResult
    public func upsert(_ collection: String, ids: [PointID], vectors: UnsafeBufferPointer<Float>,
                       payloads: [Payload?]? = nil) throws(StoreError) -> Int {
        try measured("upsert") { () throws(StoreError) in try upsertUnmeasured(collection, ids: ids, vectors: vectors, payloads: payloads) }
    }

    func upsertUnmeasured(_ collection: String, ids: [PointID], vectors: UnsafeBufferPointer<Float>,
                          payloads: [Payload?]?, precondition: WritePrecondition? = nil) throws(StoreError) -> Int {
        let h = try handle(collection)
        let d = h.dimension
        guard vectors.count == ids.count * d else {
            throw .invalid("upsert into '\(h.name)': \(vectors.count) floats for \(ids.count) points of dimension \(d)")
        }
        if let payloads, payloads.count != ids.count {
            throw .invalid("upsert into '\(h.name)': \(payloads.count) payloads for \(ids.count) points")
        }
        guard !ids.isEmpty else { return 0 }
        if let payloads {
            for (i, p) in payloads.enumerated() { try Self.checkPayload(p, id: ids[i], index: i) }
        }
        // Validate and prepare every vector before writing anything.
        var prepared = [Float](repeating: 0, count: vectors.count)
        try prepared.withUnsafeMutableBufferPointer { out throws(StoreError) in
            for i in 0..<ids.count {
                let row = UnsafeBufferPointer(rebasing: vectors[(i * d)..<((i + 1) * d)])
                try Self.checkFinite(row, id: ids[i], index: i)
                let dst = UnsafeMutableBufferPointer(rebasing: out[(i * d)..<((i + 1) * d)])
                _ = dst.initialize(from: row)
                if let spaces = h.spaces {
                    // Each named vector is normalised on its own, by its own distance.
                    for (k, space) in spaces.enumerated() where space.distance == .cosine {
                        Vectors.normalize(UnsafeMutableBufferPointer(rebasing: dst[h.offsets[k]..<(h.offsets[k] + space.dimension)]))
                    }
                } else if h.distance == .cosine {
                    Vectors.normalize(dst)
                }
            }
        }
        let payloadTexts: [String?] = (payloads ?? []).map { p in
            guard let p, !p.isEmpty else { return nil }
            return JSONValue.object(p).jsonText
        }
        return try write("upserting \(ids.count) points into '\(h.name)'", catchingUp: h) { db in
            try precondition?.verify(db)
            let stmt = try db.cachedStatement(sql: "INSERT OR REPLACE INTO points_\(h.id) (pid, vector, payload) VALUES (?, ?, ?)")
            var seqs = [Int64](repeating: 0, count: ids.count)
            try prepared.withUnsafeBytes { raw in
                try RawInsert.run(db, stmt, count: ids.count) { i, bind in
                    bind.blob(1, ids[i].storageKey)
                    bind.staticBlob(2, raw.baseAddress! + i * d * 4, bytes: d * 4)
                    bind.text(3, payloadTexts.isEmpty ? nil : payloadTexts[i])
                } done: { i, rowID in seqs[i] = rowID }
            }
            return (ids.count, {
                // The handle is at hand here: no second name lookup (and catalog check) per upsert.
                self.options.telemetry.pointsUpserted(collection: h.name, count: ids.count)
                h.lock.withWriteLock {
                    guard h.loaded else { return }
                    let needed = h.matrix.count + ids.count
                    if needed > h.matrix.capacity { h.reserve(max(needed, h.matrix.capacity + h.matrix.capacity / 2)) }
                    prepared.withUnsafeBufferPointer { buf in
                        for i in 0..<ids.count {
                            let p: Payload? = payloads.flatMap { $0[i].flatMap { $0.isEmpty ? nil : $0 } }
                            h.applyUpsert(id: ids[i], vector: buf.baseAddress! + i * d, payload: p, seq: seqs[i])
                        }
                    }
                }
            })
        }
    }

    /// Makes room in memory for `additional` more points, so a bulk load of known size does not
    /// grow (and copy) the search matrix step by step. A hint: correctness never depends on it.
    public func reserveCapacity(_ collection: String, additional: Int) throws(StoreError) {
        guard additional >= 0, additional <= 1 << 32 else {
            throw .invalid("reserve: \(additional) points is outside 0…\(1 << 32)")
        }
        let h = try loadedHandle(collection)
        h.lock.withWriteLock {
            h.reserve(h.matrix.count + max(0, additional))
            h.rowOf.reserveCapacity(h.rowOf.count + max(0, additional))
            h.payloads.reserveCapacity(h.payloads.count + max(0, additional))
        }
    }

    /// The path of the first NaN or infinite number in a payload, if any (JSON cannot hold them).
    static func nonFinitePath(in v: JSONValue, path: String = "") -> String? {
        switch v {
        case .double(let d) where !d.isFinite: return path.isEmpty ? "$" : path
        case .array(let a):
            for (i, e) in a.enumerated() { if let p = nonFinitePath(in: e, path: "\(path)[\(i)]") { return p } }
        case .object(let o):
            for k in o.keys.sorted() { if let p = nonFinitePath(in: o[k]!, path: path.isEmpty ? k : "\(path).\(k)") { return p } }
        default: break
        }
        return nil
    }

    // MARK: - Read

    /// Points by id, in the order asked; ids that do not exist are left out (as Qdrant does).
    public func get(_ collection: String, ids: [PointID], withVector: Bool = false, withPayload: Bool = true) throws(StoreError) -> [Record] {
        let h = try loadedHandle(collection)
        return h.lock.withReadLock {
            ids.compactMap { id in
                guard let row = h.rowOf[id].map(Int.init) else { return nil }
                return Record(id: id, vector: withVector ? h.vector(row: row) : nil,
                              payload: withPayload ? (h.payloads[row] ?? [:]) : nil)
            }
        }
    }

    /// The exact number of points, or of points matching `filter`.
    public func count(_ collection: String, filter: Filter? = nil) throws(StoreError) -> Int {
        let h = try loadedHandle(collection)
        return h.lock.withReadLock {
            guard let filter, !filter.isEmpty else { return h.rowOf.count }
            var n = 0
            for row in 0..<h.matrix.count where filter.matches(id: h.pointID(row: row), payload: h.payloads[row] ?? [:]) { n += 1 }
            return n
        }
    }

    /// One page of points in id order (integer ids first, then UUIDs), starting at `offset` (inclusive).
    ///
    /// - Parameters:
    ///   - limit: points per page, at least 1.
    ///   - offset: the first id of the page (the previous page's `nextPageOffset`).
    /// - Returns: the page and the id that starts the next one (`nil` at the end).
    public func scroll(_ collection: String, filter: Filter? = nil, limit: Int = 10, offset: PointID? = nil,
                       withVector: Bool = false, withPayload: Bool = true) throws(StoreError) -> ScrollPage {
        guard limit >= 1 else { throw .invalid("scroll limit must be at least 1, got \(limit)") }
        let h = try handle(collection)
        let start = offset?.storageKey ?? Data()
        return try database("scrolling '\(h.name)'") {
            try pool.read { db in
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT pid, vector, payload FROM points_\(h.id) WHERE pid >= ? ORDER BY pid", arguments: [start])
                var page: [Record] = []
                while let r = try rows.next() {
                    guard let id = PointID(storageKey: r[0]) else { throw StoreError(.storage, "corrupt point id in '\(h.name)'") }
                    let payload = try Self.decodePayload(r[2]) ?? [:]
                    if let filter, !filter.matches(id: id, payload: payload) { continue }
                    if page.count == limit { return ScrollPage(points: page, nextPageOffset: id) }
                    page.append(Record(
                        id: id,
                        vector: withVector ? try Self.decodeVector(r[1], dimension: h.dimension, collection: h.id) : nil,
                        payload: withPayload ? payload : nil))
                }
                return ScrollPage(points: page, nextPageOffset: nil)
            }
        }
    }

    // MARK: - Delete

    /// Deletes points by id; returns how many existed.
    @discardableResult
    public func delete(_ collection: String, ids: [PointID]) throws(StoreError) -> Int {
        try measured("delete") { () throws(StoreError) in
            let h = try handle(collection)
            return try deleteIDs(h, { _ in ids })
        }
    }

    /// Deletes every point matching `filter`; returns how many.
    @discardableResult
    public func delete(_ collection: String, filter: Filter) throws(StoreError) -> Int {
        try measured("delete") { () throws(StoreError) in try deleteUnmeasured(collection, filter: filter) }
    }

    /// Deletes every point matching `filter` only while `precondition` holds, checked inside the
    /// write's transaction (see ``WritePrecondition``); returns how many.
    @discardableResult
    public func delete(_ collection: String, filter: Filter, precondition: WritePrecondition) throws(StoreError) -> Int {
        try measured("delete") { () throws(StoreError) in try deleteUnmeasured(collection, filter: filter, precondition: precondition) }
    }

    func deleteUnmeasured(_ collection: String, filter: Filter, precondition: WritePrecondition? = nil) throws(StoreError) -> Int {
        let h = try loadedHandle(collection)
        return try deleteIDs(h, precondition: precondition) { h in
            h.lock.withReadLock {
                (0..<h.matrix.count).compactMap { row in
                    let id = h.pointID(row: row)
                    return filter.matches(id: id, payload: h.payloads[row] ?? [:]) ? id : nil
                }
            }
        }
    }

    /// Deletes the ids `select` picks; `select` runs inside the write transaction, after catching up,
    /// so it sees the latest state and no other process can change it meanwhile.
    private func deleteIDs(_ h: CollectionHandle, precondition: WritePrecondition? = nil,
                           _ select: @escaping (CollectionHandle) -> [PointID]) throws(StoreError) -> Int {
        try write("deleting points from '\(h.name)'", catchingUp: h) { db in
            try precondition?.verify(db)
            let ids = select(h)
            let del = try db.cachedStatement(sql: "DELETE FROM points_\(h.id) WHERE pid = ?")
            let tomb = try db.cachedStatement(sql: "INSERT INTO tombstones_\(h.id) (pid) VALUES (?)")
            var done: [(PointID, Int64)] = []
            for id in ids {
                try del.execute(arguments: [id.storageKey])
                if db.changesCount > 0 {
                    try tomb.execute(arguments: [id.storageKey])
                    done.append((id, db.lastInsertedRowID))
                }
            }
            return (done.count, {
                h.lock.withWriteLock {
                    guard h.loaded else { return }
                    for (id, seq) in done { h.applyDelete(id: id, seq: seq) }
                }
            })
        }
    }

    // MARK: - Payload

    /// Updates the payload of the points selected by `ids` or `filter` (exactly one of them).
    ///
    /// - Returns: how many points were updated.
    /// - Throws: ``StoreError`` `notFound` when an id does not exist (as Qdrant); nothing changes then.
    @discardableResult
    public func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]? = nil,
                              filter: Filter? = nil) throws(StoreError) -> Int {
        try updatePayloads(collection, update, ids: ids, filter: filter, precondition: nil)
    }

    /// Updates payloads as ``updatePayload(_:_:ids:filter:)`` only while `precondition` holds, checked
    /// inside the write's transaction before anything is written.
    ///
    /// - Throws: ``StoreError`` `preconditionFailed` when it does not hold (nothing is written), or as
    ///   ``updatePayload(_:_:ids:filter:)``.
    @discardableResult
    public func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]? = nil, filter: Filter? = nil,
                              precondition: WritePrecondition) throws(StoreError) -> Int {
        try updatePayloads(collection, update, ids: ids, filter: filter, precondition: precondition)
    }

    private func updatePayloads(_ collection: String, _ update: PayloadUpdate, ids: [PointID]?, filter: Filter?,
                                precondition: WritePrecondition?) throws(StoreError) -> Int {
        guard (ids == nil) != (filter == nil) else { throw .invalid("payload update needs either ids or a filter, not both") }
        switch update {
        case .merge(let p), .overwrite(let p):
            if let bad = Self.nonFinitePath(in: .object(p)) { throw .invalid("payload value at '\(bad)' is not a finite number") }
        default: break
        }
        let h = try loadedHandle(collection)
        let d = h.dimension
        return try write("updating payloads in '\(h.name)'", catchingUp: h) { db in
            try precondition?.verify(db)
            // Select and compute new rows from memory (current: caught up inside this transaction).
            let changes: [(PointID, [Float], Payload?)] = try h.lock.withReadLock {
                let rows: [Int]
                if let ids {
                    // As Qdrant: updating the payload of a point that does not exist is an error.
                    if let missing = ids.first(where: { h.rowOf[$0] == nil }) {
                        throw StoreError.notFound("point \(missing) not found in collection '\(h.name)'")
                    }
                    var seen = Set<PointID>()
                    rows = ids.filter { seen.insert($0).inserted }.map { Int(h.rowOf[$0]!) }
                } else {
                    rows = (0..<h.matrix.count).filter { filter!.matches(id: h.pointID(row: $0), payload: h.payloads[$0] ?? [:]) }
                }
                return rows.map { row in
                    var p = h.payloads[row] ?? [:]
                    switch update {
                    case .merge(let m): p.merge(m) { _, new in new }
                    case .overwrite(let o): p = o
                    case .deleteKeys(let keys): for k in keys { p.removeValue(forKey: k) }
                    case .clear: p = [:]
                    }
                    return (h.pointID(row: row), h.vector(row: row), p.isEmpty ? nil : p)
                }
            }
            let stmt = try db.cachedStatement(sql: "INSERT OR REPLACE INTO points_\(h.id) (pid, vector, payload) VALUES (?, ?, ?)")
            var seqs: [Int64] = []
            for (id, vector, payload) in changes {
                let blob = vector.withUnsafeBytes { Data($0) }
                try stmt.execute(arguments: [id.storageKey, blob, payload.map { JSONValue.object($0).jsonText }])
                seqs.append(db.lastInsertedRowID)
            }
            return (changes.count, {
                h.lock.withWriteLock {
                    guard h.loaded else { return }
                    for (i, c) in changes.enumerated() {
                        Swift.precondition(c.1.count == d)
                        c.1.withUnsafeBufferPointer { h.applyUpsert(id: c.0, vector: $0.baseAddress!, payload: c.2, seq: seqs[i]) }
                    }
                }
            })
        }
    }
}


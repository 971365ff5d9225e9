import Foundation
import Locks
import Synchronization
import VectorMath

/// One physical collection's catalog entry and, once loaded, its in-memory search state.
///
/// @unchecked Sendable: the immutable catalog fields are `let`; every mutable field is read under
/// `lock`'s read side and written under its write side.
final class CollectionHandle: @unchecked Sendable {
    let id: Int64
    let name: String
    let dimension: Int
    let distance: Distance
    let createdAt: Date
    /// Named vectors (nil: one unnamed vector), each with its first component's offset in a row.
    let spaces: [VectorSpace]?
    let offsets: [Int]
    /// Scalar quantization: the matrices keep int8 copies (``enableQuantization()``, once loaded).
    let quantization: ScalarQuantization?
    let lock = ReadWriteLock()

    // MARK: Guarded by `lock`
    var loaded = false
    var matrix: RowMatrix
    /// For named vectors: one matrix per vector, row for row with `matrix` (searched by `using`).
    var spaceMatrices: [RowMatrix] = []
    var rowOf: [PointID: Int32] = [:]
    var payloads: [Payload?] = []
    /// Highest point-row sequence number reflected in memory.
    var pointSeq: Int64 = 0
    /// Highest tombstone sequence number reflected in memory.
    var tombSeq: Int64 = 0

    /// The store generation memory reflects for this collection (-1 before loading). Atomic, so that a
    /// commit known to change nothing here (an alias batch) can advance it without the write lock; it
    /// only ever names a generation the memory guarded by `lock` reflects.
    let syncedGeneration = Atomic<Int64>(-1)
    /// Searches running on this state (cleanup of later layers waits for zero).
    let activeSearches = Atomic<Int>(0)

    convenience init(_ row: Store.CatalogRow) {
        self.init(id: row.id, name: row.name, dimension: row.dimension, distance: row.distance, createdAt: row.createdAt, spaces: row.spaces,
                  quantization: row.quantization)
    }

    init(id: Int64, name: String, dimension: Int, distance: Distance, createdAt: Date, spaces: [VectorSpace]? = nil,
         quantization: ScalarQuantization? = nil) {
        self.quantization = quantization
        self.id = id
        self.name = name
        self.dimension = dimension
        self.distance = distance
        self.createdAt = createdAt
        self.spaces = spaces
        var offsets: [Int] = []
        var at = 0
        for s in spaces ?? [] {
            offsets.append(at)
            at += s.dimension
        }
        self.offsets = offsets
        matrix = RowMatrix(dimension: dimension)
        spaceMatrices = (spaces ?? []).map { RowMatrix(dimension: $0.dimension) }
    }

    /// The index of the named vector `using` names, or nil for the whole row (no named vectors).
    func space(_ using: String?) throws(StoreError) -> Int? {
        guard let spaces else {
            if let using, !using.isEmpty { throw .invalid("collection '\(name)' has no named vectors; there is no vector '\(using)'") }
            return nil
        }
        guard let using, !using.isEmpty else {
            throw .invalid("collection '\(name)' has named vectors (\(spaces.map(\.name).joined(separator: ", "))): say which to search with `using`")
        }
        guard let k = spaces.firstIndex(where: { $0.name == using }) else {
            throw .invalid("collection '\(name)' has no vector named '\(using)' (it has \(spaces.map(\.name).joined(separator: ", ")))")
        }
        return k
    }

    /// Appends a row (and its named vectors' rows); returns its index.
    func appendRow(_ vector: UnsafePointer<Float>, key: RowKey) -> Int {
        let row = matrix.append(vector, key: key)
        for k in spaceMatrices.indices { _ = spaceMatrices[k].append(vector + offsets[k], key: key) }
        return row
    }

    /// Makes room for `count` rows in every matrix.
    func reserve(_ count: Int) {
        matrix.reserve(count)
        for k in spaceMatrices.indices { spaceMatrices[k].reserve(count) }
    }

    var pointsTable: String { "points_\(id)" }
    var tombstonesTable: String { "tombstones_\(id)" }

    // MARK: - Mutations (caller holds the write lock)

    /// Applies a stored row with sequence number `seq` unless memory already reflects it.
    func applyUpsert(id: PointID, vector: UnsafePointer<Float>, payload: Payload?, seq: Int64) {
        guard seq > pointSeq else { return }
        pointSeq = seq
        if let row = rowOf[id] {
            matrix.replace(row: Int(row), with: vector)
            for k in spaceMatrices.indices { spaceMatrices[k].replace(row: Int(row), with: vector + offsets[k]) }
            payloads[Int(row)] = payload
        } else {
            let row = appendRow(vector, key: id.rowKey)
            rowOf[id] = Int32(row)
            payloads.append(payload)
        }
    }

    /// Applies a tombstone unless memory already reflects it.
    func applyDelete(id: PointID, seq: Int64) {
        guard seq > tombSeq else { return }
        tombSeq = seq
        removeFromMemory(id)
    }

    private func removeFromMemory(_ id: PointID) {
        guard let row = rowOf.removeValue(forKey: id) else { return }
        let r = Int(row)
        let last = matrix.count - 1
        for k in spaceMatrices.indices { _ = spaceMatrices[k].swapRemove(row: r) }
        if let movedKey = matrix.swapRemove(row: r) {
            rowOf[PointID(rowKey: movedKey)] = row
            payloads[r] = payloads[last]
        }
        payloads.removeLast()
    }

    /// Starts the int8 copies of a loaded collection with quantization, trained on the rows loaded (the
    /// caller holds the write lock). Later writes keep them current.
    func enableQuantization() {
        guard let q = quantization else { return }
        // With named vectors, searches use each vector's own matrix, never the concatenated rows.
        if spaces == nil { matrix.enableQuantization(quantile: q.quantile, distance: distance) }
        for (k, s) in (spaces ?? []).enumerated() { spaceMatrices[k].enableQuantization(quantile: q.quantile, distance: s.distance) }
    }

    /// Screens exact searches of the loaded matrices (the caller holds the write lock), unless the collection
    /// keeps int8 copies of its own.
    func enableScreening() {
        guard quantization == nil else { return }
        if spaces == nil { matrix.enableScreening(distance: distance) }
        for (k, s) in (spaces ?? []).enumerated() { spaceMatrices[k].enableScreening(distance: s.distance) }
    }

    /// Resets memory to empty (before a full load).
    func resetMemory(capacity: Int) {
        matrix = RowMatrix(dimension: dimension, capacity: capacity)
        spaceMatrices = (spaces ?? []).map { RowMatrix(dimension: $0.dimension, capacity: capacity) }
        rowOf = Dictionary(minimumCapacity: capacity)
        payloads = []
        payloads.reserveCapacity(capacity)
        pointSeq = 0
        tombSeq = 0
        syncedGeneration.store(-1, ordering: .releasing)
    }

    /// The id stored in `row`.
    func pointID(row: Int) -> PointID { PointID(rowKey: matrix.key(row: row)) }

    /// A copy of row `row`'s vector.
    func vector(row: Int) -> [Float] { matrix.vector(row: row) }
}

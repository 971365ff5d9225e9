import Foundation
import GRDB

// MARK: - Quotas and reservations

extension CollectionManager {
    /// An owner's limits (the defaults in docs/operations.md until set).
    public func limits(owner: String) throws(OperationsError) -> ResourceLimits {
        try read("reading limits of '\(owner)'") { db in try Self.limits(db, owner: owner) }
    }

    /// Sets an owner's limits.
    ///
    /// - Throws: ``OperationsError`` `invalidInput` for a negative limit.
    public func setLimits(_ limits: ResourceLimits) throws(OperationsError) {
        try Self.validateUser(limits.owner, what: "owner")
        for (name, v) in [("max_collections", limits.maxCollections), ("max_documents", limits.maxDocuments),
                          ("max_storage_bytes", limits.maxStorageBytes), ("max_operations_per_hour", limits.maxOperationsPerHour)] where v < 0 {
            throw OperationsError(.invalidInput, "\(name) must not be negative, got \(v)")
        }
        try write("setting limits of '\(limits.owner)'") { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO resource_limits (owner, max_collections, max_documents, max_storage_bytes, max_operations_per_hour, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [limits.owner, limits.maxCollections, limits.maxDocuments, limits.maxStorageBytes,
                                 limits.maxOperationsPerHour, WallClock.now()])
        }
    }

    /// What an owner uses now.
    public func usage(owner: String) throws(OperationsError) -> ResourceUsage {
        try read("reading usage of '\(owner)'") { db in try Self.usage(db, owner: owner) }
    }

    /// Sets `bytes` aside for an owner, checked against the storage quota.
    ///
    /// - Parameters:
    ///   - collection: The managed collection's name.
    ///   - operationID: The operation the space is for; recovery releases the reservation when the
    ///     operation has ended.
    ///   - purpose: Why (e.g. `reindex staging copy`).
    /// - Returns: The reservation.
    /// - Throws: ``OperationsError`` `quotaExceeded` naming the limit and the usage.
    @discardableResult
    public func reserve(collection name: String, bytes: Int, operationID: String?, purpose: String) throws(OperationsError) -> Reservation {
        guard bytes >= 0 else { throw OperationsError(.invalidInput, "a reservation needs a non-negative size, got \(bytes)") }
        return try write("reserving \(bytes) bytes for '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            let limits = try Self.limits(db, owner: c.owner)
            let u = try Self.usage(db, owner: c.owner)
            if u.storageBytes + bytes > limits.maxStorageBytes {
                throw OperationsError(.quotaExceeded, "quota exceeded for owner '\(c.owner)': max_storage_bytes is \(limits.maxStorageBytes), \(u.storageBytes) in use (\(u.reservedBytes) reserved), \(bytes) more requested")
            }
            let id = UUID().uuidString.lowercased()
            try db.execute(sql: """
                INSERT INTO reservations (id, owner, collection_id, operation_id, bytes, purpose, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, c.owner, c.id, operationID, bytes, purpose, WallClock.now()])
            return Reservation(row: try Row.fetchOne(db, sql: "SELECT * FROM reservations WHERE id = ?", arguments: [id])!)
        }
    }

    /// Releases a reservation (releasing one twice is harmless).
    ///
    /// - Throws: ``OperationsError`` `notFound`.
    public func release(reservation id: String) throws(OperationsError) {
        try write("releasing reservation \(id)") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM reservations WHERE id = ?", arguments: [id]) != nil else {
                throw OperationsError(.notFound, "no reservation with id '\(id)'")
            }
            try db.execute(sql: "UPDATE reservations SET released_at = ? WHERE id = ? AND released_at IS NULL", arguments: [WallClock.now(), id])
        }
    }

    /// Reservations, newest first (active only unless `includeReleased`).
    public func reservations(includeReleased: Bool = false) throws(OperationsError) -> [Reservation] {
        try read("listing reservations") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM reservations \(includeReleased ? "" : "WHERE released_at IS NULL") ORDER BY created_at DESC")
                .map(Reservation.init(row:))
        }
    }

    package static func limits(_ db: Database, owner: String) throws -> ResourceLimits {
        guard let r = try Row.fetchOne(db, sql: "SELECT * FROM resource_limits WHERE owner = ?", arguments: [owner]) else {
            return .defaults(owner: owner)
        }
        return ResourceLimits(owner: owner, maxCollections: r["max_collections"], maxDocuments: r["max_documents"],
                              maxStorageBytes: r["max_storage_bytes"], maxOperationsPerHour: r["max_operations_per_hour"])
    }

    package static func usage(_ db: Database, owner: String) throws -> ResourceUsage {
        let collections = try Int.fetchOne(db, sql: "SELECT count(*) FROM collections WHERE owner = ?", arguments: [owner]) ?? 0
        let documents = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id WHERE c.owner = ? AND d.status <> 'deleted'
            """, arguments: [owner]) ?? 0
        let stored = try Int.fetchOne(db, sql: "SELECT coalesce(sum(total_size_bytes), 0) FROM collections WHERE owner = ?", arguments: [owner]) ?? 0
        let reserved = try Int.fetchOne(db, sql: "SELECT coalesce(sum(bytes), 0) FROM reservations WHERE owner = ? AND released_at IS NULL", arguments: [owner]) ?? 0
        let ops = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM operations o JOIN collections c ON c.id = o.collection_id WHERE c.owner = ? AND o.created_at > ?
            """, arguments: [owner, WallClock.now() - 3600]) ?? 0
        return ResourceUsage(owner: owner, collections: collections, documents: documents, storageBytes: stored + reserved,
                             reservedBytes: reserved, operationsLastHour: ops)
    }
}

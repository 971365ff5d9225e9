import Foundation
import GRDB
import SwitchyardJSON

// MARK: - Reads

extension CollectionManager {
    /// Every managed collection, by name.
    public func collections() throws(OperationsError) -> [ManagedCollection] {
        try read("listing collections") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM collections ORDER BY name").map { try ManagedCollection(row: $0) }
        }
    }

    /// The managed collection called `name`.
    ///
    /// - Throws: ``OperationsError`` `notFound`.
    public func collection(named name: String) throws(OperationsError) -> ManagedCollection {
        try read("reading collection '\(name)'") { db in try Self.collection(db, name: name) }
    }

    /// The sources registered on a collection.
    public func sources(of name: String) throws(OperationsError) -> [CollectionSource] {
        try read("reading sources of '\(name)'") { db in try Self.sources(db, collectionID: try Self.collection(db, name: name).id) }
    }

    /// A collection's documents, by id (optionally only those with one status).
    public func documents(of name: String, status: DocumentStatus? = nil) throws(OperationsError) -> [DocumentRecord] {
        try read("reading documents of '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            let rows = try status.map {
                try Row.fetchAll(db, sql: "SELECT * FROM documents WHERE collection_id = ? AND status = ? ORDER BY id", arguments: [c.id, $0.rawValue])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM documents WHERE collection_id = ? ORDER BY id", arguments: [c.id])
            return rows.map(DocumentRecord.init(row:))
        }
    }

    /// Operations, newest first.
    ///
    /// - Parameters:
    ///   - collection: Only this collection's (by name; deleted collections' history included).
    ///   - status: Only operations with this status.
    ///   - limit: At most this many.
    public func operations(collection: String? = nil, status: OperationStatus? = nil, limit: Int = 100) throws(OperationsError) -> [OperationRecord] {
        try read("listing operations") { db in
            var sql = "SELECT * FROM operations WHERE 1 = 1"
            var args: StatementArguments = []
            if let collection { sql += " AND collection_name = ?"; args += [collection] }
            if let status { sql += " AND status = ?"; args += [status.rawValue] }
            sql += " ORDER BY seq DESC LIMIT ?"
            args += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: args).map { try OperationRecord(row: $0) }
        }
    }

    /// One operation, by id or by a unique prefix of at least 8 characters.
    ///
    /// - Throws: ``OperationsError`` `notFound` (or `invalidInput` for an ambiguous prefix).
    public func operation(_ id: String) throws(OperationsError) -> OperationRecord {
        try read("reading operation \(id)") { db in try Self.operation(db, idOrPrefix: id) }
    }

    /// The metrics recorded for an operation, by attempt then name.
    public func metrics(of operationID: String) throws(OperationsError) -> [OperationMetric] {
        try read("reading metrics of \(operationID)") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operation_metrics WHERE operation_id = ? ORDER BY attempt, name", arguments: [operationID]).map {
                OperationMetric(operationID: $0["operation_id"], attempt: $0["attempt"], name: $0["name"], value: $0["value"])
            }
        }
    }

    /// The audit trail of a collection (by name, so a deleted collection's trail stays readable), oldest first.
    public func audit(collection name: String) throws(OperationsError) -> [AuditEntry] {
        try read("reading the audit log of '\(name)'") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM collection_audit_log WHERE collection_name = ? ORDER BY id", arguments: [name]).map(AuditEntry.init(row:))
        }
    }

    /// Whether anything is pending or processing.
    public func hasActiveOperations() throws(OperationsError) -> Bool {
        try read("reading the queue") { db in
            try Row.fetchOne(db, sql: "SELECT 1 FROM operations WHERE status IN ('pending', 'processing') LIMIT 1") != nil
        }
    }

    // MARK: - Row access inside transactions

    package static func collection(_ db: Database, name: String) throws -> ManagedCollection {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collections WHERE name = ?", arguments: [name]) else {
            let names = try String.fetchAll(db, sql: "SELECT name FROM collections ORDER BY name LIMIT 20")
            throw OperationsError(.notFound, "no managed collection named '\(name)' (collections: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
        }
        return try ManagedCollection(row: row)
    }

    package static func collection(_ db: Database, id: String) throws -> ManagedCollection {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collections WHERE id = ?", arguments: [id]) else {
            throw OperationsError(.notFound, "managed collection \(id) no longer exists")
        }
        return try ManagedCollection(row: row)
    }

    package static func sources(_ db: Database, collectionID: String) throws -> [CollectionSource] {
        try Row.fetchAll(db, sql: "SELECT * FROM collection_sources WHERE collection_id = ? ORDER BY id", arguments: [collectionID])
            .map(CollectionSource.init(row:))
    }

    package static func operation(_ db: Database, idOrPrefix id: String) throws -> OperationRecord {
        if let row = try Row.fetchOne(db, sql: "SELECT * FROM operations WHERE id = ?", arguments: [id]) {
            return try OperationRecord(row: row)
        }
        let lowered = id.lowercased()
        guard lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw OperationsError(.invalidInput, "'\(id.prefix(60))' is not an operation id: ids are UUIDs (hex digits and '-')")
        }
        guard lowered.count >= 8 else {
            throw OperationsError(.invalidInput, "operation id prefix '\(id)' is too short: give at least 8 characters of the id")
        }
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM operations WHERE id LIKE ? || '%' LIMIT 2", arguments: [lowered])
        switch rows.count {
        case 0: throw OperationsError(.notFound, "no operation with id '\(id)'")
        case 1: return try OperationRecord(row: rows[0])
        default: throw OperationsError(.invalidInput, "operation id prefix '\(id)' is ambiguous; give more characters")
        }
    }

    /// Appends a sanitised audit row.
    package static func audit(_ db: Database, collection: ManagedCollection, operationID: String?, user: String,
                      action: AuditAction, details: [String: JSONValue]) throws {
        try audit(db, collectionID: collection.id, collectionName: collection.name, operationID: operationID, user: user,
                  action: action, details: details)
    }

    package static func audit(_ db: Database, collectionID: String, collectionName: String, operationID: String?, user: String,
                      action: AuditAction, details: [String: JSONValue]) throws {
        try db.execute(sql: """
            INSERT INTO collection_audit_log (collection_id, collection_name, operation_id, user, action, details, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [collectionID, collectionName, operationID, user, action.rawValue,
                             JSONValue.object(AuditSanitizer.sanitize(details)).jsonText, WallClock.now()])
    }
}

import GRDB

/// Records kept beside the vectors: the managed layer (operations engine, reindex) keeps its tables in
/// the store's own SQLite database, so one transaction can change an alias and those records together.
///
/// ```swift
/// try store.migrateRecords(component: "operations", migrations: [(1, "CREATE TABLE jobs (id TEXT PRIMARY KEY)")])
/// try store.writeRecords { db in try db.execute(sql: "INSERT INTO jobs (id) VALUES ('a')") }
/// let n = try store.readRecords { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") }
/// ```
///
/// Errors thrown by `body` pass through unchanged; database failures are GRDB's `DatabaseError`.
extension Store {
    /// Runs `body` in a read transaction (a consistent snapshot; concurrent with writers).
    public func readRecords<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// Runs `body` in one IMMEDIATE write transaction: it holds SQLite's write lock from the start, so
    /// a read-then-write inside it cannot race another process. Rolled back when `body` throws.
    public func writeRecords<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            checkpointIfDue(db)
            return result!
        }
    }

    /// Checkpoints the write-ahead log (passive: it waits for no reader or writer) once this process's
    /// commits have made it ``Options/walCheckpointPages`` long, as SQLite's automatic checkpoint would
    /// inside the commit. Called on the writer after a commit; a failure is left to the next one.
    func checkpointIfDue(_ db: Database) {
        guard walFrames.due() else { return }
        try? Self.checkpoint(db)
    }

    private static func checkpoint(_ db: Database) throws { try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }

    /// Copies what the write-ahead log holds into the database file now (SQLite's passive checkpoint: it
    /// waits for no reader or writer), so that the commits of a step that must be quick, such as a
    /// reindex's switch, do not pay for an automatic checkpoint of earlier bulk writes.
    public func checkpointLog() throws {
        try pool.writeWithoutTransaction { db in try Self.checkpoint(db) }
    }

    /// Applies a component's versioned migrations that this store lacks, in one IMMEDIATE transaction
    /// (safe when several processes open a store at once). The version applied last is kept in
    /// `store_meta` under `schema_<component>`; add entries, never edit old ones.
    ///
    /// - Parameters:
    ///   - component: A short name, e.g. `operations`.
    ///   - migrations: `(version, sql)` pairs in increasing version order.
    public func migrateRecords(component: String, migrations: [(version: Int, sql: String)]) throws {
        let key = "schema_\(component)"
        try writeRecords { db in
            let current = try Int.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]) ?? 0
            for m in migrations where m.version > current {
                try db.execute(sql: m.sql)
            }
            if let latest = migrations.last?.version, latest > current {
                try db.execute(sql: "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", arguments: [key, latest])
            }
        }
    }
}

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

    /// Once this process's commits have made the write-ahead log ``Options/walCheckpointPages`` long, asks the
    /// checkpoint thread (``Checkpointer``) for a passive checkpoint, as SQLite's automatic checkpoint would run
    /// one inside the commit, and goes on. Called on the writer after a commit (and after the refresh gate).
    ///
    /// A pass beside back-to-back commits copies what was committed when it began, but SQLite starts the log
    /// again only when a write begins after a pass that left nothing to copy. Once the log is four times that
    /// long, the writer therefore runs a passive checkpoint itself, between its own commits (after the
    /// thread's running pass, if any): the next write then starts the log again.
    func checkpointIfDue(_ db: Database) {
        let frames = walFrames.length
        guard frames >= walFrames.checkpointFrames else { return }
        guard frames >= 4 * walFrames.checkpointFrames else {
            checkpointer.request()
            return
        }
        checkpointer.runExclusively { try? db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
    }

    /// Asks for the write-ahead log to be copied into the database file (a passive checkpoint: it waits for
    /// no reader or writer) on the store's checkpoint thread, and returns at once. After a bulk write, such
    /// as a reindex's staging copy, this keeps the log short without making the writer wait for the disk.
    public func requestCheckpoint() {
        checkpointer.request()
    }

    /// Copies the write-ahead log into the database file (as ``requestCheckpoint()``) and waits until it is done.
    ///
    /// - Throws: ``StoreError`` when the checkpoint failed or the store is closed.
    public func checkpointLog() throws(StoreError) {
        try checkpointer.wait(for: checkpointer.request())
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

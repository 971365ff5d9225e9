import GRDB

/// The store's base schema (versioned migrations) and per-collection tables.
///
/// - `store_meta(key, value)`: `generation`, bumped by every write transaction, tells other
///   processes that something changed.
/// - `vector_collections`: the catalog of physical collections (`vectors`: the named vectors as JSON, or
///   NULL for one unnamed vector); their points live in
///   `points_<id>` / `tombstones_<id>`, named from the internal id so no user text reaches SQL.
/// - `vector_aliases(alias, collection_id)`.
/// - `points_<id>(seq, pid, vector, payload)`: `seq` (AUTOINCREMENT) grows with every write of a
///   point, so a process can read what changed since the last `seq` it saw; `pid` is the id's
///   order-preserving key; `vector` is little-endian Float32; `payload` JSON text or NULL.
/// - `tombstones_<id>(seq, pid)`: deleted ids, for the same purpose.
enum Schema {
    /// Versioned migrations, applied in order. Each store records the last one applied in
    /// `PRAGMA user_version`; add a new entry (never edit an old one) to change the schema.
    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO store_meta (key, value) VALUES ('generation', 0);
            CREATE TABLE IF NOT EXISTS vector_collections (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                dimension INTEGER NOT NULL CHECK (dimension > 0),
                distance TEXT NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE TABLE IF NOT EXISTS vector_aliases (
                alias TEXT PRIMARY KEY NOT NULL,
                collection_id INTEGER NOT NULL REFERENCES vector_collections(id) ON DELETE CASCADE
            );
            """),
        // Named vectors: a JSON list of {name, size, distance}; NULL for one unnamed vector.
        (2, """
            ALTER TABLE vector_collections ADD COLUMN vectors TEXT;
            """),
        // Scalar quantization: Qdrant's `quantization_config` as JSON; NULL for none.
        (3, """
            ALTER TABLE vector_collections ADD COLUMN quantization TEXT;
            """),
    ]

    /// Applies the migrations a store lacks, in one IMMEDIATE transaction: the version check and the
    /// changes happen under SQLite's write lock, so processes opening a new store at the same moment
    /// cannot both apply them.
    static func migrate(_ writer: some DatabaseWriter) throws {
        try writer.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                let current = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let latest = migrations.last?.version ?? 0
                if current > latest {
                    throw StoreError(.storage, "the store was written by a newer Switchyard (schema \(current); this build knows up to \(latest)): use that version or newer")
                }
                guard current < latest else { return .commit }
                for m in migrations where m.version > current { try db.execute(sql: m.sql) }
                try db.execute(sql: "PRAGMA user_version = \(latest)")
                return .commit
            }
        }
    }

    static func createCollectionTables(_ db: Database, id: Int64) throws {
        try db.execute(sql: """
            CREATE TABLE points_\(id) (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                pid BLOB NOT NULL UNIQUE,
                vector BLOB NOT NULL,
                payload TEXT
            );
            CREATE TABLE tombstones_\(id) (seq INTEGER PRIMARY KEY AUTOINCREMENT, pid BLOB NOT NULL);
            """)
    }

    /// Renames a dropped collection's tables to `trash_*` (constant time); ``Store`` drops them after.
    static func moveCollectionTablesToTrash(_ db: Database, id: Int64) throws {
        try db.execute(sql: """
            ALTER TABLE points_\(id) RENAME TO trash_points_\(id);
            ALTER TABLE tombstones_\(id) RENAME TO trash_tombstones_\(id);
            """)
    }

    /// Bumps the generation and returns the new value.
    @discardableResult
    static func bumpGeneration(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "UPDATE store_meta SET value = value + 1 WHERE key = 'generation' RETURNING value") ?? 0
    }
}

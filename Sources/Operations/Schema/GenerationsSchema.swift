/// The generations' tables (component `reindex` in the store's database: the name they had when the
/// reindex layer created them, kept so that existing stores migrate in place). Operations owns them and
/// exposes them as transactional record APIs; the reindex layer writes no SQL of its own.
///
/// - `collection_generations`: every physical collection a managed collection has served from, with the
///   configuration its vectors were made with (`serving`, `kept` for rollback, or `dropped`), the
///   documents' chunk counts while kept (restored by a rollback) and its validation report.
/// - `reindex_progress`: documents a reindex has written into its staging collection (resume point).
enum GenerationsSchema {
    static let component = "reindex"

    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE collection_generations (
                vector_store_name TEXT PRIMARY KEY NOT NULL,
                collection_id TEXT NOT NULL,
                embedder TEXT NOT NULL,
                dimension INTEGER NOT NULL,
                chunk_size INTEGER NOT NULL,
                chunk_overlap INTEGER NOT NULL,
                distance TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('serving', 'kept', 'dropped')),
                operation_id TEXT,
                chunk_counts TEXT,
                validation TEXT,
                created_at REAL NOT NULL,
                retired_at REAL,
                dropped_at REAL
            );
            CREATE INDEX generations_by_collection ON collection_generations (collection_id, created_at);
            CREATE TABLE reindex_progress (
                operation_id TEXT NOT NULL,
                document_id INTEGER NOT NULL,
                chunk_count INTEGER NOT NULL,
                PRIMARY KEY (operation_id, document_id)
            );
            """),
    ]
}

/// The managed layer's tables, in the store's database (versioned as component `operations`).
///
/// Constraints the engine relies on are in the schema, not only in code: unique collection names,
/// unique (collection, content hash) and (collection, source path), at most one pending-or-processing
/// operation per collection (a partial unique index), a final status always with its completion time,
/// and a failed or cancelled operation always with its error.
enum OperationsSchema {
    static let component = "operations"

    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE collections (
                id TEXT PRIMARY KEY NOT NULL,
                name TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT NOT NULL,
                embedder TEXT NOT NULL,
                dimension INTEGER NOT NULL CHECK (dimension > 0),
                chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),
                chunk_overlap INTEGER NOT NULL CHECK (chunk_overlap >= 0),
                distance TEXT NOT NULL,
                vector_store_name TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'error', 'degraded')),
                status_message TEXT,
                document_count INTEGER NOT NULL DEFAULT 0,
                vector_count INTEGER NOT NULL DEFAULT 0,
                total_size_bytes INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE TABLE collection_sources (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                source_path TEXT NOT NULL,
                source_type TEXT NOT NULL CHECK (source_type IN ('directory', 'file', 'jsonl', 'beir')),
                document_count INTEGER NOT NULL DEFAULT 0,
                size_bytes INTEGER NOT NULL DEFAULT 0,
                last_indexed_at REAL,
                created_at REAL NOT NULL,
                UNIQUE (collection_id, source_path)
            );
            CREATE TABLE documents (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                source_id INTEGER REFERENCES collection_sources(id) ON DELETE SET NULL,
                name TEXT NOT NULL,
                file_path TEXT NOT NULL,
                size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
                content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
                status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'deleted')),
                error TEXT,
                chunk_count INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                UNIQUE (collection_id, content_hash)
            );
            CREATE INDEX documents_by_source ON documents (source_id, status);
            CREATE INDEX documents_by_collection ON documents (collection_id, status);
            CREATE TABLE operations (
                id TEXT PRIMARY KEY NOT NULL,
                seq INTEGER NOT NULL UNIQUE,
                collection_id TEXT NOT NULL,
                collection_name TEXT NOT NULL,
                user TEXT NOT NULL,
                type TEXT NOT NULL CHECK (type IN ('index', 'append', 'reindex', 'remove_source', 'delete')),
                status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
                task_id TEXT,
                config TEXT NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object' AND config <> '{}'),
                attempts INTEGER NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_expires_at REAL,
                run_after REAL NOT NULL,
                cancel_requested INTEGER NOT NULL DEFAULT 0,
                progress_done INTEGER NOT NULL DEFAULT 0,
                progress_total INTEGER NOT NULL DEFAULT 0,
                checkpoint TEXT,
                result TEXT,
                error TEXT,
                created_at REAL NOT NULL,
                started_at REAL,
                completed_at REAL,
                CHECK (status NOT IN ('completed', 'failed', 'cancelled') OR completed_at IS NOT NULL),
                CHECK (status NOT IN ('failed', 'cancelled') OR error IS NOT NULL),
                CHECK (status <> 'processing' OR (task_id IS NOT NULL AND started_at IS NOT NULL))
            );
            CREATE UNIQUE INDEX operations_one_active ON operations (collection_id)
                WHERE status IN ('pending', 'processing');
            CREATE INDEX operations_queue ON operations (status, seq);
            CREATE TABLE collection_audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                collection_id TEXT NOT NULL,
                collection_name TEXT NOT NULL,
                operation_id TEXT,
                user TEXT NOT NULL,
                action TEXT NOT NULL,
                details TEXT NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE INDEX audit_by_name ON collection_audit_log (collection_name, id);
            CREATE TABLE operation_metrics (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                operation_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                name TEXT NOT NULL,
                value REAL NOT NULL,
                recorded_at REAL NOT NULL,
                UNIQUE (operation_id, attempt, name)
            );
            CREATE TABLE resource_limits (
                owner TEXT PRIMARY KEY NOT NULL,
                max_collections INTEGER NOT NULL CHECK (max_collections >= 0),
                max_documents INTEGER NOT NULL CHECK (max_documents >= 0),
                max_storage_bytes INTEGER NOT NULL CHECK (max_storage_bytes >= 0),
                max_operations_per_hour INTEGER NOT NULL CHECK (max_operations_per_hour >= 0),
                updated_at REAL NOT NULL
            );
            CREATE TABLE reservations (
                id TEXT PRIMARY KEY NOT NULL,
                owner TEXT NOT NULL,
                collection_id TEXT NOT NULL,
                operation_id TEXT,
                bytes INTEGER NOT NULL CHECK (bytes >= 0),
                purpose TEXT NOT NULL,
                created_at REAL NOT NULL,
                released_at REAL
            );
            CREATE INDEX reservations_active ON reservations (owner) WHERE released_at IS NULL;
            """),
        // The operation that last registered or resumed a document: a failed or cancelled operation
        // rolls back only its own unfinished documents.
        (2, """
            ALTER TABLE documents ADD COLUMN operation_id TEXT;
            CREATE INDEX documents_by_operation ON documents (operation_id, status);
            CREATE INDEX documents_by_update ON documents (collection_id, updated_at);
            """),
        // Registering a source looks documents up by name within their source, one at a time, instead of
        // loading the collection's documents whole.
        (3, """
            CREATE INDEX documents_by_name ON documents (source_id, name);
            """),
        // The vector backend a collection lives on ('embedded', or 'qdrant <url>'), so a command pointed at the
        // other one is refused; and the intents of alias changes that span the records and a remote backend
        // (switch, rollback, drop): recorded first, applied, then committed or undone by recovery.
        (4, """
            ALTER TABLE collections ADD COLUMN backend TEXT NOT NULL DEFAULT 'embedded';
            CREATE TABLE alias_intents (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL CHECK (kind IN ('switch', 'rollback', 'drop')),
                collection_id TEXT NOT NULL,
                alias TEXT NOT NULL,
                from_collection TEXT,
                to_collection TEXT NOT NULL,
                operation_id TEXT,
                details TEXT NOT NULL CHECK (json_valid(details)),
                created_at REAL NOT NULL
            );
            CREATE UNIQUE INDEX alias_intents_one_flip ON alias_intents (collection_id) WHERE kind IN ('switch', 'rollback');
            CREATE UNIQUE INDEX alias_intents_one_drop ON alias_intents (to_collection) WHERE kind = 'drop';
            """),
    ]
}

import Foundation
import GRDB
import Locks
import SwitchyardJSON
import VectorStore

/// The managed layer over a store: collections with sources and documents, a durable queue of
/// operations, the audit log, operation metrics, quotas and reservations (docs/operations.md).
///
/// ```swift
/// let manager = try CollectionManager(store: try Store.open(at: "/tmp/s"))
/// let (collection, op) = try manager.createCollection(
///     CollectionSpec(name: "docs", embedder: "hash-v2"), sources: ["Datasets/wordnet-defs"], user: "ana")
/// try Worker(manager: manager).runUntilIdle()
/// print(try manager.operation(op.id).status)   // completed
/// ```
///
/// Requests only enqueue (in one transaction, with every gate checked there); a ``Worker`` runs them.
/// Records live in the store's database; vectors are reached only through ``vectors``.
public final class CollectionManager: Sendable {
    /// The store whose database holds the records.
    public let store: Store
    /// Where points go (the same store unless another backend is given).
    public let vectors: any VectorBackend
    /// What collections created through this manager record as their backend: `embedded` when the vectors
    /// are in the records' store, else the backend's identity (`qdrant http://host:6333`).
    public let backend: String
    /// Physical collection → the embedder its vectors were made with, as this process learned it: from the
    /// records on first use, or from the reindex that created it (``noteEmbedder(_:ofPhysical:)``). A
    /// physical collection keeps its embedder for life (a reindex makes a new one, under a new name), so a
    /// search by text reads it once, not on every query.
    let embeddersOfPhysical = Locked<[String: String]>([:])

    /// Opens the managed layer on a store, creating or migrating its tables.
    ///
    /// - Parameters:
    ///   - store: The store whose database keeps the records.
    ///   - vectors: The vector backend; defaults to `store`.
    /// - Throws: ``OperationsError`` (`storage`) when the tables cannot be created.
    public init(store: Store, vectors: (any VectorBackend)? = nil) throws(OperationsError) {
        self.store = store
        self.vectors = vectors ?? store
        if let v = vectors as? Store, v === store { backend = "embedded" } else { backend = vectors.map(\.backendIdentity) ?? "embedded" }
        try Self.guarded("preparing the operations tables") {
            try store.migrateRecords(component: OperationsSchema.component, migrations: OperationsSchema.migrations)
            try store.migrateRecords(component: GenerationsSchema.component, migrations: GenerationsSchema.migrations)
        }
    }

    // MARK: - Database access with error mapping

    package func read<T>(_ what: @autoclosure () -> String, _ body: (Database) throws -> T) throws(OperationsError) -> T {
        try Self.guarded(what()) { try store.readRecords(body) }
    }

    package func write<T>(_ what: @autoclosure () -> String, _ body: (Database) throws -> T) throws(OperationsError) -> T {
        try Self.guarded(what()) { try store.writeRecords(body) }
    }

    /// Runs `body`, turning database and store failures into ``OperationsError`` (busy or I/O as
    /// `transient`); an `OperationsError` passes through.
    package static func guarded<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws(OperationsError) -> T {
        do { return try body() } catch { throw classify(error, doing: what()) }
    }

    /// The ``OperationsError`` for any error met while `doing` something.
    package static func classify(_ error: any Error, doing what: String) -> OperationsError {
        switch error {
        case let e as OperationsError: return e
        case let e as DatabaseError:
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CANTOPEN:
                return OperationsError(.transient, "\(what) failed", cause: "\(e)")
            case .SQLITE_CONSTRAINT:
                return OperationsError(.conflict, "\(what) failed", cause: "\(e)")
            default:
                return OperationsError(.storage, "\(what) failed", cause: "\(e)")
            }
        case let e as StoreError:
            switch e.code {
            case .busy, .io: return OperationsError(.transient, "\(what) failed", cause: e.description)
            case .constraint: return OperationsError(.conflict, "\(what) failed", cause: e.description)
            case .preconditionFailed: return OperationsError(.leaseLost, "\(what) refused", cause: e.description)
            case .storage: return OperationsError(.storage, "\(what) failed", cause: e.description)
            case .notFound: return OperationsError(.notFound, "\(what) failed", cause: e.description)
            case .invalidArgument, .invalidFile, .alreadyExists: return OperationsError(.invalidInput, "\(what) failed", cause: e.description)
            }
        default:
            let text = "\(error)"
            // Embedding errors: `transient` and `io` are worth retrying; the rest is bad input.
            if let e = error as? any TransientClassifiable { return OperationsError(e.isTransientFailure ? .transient : .invalidInput, "\(what) failed", cause: text) }
            return OperationsError(.storage, "\(what) failed", cause: text)
        }
    }
}

/// Errors from lower layers that know whether retrying may help.
protocol TransientClassifiable {
    var isTransientFailure: Bool { get }
}

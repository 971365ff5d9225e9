import GRDB
import VectorMath

/// A check a point write runs inside its own transaction before it writes anything; when the check
/// throws, the write changes nothing and fails with ``StoreError/Code/preconditionFailed``.
///
/// The operations layer fences an attempt's point writes with it: the write happens only while the
/// attempt still owns its operation, checked atomically with the write in the embedded store (whose
/// records share the database).
///
/// ```swift
/// let fence = WritePrecondition("attempt \(task) owns \(op)") { db in
///     guard try Bool.fetchOne(db, sql: "SELECT 1 FROM operations WHERE id = ? AND task_id = ?", arguments: [op, task]) == true
///     else { throw MyError.lost }
/// }
/// try store.upsert("docs", points: points, precondition: fence)
/// ```
public struct WritePrecondition: Sendable {
    /// What must hold, for the error message.
    public let description: String
    let check: @Sendable (Database) throws -> Void
    let separately: (@Sendable () throws -> Void)?

    /// - Parameters:
    ///   - description: What must hold ("attempt X owns operation Y").
    ///   - check: Throws when it does not hold; runs in the write's transaction.
    ///   - separately: The same check in a transaction of its own, for a backend whose writes cannot share the
    ///     records' transaction (a remote Qdrant): it runs just before each write, which narrows the window in
    ///     which a writer that lost its claim can still write but does not close it.
    public init(_ description: String, check: @escaping @Sendable (Database) throws -> Void,
                separately: (@Sendable () throws -> Void)? = nil) {
        self.description = description
        self.check = check
        self.separately = separately
    }

    /// Runs the check outside any write (for backends whose writes are not in the records' database).
    ///
    /// - Throws: ``StoreError`` `preconditionFailed` when it does not hold, or when this precondition can only
    ///   be checked inside the store's own transaction.
    public func verifySeparately() throws(StoreError) {
        guard let separately else {
            throw StoreError(.preconditionFailed, "write refused: '\(description)' can only be checked inside the store's own transaction")
        }
        do { try separately() } catch let e as StoreError where e.code == .preconditionFailed { throw e } catch let e as DatabaseError {
            throw StoreError(e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED ? .busy : .io,
                             "checking '\(description)' failed", cause: "\(e)")
        } catch {
            throw StoreError(.preconditionFailed, "write refused: \(description) no longer holds", cause: "\(error)")
        }
    }

    /// Runs the check, mapping its failure to `preconditionFailed`.
    func verify(_ db: Database) throws {
        // A database failure while checking is that failure (busy, I/O …), not a precondition that
        // does not hold: it passes through and is classified as such.
        do { try check(db) } catch let e as StoreError where e.code == .preconditionFailed { throw e } catch let e as DatabaseError {
            throw e
        } catch {
            throw StoreError(.preconditionFailed, "write refused: \(description) no longer holds", cause: "\(error)")
        }
    }
}

/// How a payload update combines with what is stored.
public enum PayloadUpdate: Sendable, Equatable {
    /// Adds or replaces the given top-level keys, keeping the others.
    case merge(Payload)
    /// Replaces the whole payload.
    case overwrite(Payload)
    /// Removes these top-level keys.
    case deleteKeys([String])
    /// Removes every key.
    case clear
}

/// What the layers above the vector store (operations, reindex, comparison) may use to reach
/// vectors: collections, aliases, points, scroll/count and search, with Qdrant's semantics.
///
/// ``Store`` (embedded, SQLite) is the first implementation; a Qdrant REST client can be a second, so
/// the same harness drives a real Qdrant cluster. Every name parameter accepts a collection or an alias.
public protocol VectorBackend: Sendable {
    /// Names where the vectors live (`embedded <directory>`, `qdrant <url>`): the managed layer records it
    /// with each collection and refuses to run a collection's commands against another backend.
    var backendIdentity: String { get }
    /// Whether the vectors are on this machine's disk (disk-space checks apply) or elsewhere (a server
    /// reports its collections' sizes instead).
    var isLocal: Bool { get }
    /// The longest one call may take, retries included, in seconds: a change another process began is
    /// certainly over (applied or failed) this long after it began.
    var longestCallSeconds: Double { get }
    /// The names of the collections (cheaper than ``collections()`` on a remote backend).
    func collectionNames() throws(StoreError) -> [String]

    // Collections
    @discardableResult
    func createCollection(_ name: String, dimension: Int, distance: Distance) throws(StoreError) -> CollectionInfo
    func collections() throws(StoreError) -> [CollectionInfo]
    func collectionInfo(_ nameOrAlias: String) throws(StoreError) -> CollectionInfo
    func collectionExists(_ name: String) throws(StoreError) -> Bool
    func dropCollection(_ name: String) throws(StoreError)

    // Aliases
    func aliases() throws(StoreError) -> [AliasInfo]
    func resolve(_ nameOrAlias: String) throws(StoreError) -> String
    func updateAliases(_ actions: [AliasAction]) throws(StoreError)

    // Points
    @discardableResult
    func upsert(_ collection: String, points: [Point]) throws(StoreError) -> Int
    /// Upserts only while `precondition` holds (see ``WritePrecondition``).
    @discardableResult
    func upsert(_ collection: String, points: [Point], precondition: WritePrecondition) throws(StoreError) -> Int
    func get(_ collection: String, ids: [PointID], withVector: Bool, withPayload: Bool) throws(StoreError) -> [Record]
    @discardableResult
    func delete(_ collection: String, ids: [PointID]) throws(StoreError) -> Int
    @discardableResult
    func delete(_ collection: String, filter: Filter) throws(StoreError) -> Int
    /// Deletes the points matching `filter` only while `precondition` holds.
    @discardableResult
    func delete(_ collection: String, filter: Filter, precondition: WritePrecondition) throws(StoreError) -> Int
    @discardableResult
    func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]?, filter: Filter?) throws(StoreError) -> Int
    /// Updates payloads only while `precondition` holds.
    @discardableResult
    func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]?, filter: Filter?,
                       precondition: WritePrecondition) throws(StoreError) -> Int
    func scroll(_ collection: String, filter: Filter?, limit: Int, offset: PointID?, withVector: Bool,
                withPayload: Bool) throws(StoreError) -> ScrollPage
    func count(_ collection: String, filter: Filter?) throws(StoreError) -> Int

    // Search
    func search(_ collection: String, _ request: SearchRequest) throws(StoreError) -> [ScoredPoint]
    func searchBatch(_ collection: String, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]]
    /// Searches running now on the collection behind `nameOrAlias` (cleanup waits for 0).
    func activeSearches(_ nameOrAlias: String) throws(StoreError) -> Int
}

extension Store: VectorBackend {
    public var backendIdentity: String { "embedded \(directory)" }
    public var isLocal: Bool { true }
    /// A write waits at most the busy timeout for the database lock.
    public var longestCallSeconds: Double { Double(options.busyTimeout.components.seconds) + 1 }
    public func collectionNames() throws(StoreError) -> [String] { try collections().map(\.name) }
}

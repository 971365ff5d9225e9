import CSQLiteSetup
import Foundation
import GRDB
import Locks
import Logging
import SwitchyardJSON
import Synchronization
import Telemetry
import VectorMath

/// An embedded vector store with Qdrant's semantics: a directory holding one SQLite database
/// (`store.sqlite`, WAL mode) that is the single source of truth, plus in-memory matrices for search.
///
/// ```swift
/// let store = try Store.open(at: "/tmp/demo-store")
/// try store.createCollection("docs", dimension: 3, distance: .cosine)
/// try store.upsert("docs", points: [Point(id: .number(1), vector: [1, 0, 0], payload: ["lang": "en"])])
/// let hits = try store.search("docs", SearchRequest(vector: [1, 0.1, 0], limit: 5))
/// ```
///
/// Thread-safe: searches run concurrently; writes are serialised (by SQLite across processes).
/// Several processes may open one store; before each read a process checks whether another one
/// committed and refreshes what changed.
public final class Store: Sendable {
    /// Settings for opening a store.
    public struct Options: Sendable {
        /// SQLite's `synchronous` level: `full` survives power loss; `normal` survives a killed
        /// process (a committed write is in the WAL) but may lose the last commits on power loss.
        public enum Sync: String, Sendable { case full = "FULL", normal = "NORMAL" }
        public var synchronous: Sync = .full
        /// Threads one search (or batch) may use; defaults to the active cores.
        public var searchThreads: Int = ProcessInfo.processInfo.activeProcessorCount
        /// Screen exact searches of collections with at least ``RowMatrix/screenMinRows`` points (and no int8
        /// quantization of their own) with an int8 copy of the vectors and proven error bounds: results stay
        /// exact, searches read a quarter of the bytes, and the copy takes a quarter of the vectors' memory.
        /// See `ScreenedSearch`.
        public var exactScreening: Bool = true
        /// Load every collection's vectors at open (otherwise on first use).
        public var preload: Bool = true
        /// How long to wait for another process's write lock.
        public var busyTimeout: Duration = .seconds(30)
        /// The write-ahead log's length, in pages, at which a write of this process has it checkpointed
        /// (passively, on the store's checkpoint thread, after its commit), in place of SQLite's
        /// `wal_autocheckpoint`. At four times this length (by default 256 MiB of 64 KiB pages, the automatic
        /// checkpoint's length before) the write checkpoints it itself. At least 1.
        public var walCheckpointPages: Int = 1024
        /// Create the directory and database when missing.
        public var create: Bool = true
        /// Where store metrics go (`store_operations_total`, durations, points upserted, search latency).
        public var telemetry = Telemetry()

        public init() {}
    }

    /// The store's directory.
    public let directory: String
    /// What opening the store found.
    public var openReport: OpenReport { report.withLock { $0 } }
    private let report: Locked<OpenReport>
    let options: Options
    let pool: DatabasePool
    /// Reads the store generation outside the pool (see ``GenerationProbes``).
    let generationProbes: GenerationProbes
    let catalog = Locked(Catalog())
    /// The store generation memory reflects (raised only: see ``noteGeneration(_:)``).
    let knownGeneration = Atomic<Int64>(-1)
    /// Held by the refresh that a search or a lookup starts when it finds a new generation (it counts those
    /// refreshes), and by a write from its commit until memory reflects it. (Not an empty value:
    /// ThreadSanitizer takes an access to a lock's zero-sized value for one to the lock's own fields, and
    /// reports a race where there is none.)
    let refreshGate = Locked(0)
    /// The write-ahead log's length after this process's last commit, for the checkpoint that replaces
    /// SQLite's automatic one (``checkpointIfDue(_:)``).
    let walFrames: WALFrames
    /// Runs the checkpoints on a thread of its own.
    let checkpointer: Checkpointer

    /// SQLite page size of new stores.
    static let pageSize = 65_536

    /// The database file inside a store directory.
    public static let databaseFileName = "store.sqlite"

    private init(directory: String, options: Options, pool: DatabasePool, walFrames: WALFrames, report: OpenReport) {
        self.directory = directory
        self.walFrames = walFrames
        self.options = options
        self.pool = pool
        let path = (directory as NSString).appendingPathComponent(Self.databaseFileName)
        self.generationProbes = GenerationProbes(path: path, count: max(2, options.searchThreads), busyTimeout: options.busyTimeout)
        self.checkpointer = Checkpointer(path: path, synchronous: options.synchronous.rawValue, busyTimeout: options.busyTimeout)
        self.report = Locked(report)
    }

    deinit { checkpointer.close() }

    /// Opens (or creates) the store in `directory`.
    ///
    /// - Parameters:
    ///   - directory: the store's folder; created when missing (unless `options.create` is false).
    ///   - options: durability, threads, preloading.
    /// - Returns: the open store; `openReport` says what was recovered.
    /// - Throws: ``StoreError`` when the folder cannot be created or the file is not a store.
    public static func open(at directory: String, options: Options = Options()) throws(StoreError) -> Store {
        let start = ContinuousClock.now
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StoreError(.invalidArgument, "store path '\(directory)' is a file, not a directory") }
        } else {
            guard options.create else { throw StoreError(.notFound, "no store at '\(directory)'") }
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw StoreError(.storage, "cannot create store directory '\(directory)': \(fileErrorReason(error))")
            }
        }
        let path = (directory as NSString).appendingPathComponent(databaseFileName)
        if !options.create && !fm.fileExists(atPath: path) {
            throw StoreError(.notFound, "no store at '\(directory)' (missing \(databaseFileName))")
        }
        let walSize = ((try? fm.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber)?.intValue ?? 0
        _ = SQLiteProcessSetup.memoryStatisticsOff
        var config = Configuration()
        config.busyMode = .timeout(TimeInterval(options.busyTimeout.components.seconds))
        config.maximumReaderCount = max(4, options.searchThreads * 2)
        let sync = options.synchronous.rawValue
        let walFrames = WALFrames(checkpointFrames: max(1, options.walCheckpointPages))
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            // Instead of SQLite's automatic checkpoint, which runs inside a commit (a store write commits
            // under the refresh gate, and readers that see the commit wait there), a hook notes the log's
            // length and the write checkpoints after it has let the gate go (`checkpointIfDue`).
            walFrames.install(on: db)
        }
        let pool: DatabasePool
        var attempt = 0
        while true {
            do {
                pool = try openDatabase(path: path, configuration: config, busyTimeout: options.busyTimeout)
                break
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY && attempt < 100 {
                // Switching a brand-new file to WAL needs an exclusive lock, and SQLite does not wait
                // for it with the busy handler when another process is opening the same file: retry.
                attempt += 1
                Thread.sleep(forTimeInterval: 0.01 * Double(min(attempt, 10)))
            } catch let e as StoreError {
                throw StoreError(e.code, "cannot open store '\(directory)': \(e.message)", cause: e.cause)
            } catch {
                throw StoreError(.storage, "cannot open store '\(directory)'", cause: "\(error)")
            }
        }
        BLASRuntime.configureOnce()
        let placeholder = OpenReport(walBytesAtOpen: walSize, collections: 0, pointsLoaded: [:], seconds: 0)
        let store = Store(directory: directory, options: options, pool: pool, walFrames: walFrames, report: placeholder)
        try store.refresh()
        var loaded: [String: Int] = [:]
        let handles = store.catalog.withLock { Array($0.byName.values) }
        if options.preload {
            for h in handles { loaded[h.name] = try store.ensureLoaded(h) }
        }
        store.purgeTrash()
        let report = OpenReport(
            walBytesAtOpen: walSize, collections: handles.count, pointsLoaded: loaded,
            seconds: (ContinuousClock.now - start).seconds)
        store.report.withLock { $0 = report }
        return store
    }

    /// Creates the database file when missing (64 KiB pages, WAL), opens the pool and migrates.
    private static func openDatabase(path: String, configuration: Configuration, busyTimeout: Duration) throws -> DatabasePool {
        if !FileManager.default.fileExists(atPath: path) {
            // A new database gets 64 KiB pages before WAL fixes the page size: a 384-d vector row
            // is 1.5 KiB, and large pages make bulk ingest much cheaper (docs/vector-store.md).
            var setup = Configuration()
            setup.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
            let q = try DatabaseQueue(path: path, configuration: setup)
            defer { try? q.close() }
            try q.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA page_size = \(pageSize)")
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Schema.migrate(pool)
        return pool
    }

    /// Closes the database connections. Calls after this fail.
    public func close() throws(StoreError) {
        // The checkpoint thread and the probes first: the pool's connections are the last to close.
        checkpointer.close()
        generationProbes.close()
        do { try pool.close() } catch {
            generationProbes.reopen()
            checkpointer.reopen()
            throw StoreError(.storage, "cannot close store '\(directory)'", cause: "\(error)")
        }
    }

    /// Runs database work, mapping failures to ``StoreError`` with a code callers can branch on.
    func database<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch let e as StoreError { throw e } catch let e as DatabaseError {
            throw StoreError(Self.code(of: e), "\(what()) failed", cause: "\(e)")
        } catch {
            throw StoreError(.storage, "\(what()) failed", cause: "\(error)")
        }
    }

    /// The ``StoreError/Code`` of an SQLite failure (by its primary result code).
    static func code(of e: DatabaseError) -> StoreError.Code {
        switch e.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
        case .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CANTOPEN: .io
        case .SQLITE_CONSTRAINT: .constraint
        default: .storage
        }
    }
}

extension Store {
    /// Runs a store call, counting it and timing it in ``Options/telemetry``.
    func measured<T>(_ operation: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let t0 = ContinuousClock.now
        do {
            let r = try body()
            options.telemetry.storeOperation(operation, status: "ok", seconds: (ContinuousClock.now - t0).seconds)
            return r
        } catch {
            options.telemetry.storeOperation(operation, status: "error", seconds: (ContinuousClock.now - t0).seconds)
            throw error
        }
    }
}

extension Duration {
    /// The duration in seconds.
    package var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// SQLite's process-wide settings, made once, before the first store's connections open.
enum SQLiteProcessSetup {
    /// SQLite's memory statistics are off: with them on, every allocation of every connection takes one
    /// process-wide mutex, and readers searching at the same time as a writer queued on it (measured: it
    /// was where 8 readers waited around a reindex's switch). False when SQLite was initialized before
    /// the first store opened (another library in the process); the store works the same, only slower.
    static let memoryStatisticsOff: Bool = {
        let code = sy_sqlite_disable_memory_statistics()
        if code != 0 {
            Log.store.info("SQLite was initialized before the first store opened; its memory statistics stay on",
                           metadata: ["sqlite_result": "\(code)"])
        }
        return code == 0
    }()
}

/// The in-memory catalog: collections by name and aliases, swapped whole so readers never see a mix.
struct Catalog: Sendable {
    var byName: [String: CollectionHandle] = [:]
    /// alias → collection name
    var aliases: [String: String] = [:]
    var generation: Int64 = -1

    func resolve(_ name: String) -> CollectionHandle? {
        if let h = byName[name] { return h }
        if let target = aliases[name] { return byName[target] }
        return nil
    }
}

/// Names of collections and aliases.
public enum Names {
    /// The rule: 1 to 255 characters from `A–Z a–z 0–9 _ - .`, not starting with `.` or `-`.
    public static let rule = "1 to 255 characters from A-Z a-z 0-9 _ - ., not starting with '.' or '-'"

    /// Throws unless `name` follows ``rule``.
    public static func validate(_ name: String, what: String) throws(StoreError) {
        let scalars = name.unicodeScalars
        let ok = !scalars.isEmpty && scalars.count <= 255
            && scalars.allSatisfy { s in
                (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_" || s == "-" || s == "."
            }
            && scalars.first != "." && scalars.first != "-"
        guard ok else {
            let shown = name.count > 60 ? String(name.prefix(60)) + "…" : name
            throw .invalid("invalid \(what) name '\(shown)': use \(rule)")
        }
    }
}

import Foundation
import GRDBSQLite
import Locks

/// Copies the write-ahead log into the database file on a thread and a connection of its own.
///
/// A checkpoint after a bulk write mostly waits for the disk: after a reindex's staging copy of 6,000 384-d
/// vectors it took 100–550 ms, of which 23–130 ms on the CPU. Run by the writer, it held up whatever that
/// writer did next; a reindex ran one before its switch and spent a third of its time there. SQLite lets a
/// passive checkpoint run beside writers and readers (it copies the frames no reader still needs and waits
/// for nobody), so a write only asks for one here (``request()``) and goes on.
///
/// A pass copies the frames committed when it began, and SQLite starts the log again from its beginning only
/// when a write begins after a pass that left nothing to copy: under back-to-back commits that does not
/// happen, and the log keeps growing. The writer therefore runs a pass itself once the log is four times
/// the threshold (`Store.checkpointIfDue`, through ``runExclusively(_:)``), as before this thread existed.
///
/// The thread starts on the first request, runs niced (on Linux), and stops with the store; requests that
/// arrive while a pass runs are served by one more pass, and requests not yet started when the store closes
/// are dropped (the last connection to close copies the log anyway, or the next open replays it).
final class Checkpointer: Sendable {
    private let path: String
    private let synchronous: String
    private let busyTimeout: Duration
    private let condition = Locks.Condition()
    private let state = Locked(State())

    private struct State {
        /// Tickets handed out, and the last one a finished pass served.
        var requested = 0
        var done = 0
        /// Why the last pass failed (it is retried on the next request).
        var failure: StoreError?
        /// A pass is running on the thread; the writer runs one of its own (the thread starts none meanwhile).
        var running = false
        var exclusive = false
        var thread = false
        var closed = false
    }

    /// The nice value of the checkpoint thread (Linux: per thread; it cannot go below the requester's).
    static let niceness: Int32 = 10

    /// - Parameters:
    ///   - path: the store's database file.
    ///   - synchronous: the store's `synchronous` level (with `FULL` or `NORMAL` a checkpoint syncs the file).
    ///   - busyTimeout: how long opening the connection waits when SQLite reports the database busy.
    init(path: String, synchronous: String, busyTimeout: Duration) {
        self.path = path
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
    }

    /// Asks for a checkpoint pass that starts after this call, and returns at once with its ticket (0 once
    /// the store is closed).
    @discardableResult
    func request() -> Int {
        var ticket = 0, startThread = false
        condition.signal {
            state.withLock { s in
                guard !s.closed else { return }
                s.requested += 1
                ticket = s.requested
                startThread = Self.claimThread(&s)
            }
        }
        if startThread { start() }
        return ticket
    }

    /// Waits until the pass serving `ticket` has run; throws its failure.
    func wait(for ticket: Int) throws(StoreError) {
        guard ticket > 0 else { throw Self.closedError }
        let failure: StoreError? = condition.wait(until: {
            state.withLock { s -> StoreError?? in
                if s.done >= ticket { return .some(s.failure) }
                // Closed with the ticket unserved: the thread has stopped, or will without serving it.
                if s.closed { return .some(Self.closedError) }
                return nil
            }
        })
        if let failure { throw failure }
    }

    /// Runs `body` (the writer's own pass) once no pass of the thread is running, and keeps the thread from
    /// starting one until it returns.
    func runExclusively(_ body: () -> Void) {
        condition.wait { state.withLock { s in
            guard !s.running && !s.exclusive else { return false }
            s.exclusive = true
            return true
        } }
        body()
        condition.signal { state.withLock { $0.exclusive = false } }
    }

    /// Stops the thread (after the pass it runs, if any) and closes its connection. Later requests do nothing
    /// until ``reopen()``.
    func close() {
        condition.signal { state.withLock { $0.closed = true } }
        condition.wait { state.withLock { !$0.thread } }
    }

    /// Lets requests start the thread again (after the store's close failed and left the store open), and
    /// starts it for requests the close left unserved.
    func reopen() {
        var startThread = false
        condition.signal {
            state.withLock { s in
                s.closed = false
                startThread = s.requested > s.done && Self.claimThread(&s)
            }
        }
        if startThread { start() }
    }

    private static let closedError = StoreError(.storage, "checkpointing the write-ahead log failed: the store is closed")

    /// Whether the caller must start the thread (none runs), noting that one does.
    private static func claimThread(_ s: inout State) -> Bool {
        guard !s.thread else { return false }
        s.thread = true
        return true
    }

    private func start() {
        let thread = Thread { [self] in run() }
        thread.name = "switchyard-checkpoint"
        thread.start()
    }

    private func run() {
        #if os(Linux)
        // Linux: the nice value of this thread alone.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        #endif
        var connection = CheckpointConnection()
        while true {
            // The next pass serves every ticket handed out so far; nil once closed.
            let ticket: Int? = condition.wait(until: {
                state.withLock { s -> Int?? in
                    if s.closed { return .some(nil) }
                    guard s.requested > s.done && !s.exclusive else { return nil }
                    s.running = true
                    return .some(s.requested)
                }
            })
            guard let ticket else { break }
            let failure: StoreError?
            do throws(StoreError) {
                try connection.checkpoint(path: path, synchronous: synchronous, busyTimeout: busyTimeout)
                failure = nil
            } catch {
                failure = error
                connection.close()
            }
            condition.signal {
                state.withLock { s in
                    s.done = ticket
                    s.failure = failure
                    s.running = false
                }
            }
        }
        connection.close()
        condition.signal { state.withLock { $0.thread = false } }
    }
}

/// The checkpoint thread's connection, opened on its first pass.
private struct CheckpointConnection {
    private var db: OpaquePointer?

    mutating func checkpoint(path: String, synchronous: String, busyTimeout: Duration) throws(StoreError) {
        if db == nil { try open(path: path, synchronous: synchronous, busyTimeout: busyTimeout) }
        guard let db else { return }
        // Passive: copies what no reader still needs and waits for nobody. SQLITE_BUSY means another connection
        // (another process's writer or checkpoint thread) is checkpointing: its pass does the work.
        var frames: Int32 = 0, copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
        if rc == SQLITE_BUSY { return }
        guard rc == SQLITE_OK else { throw RawConnection.failure(db, rc, "checkpointing the write-ahead log") }
        // −1: this connection has no write-ahead log open, and the call did nothing (see `open`).
        guard frames >= 0 else {
            throw StoreError(.storage, "checkpointing the write-ahead log failed", cause: "the checkpoint connection has no write-ahead log open")
        }
    }

    private mutating func open(path: String, synchronous: String, busyTimeout: Duration) throws(StoreError) {
        let handle = try RawConnection.open(path: path, busyTimeout: busyTimeout, for: "checkpoint the write-ahead log")
        db = handle
        // A new connection opens the write-ahead log only when it first reads the database: until then a
        // checkpoint call does nothing and reports success. Reading the schema opens it.
        let setup = "PRAGMA synchronous = \(synchronous); SELECT count(*) FROM sqlite_schema"
        let rc = sqlite3_exec(handle, setup, nil, nil, nil)
        guard rc == SQLITE_OK else {
            let error = RawConnection.failure(handle, rc, "setting up the checkpoint connection")
            close()
            throw error
        }
    }

    mutating func close() {
        if let db { sqlite3_close_v2(db) }
        db = nil
    }
}

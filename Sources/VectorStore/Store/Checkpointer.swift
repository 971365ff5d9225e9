import Foundation
import GRDB
import GRDBSQLite
import Locks

/// Copies the write-ahead log into the database file on a thread and a connection of its own.
///
/// A checkpoint after a bulk write mostly waits for the disk: after a reindex's staging copy of 6,000 384-d
/// vectors it took 100–550 ms, of which 25–130 ms on the CPU. Run by the writer, it held up whatever that
/// writer did next; a reindex ran one before its switch and spent a third of its time there. SQLite lets a
/// passive checkpoint run beside writers and readers (it copies the frames no reader still needs and waits
/// for nobody), so a write only asks for one here (``request()``) and goes on.
///
/// The thread starts on the first request, runs niced (it competes with nothing that waits for it, except a
/// writer that has let the log grow four times past the threshold: see `Store.checkpointIfDue`), and stops
/// with the store. Requests that arrive while a pass runs are served by one more pass.
final class Checkpointer: Sendable {
    private let path: String
    private let synchronous: String
    private let busyTimeout: Duration
    private let condition = Locks.Condition()
    private let state = Locked(State())

    private struct State {
        /// Tickets handed out, the ticket the running pass serves, and the last one served.
        var requested = 0
        var started = 0
        var done = 0
        /// Why the last pass failed (it is retried on the next request).
        var failure: StoreError?
        var thread = false
        var closed = false
    }

    /// The nice value of the checkpoint thread (Linux: per thread).
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
        var startThread = false
        var ticket = 0
        condition.signal {
            state.withLock { s in
                guard !s.closed else { return }
                s.requested += 1
                ticket = s.requested
                if !s.thread {
                    s.thread = true
                    startThread = true
                }
            }
        }
        if startThread { start() }
        return ticket
    }

    /// Waits until the pass serving `ticket` has run; throws its failure.
    func wait(for ticket: Int) throws(StoreError) {
        guard ticket > 0 else { throw StoreError(.storage, "checkpointing the write-ahead log failed: the store is closed") }
        let failure: StoreError? = condition.wait(until: {
            state.withLock { s -> StoreError?? in
                if s.done >= ticket { return .some(s.failure) }
                // Closed with the ticket unserved: the thread has stopped.
                if s.closed && !s.thread { return .some(StoreError(.storage, "checkpointing the write-ahead log failed: the store is closed")) }
                return nil
            }
        })
        if let failure { throw failure }
    }

    /// Stops the thread (after the pass it runs, if any) and closes its connection. Later requests do nothing
    /// until ``reopen()``.
    func close() {
        condition.signal { state.withLock { $0.closed = true } }
        condition.wait { state.withLock { !$0.thread } }
    }

    /// Lets requests start the thread again (after the store's close failed and left the store open).
    func reopen() {
        condition.signal { state.withLock { $0.closed = false } }
    }

    private func start() {
        let thread = Thread { [self] in run() }
        thread.name = "switchyard-checkpoint"
        thread.start()
    }

    private func run() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        var connection = CheckpointConnection()
        while true {
            // The next pass serves every ticket handed out so far; nil once closed.
            let ticket: Int? = condition.wait(until: {
                state.withLock { s -> Int?? in
                    if s.closed { return .some(nil) }
                    guard s.requested > s.done else { return nil }
                    s.started = s.requested
                    return .some(s.started)
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
                }
            }
        }
        connection.close()
        condition.signal { state.withLock { $0.thread = false } }
    }
}

/// The checkpoint thread's connection (opened on its first pass, with `SQLITE_OPEN_NOMUTEX`: one thread uses it).
private struct CheckpointConnection {
    private var db: OpaquePointer?

    mutating func checkpoint(path: String, synchronous: String, busyTimeout: Duration) throws(StoreError) {
        if db == nil { try open(path: path, synchronous: synchronous, busyTimeout: busyTimeout) }
        guard let db else { return }
        // Passive: copies what no reader still needs and waits for nobody. SQLITE_BUSY means another connection
        // (another process's writer) is checkpointing: its pass does the work.
        let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard rc == SQLITE_OK || rc == SQLITE_BUSY else { throw failure(rc, "checkpointing the write-ahead log") }
    }

    private mutating func open(path: String, synchronous: String, busyTimeout: Duration) throws(StoreError) {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            sqlite3_close_v2(handle)
            throw StoreError(Store.code(of: DatabaseError(resultCode: ResultCode(rawValue: rc))),
                             "opening a connection to checkpoint the write-ahead log failed", cause: "SQLite error \(rc): \(message)")
        }
        db = handle
        let millis = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(handle, Int32(clamping: millis))
        guard sqlite3_exec(handle, "PRAGMA synchronous = \(synchronous)", nil, nil, nil) == SQLITE_OK else {
            let error = failure(sqlite3_errcode(handle), "setting up the checkpoint connection")
            close()
            throw error
        }
    }

    private func failure(_ rc: Int32, _ what: String) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? ""
        return StoreError(Store.code(of: DatabaseError(resultCode: ResultCode(rawValue: rc))), "\(what) failed",
                          cause: "SQLite error \(rc): \(message)")
    }

    mutating func close() {
        if let db { sqlite3_close_v2(db) }
        db = nil
    }
}

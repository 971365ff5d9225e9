import Foundation
import GRDB
import GRDBSQLite
import Locks

/// Reads the store generation on a few connections of its own, outside the database pool.
///
/// Every search and every name lookup first reads the generation, to learn whether another process (or a
/// write in this one) committed since memory was last refreshed. Through the pool that read takes a reader
/// connection (a semaphore, the pool's lock, the connection's serial queue) and runs three statements (`BEGIN`,
/// the `SELECT`, `COMMIT`). With more searching threads than cores, a thread preempted while it holds one of
/// those locks makes the others queue behind it, and each hand-off waits for a wake-up: the stalls that set
/// readers' p99 during a reindex (docs/performance.md).
///
/// A probe is one plain connection that runs one prepared `SELECT` (an autocommit read: one consistent
/// snapshot, as before). A thread takes the first probe whose lock is free, so a preempted holder delays no
/// one unless every probe is busy; only then does it wait, on a probe picked at random.
///
/// Probes open on first use (after the pool has created and migrated the database) and close with the store.
final class GenerationProbes: Sendable {
    private let slots: [Slot]
    private let path: String
    private let busyTimeout: Duration

    /// One connection and its statement, behind a lock (a pthread mutex, which ThreadSanitizer sees).
    private final class Slot: Sendable {
        let state = Locked(Probe())
    }

    /// - Parameters:
    ///   - path: the store's database file.
    ///   - count: how many connections at most (each opens on first use).
    ///   - busyTimeout: how long a read waits when SQLite reports the database busy (WAL recovery).
    init(path: String, count: Int, busyTimeout: Duration) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.slots = (0..<max(1, count)).map { _ in Slot() }
    }

    /// The committed store generation (0 before the first write).
    func read() throws(StoreError) -> Int64 {
        for slot in slots {
            if let value = try slot.state.withLockIfAvailable({ (p: inout Probe) throws(StoreError) -> Int64 in
                try p.read(path: path, busyTimeout: busyTimeout)
            }) {
                return value
            }
        }
        return try slots[Int.random(in: 0..<slots.count)].state.withLock { (p: inout Probe) throws(StoreError) -> Int64 in
            try p.read(path: path, busyTimeout: busyTimeout)
        }
    }

    /// Closes every connection; a read after this fails, until ``reopen()``.
    func close() {
        for slot in slots { slot.state.withLock { $0.close() } }
    }

    /// Lets reads open connections again (after the store's close failed and left the store open).
    func reopen() {
        for slot in slots { slot.state.withLock { $0.reopen() } }
    }

    deinit { close() }
}

/// One probe connection. Only ever used in place under its slot's lock (opened with `SQLITE_OPEN_NOMUTEX`).
private struct Probe {
    private var db: OpaquePointer?
    private var statement: OpaquePointer?
    private var closed = false

    static let sql = "SELECT value FROM store_meta WHERE key = 'generation'"

    mutating func read(path: String, busyTimeout: Duration) throws(StoreError) -> Int64 {
        if statement == nil { try open(path: path, busyTimeout: busyTimeout) }
        guard let statement else { throw StoreError(.storage, "reading the store generation failed: the store is closed") }
        defer { sqlite3_reset(statement) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return sqlite3_column_int64(statement, 0)
        case SQLITE_DONE: return 0
        case let rc: throw failure(rc, "reading the store generation")
        }
    }

    private mutating func open(path: String, busyTimeout: Duration) throws(StoreError) {
        guard !closed else { throw StoreError(.storage, "reading the store generation failed: the store is closed") }
        let handle = try RawConnection.open(path: path, busyTimeout: busyTimeout, for: "read the store generation")
        db = handle
        var prepared: OpaquePointer?
        // `query_only` keeps it a reader.
        guard sqlite3_exec(handle, "PRAGMA query_only = 1", nil, nil, nil) == SQLITE_OK,
              sqlite3_prepare_v3(handle, Self.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil) == SQLITE_OK,
              let prepared
        else {
            let error = failure(sqlite3_errcode(handle), "preparing the store generation read")
            close()
            closed = false
            throw error
        }
        statement = prepared
    }

    private func failure(_ rc: Int32, _ what: String) -> StoreError { RawConnection.failure(db, rc, what) }

    mutating func reopen() { closed = false }

    mutating func close() {
        if let statement { sqlite3_finalize(statement) }
        if let db { sqlite3_close_v2(db) }
        statement = nil
        db = nil
        closed = true
    }
}

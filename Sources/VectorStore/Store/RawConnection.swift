import GRDB
import GRDBSQLite

/// Plain SQLite connections the store opens outside its pool (the generation probes, the checkpoint thread),
/// each used by one thread at a time (`SQLITE_OPEN_NOMUTEX`).
enum RawConnection {
    /// Opens the database file read-write (so that SQLite maps the WAL index as the pool's connections do),
    /// with `busyTimeout` for the waits SQLite reports as busy.
    ///
    /// - Parameter what: what the connection is for, in the error ("read the store generation").
    static func open(path: String, busyTimeout: Duration, for what: String) throws(StoreError) -> OpaquePointer {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            sqlite3_close_v2(handle)
            throw StoreError(code(rc), "opening a connection to \(what) failed", cause: "SQLite error \(rc): \(message)")
        }
        let millis = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(handle, Int32(clamping: millis))
        return handle
    }

    /// `what` failed on `db` with result code `rc`, with SQLite's message.
    static func failure(_ db: OpaquePointer?, _ rc: Int32, _ what: String) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? ""
        return StoreError(code(rc), "\(what) failed", cause: "SQLite error \(rc): \(message)")
    }

    /// The pool's mapping (``Store/code(of:)``), so that a failure here carries the code the same failure would there.
    static func code(_ rc: Int32) -> StoreError.Code {
        Store.code(of: DatabaseError(resultCode: ResultCode(rawValue: rc)))
    }
}

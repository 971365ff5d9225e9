import Foundation
import GRDB
import GRDBSQLite

#if _endian(big)
#error("Switchyard stores vectors as little-endian Float32 and writes native floats: big-endian hosts are not supported")
#endif

/// Bulk row writes through SQLite's C API on a GRDB-prepared statement.
///
/// The ingest hot path: binding the vector BLOB with `SQLITE_STATIC` straight from the caller's
/// buffer avoids two copies and an allocation per row that `Statement.execute(arguments:)` makes
/// (measured: see docs/performance.md). Everything else goes through GRDB.
enum RawInsert {
    /// Binds values; the first failing bind's result code is kept and reported before stepping.
    final class Binder {
        let statement: OpaquePointer
        var failure: Int32 = SQLITE_OK

        init(statement: OpaquePointer) { self.statement = statement }

        private func check(_ rc: Int32) { if rc != SQLITE_OK && failure == SQLITE_OK { failure = rc } }

        func blob(_ index: Int32, _ data: Data) {
            data.withUnsafeBytes { raw in
                check(sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), transient))
            }
        }

        /// Binds bytes that stay valid until the row is stepped (no copy).
        func staticBlob(_ index: Int32, _ pointer: UnsafeRawPointer, bytes: Int) {
            check(sqlite3_bind_blob(statement, index, pointer, Int32(bytes), nil))
        }

        func text(_ index: Int32, _ value: String?) {
            guard let value else {
                check(sqlite3_bind_null(statement, index))
                return
            }
            check(sqlite3_bind_text(statement, index, value, -1, transient))
        }
    }

    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds and steps `statement` `count` times; `done` receives each row's rowid.
    static func run(_ db: Database, _ statement: Statement, count: Int,
                    bind: (Int, Binder) -> Void, done: (Int, Int64) -> Void) throws {
        let s = statement.sqliteStatement
        let binder = Binder(statement: s)
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        for i in 0..<count {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
            bind(i, binder)
            if binder.failure != SQLITE_OK {
                throw DatabaseError(resultCode: ResultCode(rawValue: binder.failure), message: "binding row \(i) failed", sql: statement.sql)
            }
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: statement.sql)
            }
            done(i, sqlite3_last_insert_rowid(db.sqliteConnection))
        }
    }
}

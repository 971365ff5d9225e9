import Foundation
import GRDB
import GRDBSQLite

/// Bulk row writes through SQLite's C API on a GRDB-prepared statement.
///
/// The ingest hot path: binding the vector BLOB with `SQLITE_STATIC` straight from the caller's
/// buffer avoids two copies and an allocation per row that `Statement.execute(arguments:)` makes
/// (measured: see docs/performance.md). Everything else goes through GRDB.
enum RawInsert {
    struct Binder {
        let statement: OpaquePointer

        func blob(_ index: Int32, _ data: Data) {
            data.withUnsafeBytes { raw in
                _ = sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), transient)
            }
        }

        /// Binds bytes that stay valid until the row is stepped (no copy).
        func staticBlob(_ index: Int32, _ pointer: UnsafeRawPointer, bytes: Int) {
            _ = sqlite3_bind_blob(statement, index, pointer, Int32(bytes), nil)
        }

        func text(_ index: Int32, _ value: String?) {
            guard let value else {
                _ = sqlite3_bind_null(statement, index)
                return
            }
            _ = sqlite3_bind_text(statement, index, value, -1, transient)
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
            bind(i, binder)
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: statement.sql)
            }
            done(i, sqlite3_last_insert_rowid(db.sqliteConnection))
        }
    }
}

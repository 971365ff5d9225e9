import GRDB
import GRDBSQLite
import Synchronization

/// The length of the store's write-ahead log after this process's last commit, as SQLite's WAL hook
/// reports it.
///
/// SQLite's automatic checkpoint is itself a WAL hook, run inside the commit once the log is long enough:
/// installing this one turns it off. A store write commits under the refresh gate, so an automatic
/// checkpoint there (100–200 ms measured after a bulk load) would keep every reader that saw the commit
/// waiting at the gate. Instead, after it has let the gate go, the write asks the store's checkpoint thread
/// for one (`Store.checkpointIfDue`).
final class WALFrames: Sendable {
    /// The length at which a checkpoint is asked for (``Store/Options/walCheckpointPages``; by default 1,024
    /// pages of 64 KiB; at four times that, the `wal_autocheckpoint` the store once set, the writer runs one).
    let checkpointFrames: Int

    private let frames = Atomic<Int>(0)

    init(checkpointFrames: Int) {
        self.checkpointFrames = checkpointFrames
    }

    /// Installs the hook on a connection (only the writer commits, so only its hook runs).
    func install(on db: Database) {
        guard let connection = db.sqliteConnection else { return }
        // Unretained: the hook's context lives as long as the pool, whose configuration holds this object.
        sqlite3_wal_hook(connection, { context, _, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<WALFrames>.fromOpaque(context).takeUnretainedValue().frames.store(Int(frames), ordering: .relaxed)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The log's length in frames after this process's last commit.
    var length: Int { frames.load(ordering: .relaxed) }
}

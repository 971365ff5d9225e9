#ifndef CSQLITESETUP_H
#define CSQLITESETUP_H

/// Turns off SQLite's memory statistics for the whole process (`SQLITE_CONFIG_MEMSTATUS` = 0). With them on,
/// every allocation and free of every connection takes one process-wide mutex; searching threads then queue
/// behind each other and behind a writer. Must run before SQLite initializes (before the first connection
/// opens); `sqlite3_config` is variadic, which Swift cannot call.
///
/// Not safe while another thread of the process opens an SQLite connection (SQLite's global configuration is
/// unguarded): the store calls it once, before it opens its own, and in the processes Switchyard starts no
/// other code opens SQLite first.
///
/// Returns SQLite's result code: 0 (`SQLITE_OK`), or 21 (`SQLITE_MISUSE`) when SQLite was already initialized.
int sy_sqlite_disable_memory_statistics(void);

#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a mutex: every read and write of the value goes through ``withLock(_:)``.
///
/// ```swift
/// let hits = Locked<[String: Int]>([:])
/// hits.withLock { $0["search", default: 0] += 1 }
/// ```
///
/// The project's one general-purpose lock, over `pthread_mutex_t` rather than `Synchronization.Mutex`:
/// on Linux the standard library's `Mutex` waits on a futex that ThreadSanitizer cannot see, so every
/// access it guards is reported as a race, and a real race beside it drowns in the noise. A pthread
/// mutex is intercepted by ThreadSanitizer, so a clean TSan run means something (docs/concurrency.md).
/// Use `Atomic` from Synchronization for a single integer or flag.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched inside `withLock`, which holds `mutex`; the mutex pointer
    // is allocated once and never reassigned.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A lock guarding `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    ///
    /// - Parameter body: Reads or changes the value; must not call `withLock` on the same lock (it
    ///   is not recursive).
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws; the lock is released either way.
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with exclusive access to the value if the lock is free now; returns nil without waiting
    /// when another thread holds it.
    public func withLockIfAvailable<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

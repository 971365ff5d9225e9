#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serialises tests that switch the process-wide SIMD kernel level (`Kernels.select`) against tests
/// that need one level throughout a call (identical rows must score identically within one search).
///
/// Swift Testing runs tests in parallel, and all test targets share one process: a test that selects
/// a kernel takes the lock exclusively; tests whose checks depend on stable scores take it shared.
public enum KernelLevelLock {
    // @unchecked: the pthread lock serialises access itself; the pointer is never reassigned.
    private final class Lock: @unchecked Sendable {
        let lock: UnsafeMutablePointer<pthread_rwlock_t>
        init() {
            lock = .allocate(capacity: 1)
            pthread_rwlock_init(lock, nil)
        }
    }

    private static let shared = Lock()

    /// Runs `body` while no kernel switch can happen (many such bodies may run at once).
    public static func withStableKernel<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(shared.lock)
        defer { pthread_rwlock_unlock(shared.lock) }
        return try body()
    }

    /// Runs `body` alone: no stable-kernel body runs meanwhile.
    public static func withExclusiveKernel<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(shared.lock)
        defer { pthread_rwlock_unlock(shared.lock) }
        return try body()
    }
}

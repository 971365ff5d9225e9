#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with a condition variable (which ThreadSanitizer understands, unlike futex-based
/// Dispatch semaphores).
///
/// ```swift
/// let c = Condition()
/// c.signal { ready = true }      // another thread
/// c.wait { ready }
/// ```
public final class Condition: @unchecked Sendable {
    // @unchecked: the pthread objects are allocated once and used only through their own calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        mutex.initialize(to: pthread_mutex_t())
        cond.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        #if canImport(Glibc)
        // Timed waits measure on the monotonic clock, so setting the wall clock cannot stretch or cut them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
        #else
        pthread_cond_init(cond, nil)
        #endif
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deinitialize(count: 1)
        mutex.deinitialize(count: 1)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `change` holding the mutex, then wakes every waiter.
    public func signal(_ change: () -> Void) {
        pthread_mutex_lock(mutex)
        change()
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Waits (holding the mutex while checking) until `ready` returns true.
    public func wait(_ ready: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !ready() { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Waits until `ready` returns true or `timeout` has passed; returns whether `ready` did. A negative
    /// timeout waits not at all; one over a day waits a day at most.
    @discardableResult
    public func wait(for timeout: Duration, until ready: () -> Bool) -> Bool {
        let clamped = min(max(timeout, .zero), .seconds(86_400))
        let (seconds, attoseconds) = clamped.components
        let nanoseconds = Int(attoseconds / 1_000_000_000)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        #if canImport(Glibc)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int(now.tv_nsec) + nanoseconds
        var deadline = timespec(tv_sec: now.tv_sec + Int(seconds) + total / 1_000_000_000, tv_nsec: total % 1_000_000_000)
        while !ready() {
            // ETIMEDOUT, or an error that would repeat: either way, stop waiting.
            if pthread_cond_timedwait(cond, mutex, &deadline) != 0 { return ready() }
        }
        #else
        // Darwin's condition variables have no monotonic clock; the relative wait is the documented way round.
        let start = ContinuousClock.now
        while !ready() {
            let left = clamped - (ContinuousClock.now - start)
            guard left > .zero else { return false }
            let (s, a) = left.components
            var relative = timespec(tv_sec: Int(s), tv_nsec: Int(a / 1_000_000_000))
            if pthread_cond_timedwait_relative_np(cond, mutex, &relative) != 0 && ContinuousClock.now - start >= clamped { return ready() }
        }
        #endif
        return true
    }

    /// Waits until `value` returns something, and returns it.
    public func wait<T>(until value: () -> T?) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let v = value() { return v }
            pthread_cond_wait(cond, mutex)
        }
    }
}

import Foundation
import Synchronization
import Locks

/// Runs the iterations of a loop on the calling thread and on a small pool of long-lived helper
/// threads, and returns when all of them have finished.
///
/// ```swift
/// ParallelLoop.run(iterations: 2) { part in scan(part) }
/// ```
///
/// Searches use this instead of `DispatchQueue.concurrentPerform`: on Linux, `concurrentPerform`
/// called from several threads at once (readers searching the store in parallel) corrupted the heap
/// in about one run in ten of the store's concurrency tests (`malloc_consolidate(): unaligned fastbin
/// chunk detected`, `tcache_thread_shutdown(): unaligned tcache chunk detected`), and the same binary
/// with the iterations on threads of its own never did (docs/concurrency.md). The helpers are threads of
/// their own coordinated by a pthread mutex and condition variable, which ThreadSanitizer understands.
///
/// The caller always takes part, so a loop finishes even when every helper is busy with another
/// caller's loop; helpers are created once, as many as the cores beyond the first.
public enum ParallelLoop {
    /// Runs `body(0) … body(iterations - 1)`, each exactly once, possibly at the same time.
    ///
    /// - Parameters:
    ///   - iterations: How many; 0 does nothing, 1 runs on the calling thread.
    ///   - body: One iteration. It must not call `run` itself (it would only slow down, not deadlock).
    public static func run(iterations: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard iterations > 1 else {
            if iterations == 1 { body(0) }
            return
        }
        let job = Job(iterations: iterations, body: body)
        WorkerPool.shared.submit(job)
        job.work()
        job.waitUntilFinished()
    }

    /// One loop: iterations are claimed with an atomic counter; the last one to finish wakes the caller.
    final class Job: Sendable {
        let iterations: Int
        let body: @Sendable (Int) -> Void
        private let next = Atomic<Int>(0)
        private let finished = Atomic<Int>(0)
        private let done = Atomic<Bool>(false)
        private let wake = Condition()

        init(iterations: Int, body: @escaping @Sendable (Int) -> Void) {
            self.iterations = iterations
            self.body = body
        }

        /// Whether every iteration has been claimed (a helper can drop the job).
        var exhausted: Bool { next.load(ordering: .acquiring) >= iterations }

        /// Claims and runs iterations until none is left.
        func work() {
            while true {
                let i = next.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
                guard i < iterations else { return }
                body(i)
                if finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == iterations {
                    wake.signal { done.store(true, ordering: .releasing) }
                }
            }
        }

        func waitUntilFinished() {
            wake.wait { done.load(ordering: .acquiring) }
        }
    }
}

/// Long-lived helper threads taking ``ParallelLoop/Job``s from a queue.
final class WorkerPool: @unchecked Sendable {
    // @unchecked: `queue` is read and written only while `condition`'s mutex is held.
    static let shared = WorkerPool(helpers: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1))

    private let condition = Condition()
    private var queue: [ParallelLoop.Job] = []

    private init(helpers: Int) {
        for n in 0..<helpers {
            let thread = Thread { [self] in serve() }
            thread.name = "switchyard-search-\(n + 1)"
            thread.start()
        }
    }

    func submit(_ job: ParallelLoop.Job) {
        condition.signal { queue.append(job) }
    }

    /// A helper's life: take the oldest job with iterations left, help with it, repeat.
    private func serve() {
        while true {
            let job: ParallelLoop.Job = condition.wait(until: { () -> ParallelLoop.Job? in
                queue.removeAll { $0.exhausted }
                return queue.first
            })
            job.work()
        }
    }
}

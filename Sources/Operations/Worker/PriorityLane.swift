import Foundation
import Locks

/// A thread at the worker's own priority that runs the short steps of an operation that readers and other
/// processes wait on (a reindex's alias switch), for operation threads that run niced
/// (``Worker/Options/niceness``).
///
/// Linux lets an unprivileged thread raise its nice value but not lower it again, so a niced operation
/// thread cannot lift its own priority for the switch. It hands the step to this thread and waits. The
/// thread is created once per process, by the first worker, and so inherits that caller's priority.
///
/// ```swift
/// let ms = try PriorityLane.shared.run { () throws(OperationsError) in try switchTo(plan) }
/// ```
final class PriorityLane: Sendable {
    /// Created on first use: `Worker.init` touches it, on the thread that creates the worker.
    static let shared = PriorityLane()

    private let condition = Condition()
    private let queue = Locked<[Job]>([])

    /// One handed-over step: `run` fills `done` under the condition's mutex, which orders the step's
    /// effects before the waiting caller reads them.
    private final class Job: @unchecked Sendable {
        // @unchecked: `body` and `done` are touched by the lane thread and the caller in turn, each hand-off
        // through `condition`'s mutex.
        var body: (() -> Void)?
        var done = false
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private init() {
        let thread = Thread { [self] in
            while true {
                let job: Job = condition.wait(until: { queue.withLock { $0.isEmpty ? nil : $0.removeFirst() } })
                job.body?()
                // Dropped before the caller wakes: the caller's closure must not outlive its call.
                condition.signal {
                    job.body = nil
                    job.done = true
                }
            }
        }
        thread.name = "switchyard-priority-lane"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs `body` on the lane's thread and returns its result (or throws its error) once it has finished.
    /// Steps from several operations run one at a time, in the order they came.
    func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        var result: Result<T, E>?
        withoutActuallyEscaping(body) { body in
            let job = Job { result = Result { () throws(E) -> T in try body() } }
            condition.signal { queue.withLock { $0.append(job) } }
            condition.wait { job.done }
        }
        return try result!.get()
    }
}

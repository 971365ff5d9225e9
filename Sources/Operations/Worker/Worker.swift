import Foundation
import GRDB
import Locks
import Logging
import SwitchyardJSON
import Synchronization
import Telemetry
import VectorStore

/// Runs queued operations: claims them (acks-late, with a lease), runs each on its own thread, renews
/// leases, retries transient failures, enforces time limits, and always writes a final status.
///
/// ```swift
/// var options = Worker.Options()
/// options.concurrency = 2
/// let summary = try Worker(manager: manager, options: options).runUntilIdle()
/// ```
///
/// Several workers (threads or processes) may run on one store: a claim is one transaction, and
/// every write an attempt makes is fenced by its task id, so no two attempts of one operation ever
/// write at once.
public final class Worker: Sendable {
    public struct Options: Sendable {
        /// The lease owner's name; unique per worker.
        public var name = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
        /// Operations run at once (on different collections).
        public var concurrency = 1
        /// How long a claim lasts without renewal; renewed every third of it.
        public var lease: Duration = .seconds(60)
        /// Retries after transient failures (attempts = 1 + retries; also bounds takeovers after crashes).
        public var maxRetries = 3
        /// Wait before a retry.
        public var retryDelay: Duration = .seconds(60)
        /// Past this an attempt is cancelled cooperatively and the operation fails.
        public var softTimeLimit: Duration = .seconds(3600)
        /// Past this an attempt is abandoned and the operation fails.
        public var hardTimeLimit: Duration = .seconds(7200)
        /// How often the loop looks for work and progress (it also wakes when an attempt on this worker ends).
        public var pollInterval: Duration = .milliseconds(200)
        /// Faults to inject (tests only).
        public var faults: FaultInjector = .none
        /// Niceness of the threads running operations (Linux, per thread; 0 = as the process): searches
        /// served by the same machine keep their latency while a reindex or an append runs.
        public var niceness: Int32 = 10
        /// Where operation metrics go (Prometheus in `switchyard worker --metrics-port`).
        public var telemetry = Telemetry()

        public init() {}

        package var maxAttempts: Int { maxRetries + 1 }
    }

    /// What a run did.
    public struct Summary: Sendable, Equatable {
        /// Operations this worker finished, by final status.
        public var finished: [OperationStatus: Int] = [:]
        /// Retries it scheduled.
        public var retries = 0
        /// What its recovery passes did.
        public var recovered = RecoveryReport()
    }

    public let manager: CollectionManager
    public let options: Options
    let handlers: [OperationType: any OperationHandler]
    private let summary = Locked(Summary())
    /// Attempts finished on this worker's threads: the loop sleeps until the next poll or until this moves,
    /// so an operation run in the foreground returns as soon as it ends, not a poll interval later.
    private let attemptsFinished = Atomic<Int>(0)
    private let attemptFinished = Condition()

    /// A worker with the built-in handlers (INDEX, APPEND, REMOVE_SOURCE, DELETE) plus `handlers`
    /// (the reindex layer adds REINDEX).
    public init(manager: CollectionManager, options: Options = Options(), handlers: [OperationType: any OperationHandler] = [:]) {
        self.manager = manager
        self.options = options
        var all: [OperationType: any OperationHandler] = [
            .index: IngestHandler(), .append: IngestHandler(), .removeSource: RemoveSourceHandler(), .delete: DeleteHandler(),
        ]
        for (k, v) in handlers { all[k] = v }
        self.handlers = all
        // Operation threads run niced; the lane that runs their switches at this thread's priority is
        // created here, on the creating thread, so it inherits that priority (not an operation thread's).
        if options.niceness != 0 { _ = PriorityLane.shared }
    }

    /// Runs until no operation is pending or processing anywhere in the store (waiting for other
    /// workers' leases and for retry delays).
    @discardableResult
    public func runUntilIdle() throws(OperationsError) -> Summary {
        try loop(only: nil, stop: { false }, onProgress: nil)
        return summary.withLock { $0 }
    }

    /// Runs until `stop` returns true (checked every poll interval); running attempts are finished first.
    @discardableResult
    public func run(until stop: @escaping @Sendable () -> Bool) throws(OperationsError) -> Summary {
        try loop(only: nil, stop: stop, onProgress: nil, untilIdle: false)
        return summary.withLock { $0 }
    }

    /// Runs one operation in the foreground (or, when another worker has it, waits for it), calling
    /// `onProgress` with the record every poll interval.
    ///
    /// - Returns: The operation's final record.
    public func runOperation(_ id: String, onProgress: ((OperationRecord) -> Void)? = nil) throws(OperationsError) -> OperationRecord {
        let op = try manager.operation(id)
        try loop(only: op.id, stop: { false }, onProgress: onProgress)
        return try manager.operation(op.id)
    }

    // MARK: - The loop

    private final class Running: Sendable {
        let context: OperationContext
        let done = Atomic<Bool>(false)
        init(context: OperationContext) { self.context = context }
    }

    /// Renews the leases of running attempts on a thread of its own, so nothing the loop waits for
    /// (housekeeping draining searches before a drop, a slow recovery pass, a busy database) can let a
    /// lease lapse and hand a healthy attempt to another worker.
    private final class Heartbeat: Sendable {
        let attempts = Locked<[String: Running]>([:])
        private let stopped = Atomic<Bool>(false)
        private let finished = DispatchSemaphore(value: 0)

        func start(every interval: Duration, beat: @escaping @Sendable (OperationContext) -> Void) {
            let thread = Thread { [self] in
                defer { finished.signal() }
                let step = min(0.05, max(0.001, interval.seconds / 4))
                var next = ContinuousClock.now + interval
                while !stopped.load(ordering: .acquiring) {
                    if ContinuousClock.now >= next {
                        next = ContinuousClock.now + interval
                        // An attempt that has finished (even while the loop is busy elsewhere) is not renewed:
                        // if its final status could not be written, its lease must lapse for a takeover.
                        for r in attempts.withLock({ Array($0.values) }) where !r.done.load(ordering: .acquiring) { beat(r.context) }
                    }
                    Thread.sleep(forTimeInterval: step)
                }
            }
            thread.name = "switchyard-heartbeat"
            thread.start()
        }

        func stop() {
            stopped.store(true, ordering: .releasing)
            finished.wait()
        }
    }

    private func loop(only: String?, stop: () -> Bool, onProgress: ((OperationRecord) -> Void)?, untilIdle: Bool = true) throws(OperationsError) {
        let rolledBack: (OperationRecord) -> Void = { [self] op in rollBackAfterRecovery(op) }
        let first = try manager.recover(maxAttempts: options.maxAttempts, cleanup: rolledBack)
        summary.withLock { $0.recovered = first }
        reportRecovered(first)
        housekeeping()
        var running: [String: Running] = [:]
        let heartbeat = Heartbeat()
        heartbeat.start(every: options.lease / 3) { [self] context in self.heartbeat(context) }
        defer { heartbeat.stop() }
        var lastRecovery = ContinuousClock.now
        while true {
            let finishedBefore = attemptsFinished.load(ordering: .acquiring)
            running = running.filter { !$0.value.done.load(ordering: .acquiring) }
            let now = ContinuousClock.now
            // Hard limits: abandon the attempt and fail the operation.
            for (id, r) in running where now - r.context.started > options.hardTimeLimit {
                heartbeat.attempts.withLock { $0[id] = nil }
                abandon(r.context)
                running[id] = nil
            }
            let live = Set(running.keys)
            heartbeat.attempts.withLock { $0 = $0.filter { live.contains($0.key) } }
            if !running.isEmpty, let asked = try transientTolerant({ () throws(OperationsError) in try manager.cancelRequests(among: Array(running.keys)) }) {
                for id in asked { running[id]?.context.requestCancel() }
            }
            if now - lastRecovery >= options.lease {
                lastRecovery = now
                if let r = try transientTolerant({ () throws(OperationsError) in try manager.recover(maxAttempts: options.maxAttempts, cleanup: rolledBack) }) {
                    reportRecovered(r)
                    summary.withLock { s in
                        s.recovered.failedWorkerLost += r.failedWorkerLost
                        s.recovered.cancelled += r.cancelled
                        s.recovered.releasedReservations += r.releasedReservations
                    }
                }
                housekeeping()
            }
            if !stop() {
                while running.count < options.concurrency,
                      let claimed = try transientTolerant({ () throws(OperationsError) in
                          try manager.claim(worker: options.name, lease: options.lease, maxAttempts: options.maxAttempts,
                                            operationID: only, excluding: Array(running.keys))
                      }), let claim = claimed {
                    let r = start(claim)
                    running[claim.operation.id] = r
                    heartbeat.attempts.withLock { $0[claim.operation.id] = r }
                }
            }
            if let only {
                if let op = try transientTolerant({ () throws(OperationsError) in try manager.operation(only) }) {
                    onProgress?(op)
                    if op.status.isFinal && running.isEmpty { return }
                }
            } else if running.isEmpty {
                if stop() { return }
                if untilIdle, let active = try transientTolerant({ () throws(OperationsError) in try manager.hasActiveOperations() }), !active { return }
            }
            attemptFinished.wait(for: options.pollInterval) { attemptsFinished.load(ordering: .acquiring) != finishedBefore }
        }
    }

    /// The result of `body`, or `nil` after a transient failure (the loop tries again at the next poll;
    /// running attempts keep their leases meanwhile). Other failures end the loop.
    private func transientTolerant<T>(_ body: () throws(OperationsError) -> T) throws(OperationsError) -> T? {
        do { return try body() } catch where error.code == .transient { return nil }
    }

    /// Operations recovery ended: counted at their final status.
    private func reportRecovered(_ r: RecoveryReport) {
        for id in r.failedWorkerLost + r.cancelled {
            guard let op = try? manager.operation(id) else { continue }
            let seconds = (try? manager.metrics(of: id))?.last { $0.name == "duration_seconds" }?.value
                ?? op.completedAt.map { $0.timeIntervalSince(op.startedAt ?? $0) } ?? 0
            options.telemetry.operationFinished(type: op.type.rawValue, collectionID: op.collectionID, status: op.status.rawValue, seconds: seconds,
                                                errorType: op.status == .completed ? nil : (op.status == .cancelled ? "cancelled" : "worker_lost"))
        }
    }

    /// Each distinct handler's housekeeping.
    private func housekeeping() {
        var seen = Set<ObjectIdentifier>()
        for h in handlers.values where seen.insert(ObjectIdentifier(type(of: h))).inserted { h.recover(manager) }
    }

    private func heartbeat(_ context: OperationContext) {
        let owned: Bool, cancel: Bool
        do {
            (owned, cancel) = try manager.renewLease(operationID: context.operation.id, taskID: context.taskID, lease: options.lease)
        } catch {
            // A busy database: the next heartbeat tries again, well within the lease.
            Log.worker.warning("lease renewal failed; retrying at the next heartbeat",
                               metadata: ["operation": "\(context.operation.id)", "error": "\(error)"])
            return
        }
        if !owned {
            Log.worker.warning("attempt lost its operation to another worker or to recovery",
                               metadata: ["operation": "\(context.operation.id)", "task": "\(context.taskID)"])
        }
        if !owned { context.markLost() }
        if cancel { context.requestCancel() }
    }

    private func abandon(_ context: OperationContext) {
        context.markLost()
        let message = "hard time limit exceeded (\(Int(options.hardTimeLimit.seconds)) s): attempt \(context.operation.attempts) abandoned"
        var metrics = context.metrics(success: false, cpuStart: CPUSample(user: 0, system: 0))
        metrics["cpu_user_seconds"] = nil
        metrics["cpu_system_seconds"] = nil
        Log.worker.error("hard time limit exceeded: attempt abandoned", metadata: ["operation": "\(context.operation.id)", "task": "\(context.taskID)"])
        var finished = false
        do {
            try finishWithRetries(context) { () throws(OperationsError) in
                try manager.complete(context.claim, status: .failed, error: message, result: ["error_type": "hard_time_limit"], metrics: metrics)
            }
            finished = true
        } catch {
            Log.worker.error("could not write the final status of an abandoned attempt; recovery will",
                             metadata: ["operation": "\(context.operation.id)", "error": "\(error)"])
        }
        if finished {
            count(.failed)
            report(context.operation, status: .failed, errorType: "hard_time_limit", metrics: metrics)
            handlers[context.operation.type]?.rollBack(context)
        }
    }

    private func start(_ claim: ClaimedOperation) -> Running {
        if claim.operation.attempts == 1, let started = claim.operation.startedAt {
            options.telemetry.queueWait(type: claim.operation.type.rawValue, seconds: started.timeIntervalSince(claim.operation.createdAt))
        }
        let collection = claim.collection
        let context = OperationContext(manager: manager, claim: claim, collection: collection, faults: options.faults,
                                       softTimeLimit: options.softTimeLimit, telemetry: options.telemetry,
                                       niced: options.niceness != 0)
        let running = Running(context: context)
        let nice = options.niceness
        let thread = Thread { [self] in
            #if os(Linux)
            // On Linux, PRIO_PROCESS with id 0 sets the nice value of the calling thread only.
            if nice != 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) }
            #endif
            execute(context)
            running.done.store(true, ordering: .releasing)
            attemptFinished.signal { attemptsFinished.add(1, ordering: .releasing) }
        }
        thread.stackSize = 8 << 20
        thread.name = "switchyard-op-\(claim.operation.id.prefix(8))"
        thread.start()
        return running
    }

    /// One attempt, start to final status (or to a scheduled retry).
    private func execute(_ context: OperationContext) {
        let cpuStart = CPUSample.currentThread()
        let op = context.operation
        do {
            try context.faults.hit("operation.start")
            guard let handler = handlers[op.type] else {
                throw OperationsError(.invalidInput, "this worker has no handler for \(op.type.rawValue) operations")
            }
            let outcome = try handler.run(context)
            let metrics = context.metrics(success: true, cpuStart: cpuStart)
            try finishWithRetries(context) { () throws(OperationsError) in
                try manager.complete(context.claim, status: .completed, error: nil, result: outcome.result, metrics: metrics, extra: outcome.commit)
            }
            count(.completed)
            report(op, status: .completed, errorType: nil, metrics: metrics)
        } catch {
            let e = CollectionManager.classify(error, doing: "\(op.type.rawValue) operation \(op.id)")
            if e.code == .leaseLost || context.isLost { return }
            let metrics = context.metrics(success: false, cpuStart: cpuStart)
            if e.code == .transient && op.attempts < options.maxAttempts {
                do {
                    try manager.scheduleRetry(context.claim, error: e, delay: options.retryDelay, metrics: metrics)
                    summary.withLock { $0.retries += 1 }
                    options.telemetry.operationRetried(type: op.type.rawValue, collectionID: op.collectionID)
                    Log.worker.notice("transient failure; retry scheduled", metadata: ["operation": "\(op.id)", "attempt": "\(op.attempts)", "error": "\(e)"])
                } catch {
                    // The lease runs out and another worker (or recovery) takes the operation over.
                    Log.worker.error("could not schedule a retry", metadata: ["operation": "\(op.id)", "error": "\(error)"])
                }
                return
            }
            handlers[op.type]?.rollBack(context)
            let status: OperationStatus = e.code == .cancelled ? .cancelled : .failed
            var message = e.description
            if e.code == .transient { message = "failed after \(op.attempts) attempts: \(message)" }
            do {
                try finishWithRetries(context) { () throws(OperationsError) in
                    try manager.complete(context.claim, status: status, error: message, result: ["error_type": .string(e.code.rawValue)], metrics: metrics)
                }
            } catch {
                // Not written (another worker or recovery ended it meanwhile): that one counts it.
                Log.worker.notice("final status not written: the operation was ended elsewhere",
                                  metadata: ["operation": "\(op.id)", "error": "\(error)"])
                return
            }
            Log.worker.log(level: status == .cancelled ? .notice : .error, "operation \(status.rawValue)",
                           metadata: ["operation": "\(op.id)", "type": "\(op.type.rawValue)", "error": "\(message)"])
            count(status)
            report(op, status: status, errorType: e.code.rawValue, metrics: metrics)
        }
    }

    /// Writing the final status is retried on a busy database: it must not be lost to a transient error.
    private func finishWithRetries(_ context: OperationContext, _ body: () throws(OperationsError) -> Void) throws(OperationsError) {
        var attempt = 0
        while true {
            do { return try body() } catch where error.code == .transient && attempt < 20 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    /// The Prometheus side of a finished attempt (each operation counted once, at its final status).
    private func report(_ op: OperationRecord, status: OperationStatus, errorType: String?, metrics: [String: Double]) {
        let t = options.telemetry
        let type = op.type.rawValue
        let seconds = metrics["duration_seconds"] ?? 0
        // The final status may differ from the attempt's (a reindex failing after its switch completes).
        let final = (try? manager.operation(op.id).status) ?? status
        t.operationFinished(type: type, collectionID: op.collectionID, status: final.rawValue, seconds: seconds, errorType: final == .completed ? nil : errorType)
        t.operationResources(type: type, memoryBytes: metrics["memory_peak_bytes"] ?? 0,
                             cpuSeconds: (metrics["cpu_user_seconds"] ?? 0) + (metrics["cpu_system_seconds"] ?? 0))
        let docs = Int(metrics["documents_processed"] ?? 0)
        // Each document's time was recorded as it was committed (BatchWriter).
        t.documentsProcessed(type: type, collectionID: op.collectionID, status: final == .completed ? "success" : "failure", count: docs)
    }

    private func count(_ status: OperationStatus) {
        summary.withLock { $0.finished[status, default: 0] += 1 }
    }

    private func rollBackAfterRecovery(_ op: OperationRecord) {
        guard let handler = handlers[op.type] else { return }
        Log.worker.warning("recovery ended an operation whose worker is gone; rolling it back",
                           metadata: ["operation": "\(op.id)", "status": "\(op.status.rawValue)"])
        let collection: ManagedCollection?
        do { collection = try manager.collection(id: op.collectionID) } catch {
            collection = nil  // deleted meanwhile: the handler rolls back what it can without it
        }
        let context = OperationContext(manager: manager, claim: ClaimedOperation(operation: op, taskID: op.taskID ?? ""),
                                       collection: collection, faults: .none, softTimeLimit: options.softTimeLimit,
                                       telemetry: options.telemetry)
        context.markLost()  // its lease lapsed: the attempt's process may only be stalled
        handler.rollBack(context)
    }
}

extension CollectionManager {
    /// Which of these processing operations were asked to cancel.
    func cancelRequests(among ids: [String]) throws(OperationsError) -> [String] {
        try read("reading cancel requests") { db in
            try String.fetchAll(db, sql: "SELECT id FROM operations WHERE cancel_requested = 1 AND status = 'processing' AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                                arguments: StatementArguments(ids))
        }
    }

    package func collection(id: String) throws(OperationsError) -> ManagedCollection {
        try read("reading collection \(id)") { db in try Self.collection(db, id: id) }
    }
}

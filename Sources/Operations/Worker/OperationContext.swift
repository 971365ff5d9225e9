import Locks
import Foundation
import GRDB
import Synchronization
import SwitchyardJSON
import Telemetry
import VectorStore

/// What a handler gets for one attempt: the operation, its collection, progress reporting, stage
/// timers, cooperative cancellation and the fault-injection hook.
public final class OperationContext: Sendable {
    public let manager: CollectionManager
    /// The claimed operation (its `attempts` counts this attempt).
    public let operation: OperationRecord
    /// This attempt's id.
    public let taskID: String
    /// The collection at claim time (`nil` when it no longer exists).
    public let collection: ManagedCollection?
    /// Faults tests inject (none in production).
    public let faults: FaultInjector
    /// Where the handler's own metrics go (reindex checkpoints, validation and switch durations).
    public let telemetry: Telemetry
    let softTimeLimit: Duration
    /// Whether the attempt's thread runs niced (``Worker/Options/niceness``), so that steps others wait on
    /// go through ``PriorityLane``.
    let niced: Bool
    let started = ContinuousClock.now
    private let state = Atomic<UInt8>(0)
    private let stages = Locked<[String: Double]>([:])
    private let counters = Locked<(documents: Int, vectors: Int)>((0, 0))
    /// Resident memory at the attempt's start and the most seen since (sampled after every batch).
    private let memory: Locked<(start: Int, peak: Int)>

    private static let cancelBit: UInt8 = 1
    private static let lostBit: UInt8 = 2

    init(manager: CollectionManager, claim: ClaimedOperation, collection: ManagedCollection?, faults: FaultInjector, softTimeLimit: Duration,
         telemetry: Telemetry = Telemetry(), niced: Bool = false) {
        self.telemetry = telemetry
        self.niced = niced
        self.manager = manager
        self.operation = claim.operation
        self.taskID = claim.taskID
        self.collection = collection
        self.faults = faults
        self.softTimeLimit = softTimeLimit
        let now = CPUSample.residentBytes()
        memory = Locked((now, now))
    }

    /// Runs a short step that readers or other processes wait on (a reindex's alias switch) at the worker's
    /// own priority, not the niced priority of the attempt's thread: on ``PriorityLane``'s thread when the
    /// attempt runs niced, inline otherwise.
    public func urgently<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        niced ? try PriorityLane.shared.run(body) : try body()
    }

    /// Samples the process's resident memory into the attempt's peak (called after every batch).
    public func sampleMemory() {
        let now = CPUSample.residentBytes()
        memory.withLock { $0.peak = max($0.peak, now) }
    }

    package var claim: ClaimedOperation { ClaimedOperation(operation: operation, taskID: taskID) }

    /// Throws when the attempt must stop: cancelled, past its soft time limit, or no longer the owner.
    public func ensureActive() throws(OperationsError) {
        let s = state.load(ordering: .acquiring)
        if s & Self.lostBit != 0 {
            throw OperationsError(.leaseLost, "operation \(operation.id): attempt \(taskID) was abandoned or lost its lease")
        }
        if s & Self.cancelBit != 0 { throw OperationsError(.cancelled, "cancelled by request") }
        if ContinuousClock.now - started > softTimeLimit {
            throw OperationsError(.timeLimit, "soft time limit exceeded (\(Int(softTimeLimit.seconds)) s)")
        }
    }

    func requestCancel() { state.bitwiseOr(Self.cancelBit, ordering: .releasing) }
    func markLost() { state.bitwiseOr(Self.lostBit, ordering: .releasing) }
    var isLost: Bool { state.load(ordering: .acquiring) & Self.lostBit != 0 }

    /// Whether the attempt may still be running somewhere while this context rolls it back: it was abandoned
    /// at its hard time limit, or its lease lapsed (its process may only be stalled). A rollback then leaves
    /// what that attempt could still change (an alias batch in flight) to housekeeping.
    public var attemptMayStillRun: Bool { isLost }

    /// The fence of this attempt's point writes: a write carrying it happens only while the attempt still
    /// owns the operation, checked in the write's own transaction. An attempt abandoned at its hard time
    /// limit (or whose lease was taken over) can therefore write no point after the rollback has run.
    ///
    /// When the vectors live elsewhere than the records (a remote Qdrant), no transaction spans both: the
    /// check then runs in its own read just before each write, and the idempotent point ids plus the
    /// rollback's own delete cover the small window left (docs/qdrant.md).
    public var fence: WritePrecondition? {
        let id = operation.id, task = taskID
        let check: @Sendable (Database) throws -> Void = { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM operations WHERE id = ? AND task_id = ? AND status = 'processing'",
                                   arguments: [id, task]) != nil else {
                throw OperationsError(.leaseLost, "operation \(id): this attempt (\(task)) no longer owns it")
            }
        }
        let records = manager.store
        let separately: @Sendable () throws -> Void = { try records.readRecords(check) }
        if let embedded = manager.vectors as? Store, embedded === records {
            return WritePrecondition("attempt \(task) owns operation \(id)", check: check, separately: separately)
        }
        // Another embedded store's transaction cannot see these records: it checks them in a read of its own.
        return WritePrecondition("attempt \(task) owns operation \(id)", check: { _ in try separately() }, separately: separately)
    }

    /// Writes the operation's checkpoint (only while this attempt owns it).
    /// - Returns: The checkpoint it replaced, read in the same transaction.
    @discardableResult
    public func recordCheckpoint(_ checkpoint: [String: JSONValue]) throws(OperationsError) -> [String: JSONValue]? {
        let id = operation.id
        return try manager.fenced("recording the checkpoint of \(id)", operationID: id, taskID: taskID) { db in
            let before = try String.fetchOne(db, sql: "SELECT checkpoint FROM operations WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE operations SET checkpoint = ? WHERE id = ?", arguments: [JSONValue.object(checkpoint).jsonText, id])
            return before.flatMap { try? JSONParser.parse($0).objectValue }
        }
    }

    /// Records progress on the operation row (only while this attempt owns it).
    public func reportProgress(done: Int, total: Int) throws(OperationsError) {
        try manager.fenced("reporting progress of \(operation.id)", operationID: operation.id, taskID: taskID) { db in
            try db.execute(sql: "UPDATE operations SET progress_done = ?, progress_total = ? WHERE id = ?",
                           arguments: [done, total, operation.id])
        }
    }

    /// Runs `body`, adding its wall time to `stage_<name>_seconds`.
    public func timed<T, E: Error>(_ stage: String, _ body: () throws(E) -> T) throws(E) -> T {
        let t0 = ContinuousClock.now
        defer {
            let dt = (ContinuousClock.now - t0).seconds
            stages.withLock { $0[stage, default: 0] += dt }
        }
        return try body()
    }

    /// Counts documents processed and vectors written (for the operation's metrics).
    public func count(documents: Int = 0, vectors: Int = 0) {
        counters.withLock { $0.documents += documents; $0.vectors += vectors }
        sampleMemory()
    }

    /// The attempt's metrics so far (the names in docs/operations.md).
    func metrics(success: Bool, cpuStart: CPUSample) -> [String: Double] {
        let cpu = CPUSample.currentThread()
        sampleMemory()
        let peakMemory = memory.withLock { $0 }
        var m: [String: Double] = [
            "duration_seconds": (ContinuousClock.now - started).seconds,
            "cpu_user_seconds": max(0, cpu.user - cpuStart.user),
            "cpu_system_seconds": max(0, cpu.system - cpuStart.system),
            "memory_peak_bytes": Double(peakMemory.peak),
            "memory_growth_bytes": Double(max(0, peakMemory.peak - peakMemory.start)),
            "success": success ? 1 : 0,
        ]
        let c = counters.withLock { $0 }
        m["documents_processed"] = Double(c.documents)
        m["vectors_written"] = Double(c.vectors)
        for (k, v) in stages.withLock({ $0 }) { m["stage_\(k)_seconds"] = v }
        return m
    }
}

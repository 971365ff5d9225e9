import Foundation
import Operations
import Synchronization
import Testing
import VectorStore
import _SwitchyardTestSupport

/// Leases are renewed on their own thread: housekeeping that blocks the worker's loop for longer than
/// a lease (a cleanup draining searches before a drop) must not hand a healthy attempt to another worker.
@Suite("Heartbeats")
struct HeartbeatTests {
    /// Runs for `seconds`, checking that it still owns the operation.
    struct SlowHandler: OperationHandler {
        let seconds: Double
        func run(_ context: OperationContext) throws -> HandlerOutcome {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                try context.ensureActive()
                Thread.sleep(forTimeInterval: 0.02)
            }
            try context.reportProgress(done: 1, total: 1)
            return HandlerOutcome(result: ["slept": .double(seconds)])
        }
    }

    /// Housekeeping whose second pass (the one during the attempt) blocks for `seconds`.
    final class BlockingHousekeeping: OperationHandler, Sendable {
        let seconds: Double
        let passes = Atomic<Int>(0)
        init(seconds: Double) { self.seconds = seconds }
        func run(_ context: OperationContext) throws -> HandlerOutcome { HandlerOutcome(result: [:]) }
        func recover(_ manager: CollectionManager) {
            if passes.add(1, ordering: .relaxed).newValue == 2 { Thread.sleep(forTimeInterval: seconds) }
        }
    }

    @Test("an attempt keeps its lease while the loop is stuck in housekeeping for three leases")
    func leaseSurvivesSlowHousekeeping() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var options = try Harness.options()
        options.lease = .milliseconds(600)
        let housekeeping = BlockingHousekeeping(seconds: 1.8)
        let a = Worker(manager: h.manager, options: options, handlers: [.index: SlowHandler(seconds: 2.5), .reindex: housekeeping])
        let done = DispatchSemaphore(value: 0)
        Thread { _ = try? a.runUntilIdle(); done.signal() }.start()
        while try h.manager.operation(op.id).status == .pending { Thread.sleep(forTimeInterval: 0.01) }
        // A second worker, ready to take over any lease that lapses.
        let other = try CollectionManager(store: try Store.open(at: h.dir.appending("store")), vectors: try BackendMatrix.vectors(for: h.dir.appending("store")))
        var fast = options
        fast.name = "other"
        let b = Worker(manager: other, options: fast, handlers: [.index: SlowHandler(seconds: 0)])
        _ = try b.runUntilIdle()
        done.wait()
        let final = try h.manager.operation(op.id)
        #expect(final.status == .completed, "\(final.error ?? "")")
        #expect(final.attempts == 1, "the lease lapsed and another worker took the operation over")
        #expect(housekeeping.passes.load(ordering: .relaxed) >= 2, "housekeeping never ran during the attempt")
    }
}

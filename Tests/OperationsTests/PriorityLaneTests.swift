import Foundation
import Synchronization
import Operations
import Testing
import VectorStore
import _SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Operation threads run niced so that searches keep their latency; the steps readers wait on (a reindex's
/// switch) run through ``OperationContext/urgently(_:)`` at the priority of the thread that created the worker.
@Suite("Priority of the switch")
struct PriorityLaneTests {
    /// Records the nice value of its own thread and of the thread `urgently` runs its step on.
    final class NiceProbe: OperationHandler, Sendable {
        let seen = Mutex<(attempt: Int32, urgent: Int32)?>(nil)
        func run(_ context: OperationContext) throws -> HandlerOutcome {
            let attempt = Self.nice()
            let urgent = try context.urgently { () throws(OperationsError) in Self.nice() }
            seen.withLock { $0 = (attempt, urgent) }
            return HandlerOutcome(result: [:])
        }
        func rollBack(_ context: OperationContext) {}
        static func nice() -> Int32 {
            #if os(Linux)
            errno = 0
            return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            #else
            return 0
            #endif
        }
    }

    @Test("the attempt runs niced, its urgent step at the worker creator's priority")
    func urgentStepIsNotNiced() throws {
        #if os(Linux)
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        var options = try Harness.options()
        options.niceness = 7
        let probe = NiceProbe()
        let creator = NiceProbe.nice()
        let worker = Worker(manager: h.manager, options: options, handlers: [.index: probe])
        let done = try worker.runOperation(op.id)
        #expect(done.status == .completed, "\(done.error ?? "")")
        let seen = try #require(probe.seen.withLock { $0 })
        #expect(seen.attempt == min(19, creator + 7))
        #expect(seen.urgent == creator, "the urgent step ran at nice \(seen.urgent), its worker's creator at \(creator)")
        #endif
    }

    @Test("errors thrown by an urgent step reach the attempt")
    func urgentStepErrors() throws {
        final class Failing: OperationHandler, Sendable {
            func run(_ context: OperationContext) throws -> HandlerOutcome {
                try context.urgently { () throws(OperationsError) in throw OperationsError(.invalidInput, "refused in the urgent step") }
                return HandlerOutcome(result: [:])
            }
            func rollBack(_ context: OperationContext) {}
        }
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        let worker = Worker(manager: h.manager, options: try Harness.options(), handlers: [.index: Failing()])
        let done = try worker.runOperation(op.id)
        #expect(done.status == .failed)
        #expect(done.error?.contains("refused in the urgent step") == true, "\(done.error ?? "")")
    }
}

import Dispatch
import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

/// Database failures carry a code callers can branch on (the operations layer retries `busy` and `io`),
/// not only a message to search.
@Suite("Store error codes")
struct StoreErrorCodeTests {
    @Test("a write lock held past the busy timeout is reported as busy")
    func busyIsACode() throws {
        try withStoreDirectory { dir in
            let holder = try Store.open(at: dir.path, options: .testing)
            try holder.createCollection("c", dimension: 2, distance: .dot)
            var impatient = Store.Options.testing
            impatient.busyTimeout = .zero
            let other = try Store.open(at: dir.path, options: impatient)
            let inside = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            Thread {
                // The alias batch's `alongside` runs inside the write transaction: hold it there.
                _ = try? holder.updateAliases([.create(alias: "a", collection: "c")]) { _ in
                    inside.signal()
                    release.wait()
                }
                done.signal()
            }.start()
            inside.wait()
            let e = expectStoreError(.busy) { try other.upsert("c", points: [Point(id: .number(1), vector: [1, 0])]) }
            #expect(e?.isRuntimeFailure == true)
            release.signal()
            done.wait()
            // Once the lock is free the same write goes through.
            #expect(try other.upsert("c", points: [Point(id: .number(1), vector: [1, 0])]) == 1)
            try other.close()
            try holder.close()
        }
    }
}

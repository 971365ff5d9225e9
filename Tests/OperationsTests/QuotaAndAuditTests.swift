import Foundation
import Operations
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Quotas, reservations, audit sanitising, fault grammar")
struct QuotaAndAuditTests {
    @Test func quotasNameTheLimitAndTheUsage() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one", "b.txt": "two", "c.txt": "three"])
        try h.manager.setLimits(ResourceLimits(owner: "ana", maxCollections: 1, maxDocuments: 2, maxStorageBytes: 1_000_000, maxOperationsPerHour: 3))
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "a", owner: "ana", embedder: "hash-v1"), sources: [src], user: "ana")
        let e1 = #expect(throws: OperationsError.self) {
            try h.manager.createCollection(CollectionSpec(name: "b", owner: "ana", embedder: "hash-v1"), sources: [src], user: "ana")
        }
        #expect(e1?.code == .quotaExceeded)
        #expect(e1?.message == "quota exceeded for owner 'ana': max_collections is 1, 1 in use")
        // Three documents against a limit of two: the INDEX fails at once, without retries.
        try h.work()
        let failed = try h.manager.operation(op.id)
        #expect(failed.status == .failed && failed.attempts == 1)
        #expect(failed.error?.contains("max_documents is 2, 0 in use, this source adds 3") == true)
        #expect(try h.vectors.count(try h.manager.collection(named: "a").vectorStoreName, filter: nil) == 0)
        // Operations per hour: create + index again = 2 of 3; a third request is allowed, a fourth not.
        try h.manager.setLimits(ResourceLimits(owner: "ana", maxCollections: 1, maxDocuments: 10, maxStorageBytes: 1_000_000, maxOperationsPerHour: 3))
        try h.manager.reindexFromSources("a", sources: [src], user: "ana")
        try h.work()
        try h.manager.append("a", source: src, user: "ana")
        try h.work()
        let e2 = #expect(throws: OperationsError.self) { try h.manager.append("a", source: src, user: "ana") }
        #expect(e2?.code == .quotaExceeded && e2?.message.contains("max_operations_per_hour is 3, 3 requested in the last hour") == true)
        let usage = try h.manager.usage(owner: "ana")
        #expect(usage.collections == 1 && usage.documents == 3 && usage.operationsLastHour == 3)
        #expect(throws: OperationsError.self) {
            try h.manager.setLimits(ResourceLimits(owner: "ana", maxCollections: -1, maxDocuments: 1, maxStorageBytes: 1, maxOperationsPerHour: 1))
        }
    }

    @Test func reservationsCountAgainstStorageAndAreReleasedWithTheirOperation() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": String(repeating: "word ", count: 200)])
        try h.manager.setLimits(ResourceLimits(owner: "bo", maxCollections: 5, maxDocuments: 100, maxStorageBytes: 5_000, maxOperationsPerHour: 100))
        try h.manager.createCollection(CollectionSpec(name: "c", owner: "bo", embedder: "hash-v1"), sources: [src], user: "bo")
        try h.work()
        let size = try h.manager.collection(named: "c").totalSizeBytes
        #expect(size == 1000)
        let r = try h.manager.reserve(collection: "c", bytes: 2 * size, operationID: nil, purpose: "test staging copy")
        #expect(try h.manager.usage(owner: "bo").storageBytes == 3 * size)
        let refused = #expect(throws: OperationsError.self) {
            try h.manager.reserve(collection: "c", bytes: 2_500, operationID: nil, purpose: "too much")
        }
        #expect(refused?.message.contains("max_storage_bytes is 5000, 3000 in use (2000 reserved), 2500 more requested") == true)
        try h.manager.release(reservation: r.id)
        try h.manager.release(reservation: r.id)
        #expect(try h.manager.reservations().isEmpty)
        // A reservation tied to an operation is released when the operation ends — here by recovery
        // after its worker vanished.
        let op = try h.manager.append("c", source: src, user: "bo")
        _ = try h.manager.reserve(collection: "c", bytes: 100, operationID: op.id, purpose: "held by an operation")
        _ = try #require(try h.manager.claim(worker: "gone", lease: .milliseconds(1), maxAttempts: 1))
        Thread.sleep(forTimeInterval: 0.01)
        let report = try h.manager.recover(maxAttempts: 1)
        #expect(report.failedWorkerLost == [op.id])
        #expect(try h.manager.reservations().isEmpty)
        #expect(try h.manager.reservations(includeReleased: true).count == 2)
    }

    @Test func auditDetailsAreSanitised() {
        let clean = AuditSanitizer.sanitize([
            "api_key": "k", "Password": "p", "nested": .object(["secretValue": "s", "by": "ana.lopez@example.org", "ok": 1]),
            "paths": .array(["/home/ana/docs/a.txt", "/Users/bo/x", "/root/y", "/rootless/z", "/homework/q", "/data/home/ana/f", "see /home/ana/x"]),
            "token_count": 3, "note": "mail bo@ex.com or c.d@sub.example.co.uk",
        ])
        #expect(clean["api_key"] == nil && clean["Password"] == nil && clean["token_count"] == nil)
        #expect(clean["nested"] == .object(["by": "[email]", "ok": 1]))
        #expect(clean["paths"] == .array(["~/docs/a.txt", "~/x", "~/y", "/rootless/z", "/homework/q", "/data/home/ana/f", "see ~/x"]))
        #expect(clean["note"] == "mail [email] or [email]")
    }

    @Test(arguments: [
        ("x y.z@a.com", "x [email]"), ("a@b.com9", "[email]9"), ("a@b c@d.com", "a@b [email]"), ("no at sign", "no at sign"),
        ("trailing@", "trailing@"), ("@lead.com", "@lead.com"), ("mail <x@y.io>!", "mail <[email]>!"), ("a@b.c", "a@b.c"),
        ("a@b.cc.dd9", "[email]9"), ("a@b.com@c.org", "[email]@c.org"),
        ("cfg=/home/ana/x", "cfg=~/x"), ("(/root)", "(~)"), ("'/Users/bo'", "'~'"), ("/home/", "/home/"), ("a/home/x", "a/home/x"),
        ("/root/.cache and /root", "~/.cache and ~"),
    ])
    func maskMatchesTheDocumentedPatterns(_ text: String, _ expected: String) {
        #expect(AuditSanitizer.mask(text) == expected)
    }

    @Test func auditRowsAreSanitisedWhenWritten() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one"])
        try h.manager.createCollection(CollectionSpec(name: "c", owner: "ana@example.org", embedder: "hash-v1"), sources: [src])
        let entry = try #require(try h.manager.audit(collection: "c").first)
        #expect(entry.details["owner"] == "[email]")
    }

    @Test(arguments: [
        ("a=transient", true), ("a=crash@3", true), ("a=sleep:0.5@2-4", true), ("a=invalid@4-", true), ("x.y=transient,z=sleep:1", true),
        ("a", false), ("=transient", false), ("a=explode", false), ("a=sleep:-1", false), ("a=transient@0", false), ("a=transient@3-2", false),
    ])
    func faultGrammar(_ spec: String, _ valid: Bool) {
        if valid {
            #expect(throws: Never.self) { try FaultInjector.parse(spec) }
        } else {
            let e = #expect(throws: OperationsError.self) { try FaultInjector.parse(spec) }
            #expect(e?.message.contains("malformed entry") == true)
        }
    }

    @Test func faultsFireOnTheirHits() throws {
        let f = try FaultInjector.parse("p=transient@2-3")
        #expect(throws: Never.self) { try f.hit("p") }
        #expect(throws: OperationsError.self) { try f.hit("p") }
        #expect(throws: OperationsError.self) { try f.hit("p") }
        #expect(throws: Never.self) { try f.hit("p") }
        #expect(throws: Never.self) { try f.hit("q") }
    }
}

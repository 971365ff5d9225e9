import Foundation
import ManagedServer
import NIOHTTP1
import Switchyard
import SwitchyardJSON
import Testing

/// The committed fixtures under `Datasets/fixtures`.
private let fixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Datasets/fixtures").path
}()

@Suite("switchyard serve: the managed layer under /switchyard/v1")
struct ManagedAPITests {
    /// Runs the queue dry, as `serve --workers` or `switchyard worker` would.
    private func work(_ s: ServerHarness) throws {
        var o = Worker.Options()
        o.pollInterval = .milliseconds(5)
        _ = try Worker(manager: s.managed.manager, options: o, handlers: [.reindex: ReindexHandler(settings: ReindexSettings())]).runUntilIdle()
    }

    @Test("create and index, follow the operation, search through Qdrant's API, append, reindex, roll back, audit, quotas")
    func lifecycle() async throws {
        let s = try await ServerHarness.start()
        let created = try await s.call(.POST, "/switchyard/v1/collections",
                                       json: ["name": "docs", "sources": [.string(fixtures + "/mini-beir")], "embedder": "hash-v1", "chunk_size": 80, "chunk_overlap": 10])
        #expect(created.status == 202, "\(created.text)")
        let opID = try #require(created.result["operation"]?["id"]?.stringValue)
        #expect(created.result["operation"]?["status"] == "pending")
        try work(s)
        let op = try await s.call(.GET, "/switchyard/v1/operations/\(opID)")
        #expect(op.result["operation"]?["status"] == "completed")
        #expect(op.result["metrics"]?[0]?["values"]?["vectors_written"]?.numberValue ?? 0 > 0)
        let shown = try await s.call(.GET, "/switchyard/v1/collections/docs")
        #expect(shown.result["collection"]?["status"] == "ready")
        let vectors = shown.result["collection"]?["vector_count"]
        #expect(shown.result["sources"]?.count == 1)
        // The managed collection is an alias in the store: Qdrant's API reads it.
        #expect(try await s.call(.POST, "/collections/docs/points/count", "{}").result["count"] == vectors)

        // A bad source is refused before anything is queued.
        let before = try await s.call(.GET, "/switchyard/v1/operations").result["operations"]?.count
        let bad = try await s.call(.POST, "/switchyard/v1/collections/docs/append", json: ["source": "/no/such/path"])
        #expect(bad.status == 400 && bad.error.contains("/no/such/path"), "\(bad.text)")
        let noSource = try await s.call(.POST, "/switchyard/v1/collections/docs/append", "{}")
        #expect(noSource.status == 400 && noSource.error.contains("source"))
        #expect(try await s.call(.GET, "/switchyard/v1/operations").result["operations"]?.count == before)

        // Reindex to another embedder, then roll back.
        let unknown = try await s.call(.POST, "/switchyard/v1/collections/docs/reindex", json: ["embedder": "hash-v2", "thresholds": ["min_top1_agreement": 0]])
        #expect(unknown.status == 400 && unknown.error.contains("unknown threshold 'min_top1_agreement'"), "\(unknown.text)")
        #expect(try await s.call(.GET, "/switchyard/v1/operations").result["operations"]?.count == before, "nothing queued")
        let re = try await s.call(.POST, "/switchyard/v1/collections/docs/reindex", json: ["embedder": "hash-v2", "thresholds": ["min_self_recall": 0.5]])
        #expect(re.status == 202, "\(re.text)")
        try work(s)
        let reID = try #require(re.result["operation"]?["id"]?.stringValue)
        let reDone = try await s.call(.GET, "/switchyard/v1/operations/\(reID)")
        #expect(reDone.result["operation"]?["status"] == "completed", "\(reDone.result["operation"]?["error"] ?? .null)")
        #expect(try await s.call(.GET, "/switchyard/v1/collections/docs").result["collection"]?["embedder"] == "hash-v2")
        let back = try await s.call(.POST, "/switchyard/v1/collections/docs/rollback", "{}")
        #expect(back.status == 200 && back.result["embedder"] == "hash-v1", "\(back.text)")
        let audit = try await s.call(.GET, "/switchyard/v1/collections/docs/audit")
        #expect(audit.result["entries"]?.arrayValue?.contains { $0["action"] == "reindex_rolled_back" } == true, "\(audit.text)")

        // Operations listed with a status filter; quotas read and changed.
        let done = try await s.call(.GET, "/switchyard/v1/operations?status=completed&collection=docs")
        #expect(done.result["operations"]?.count == 2)
        #expect(try await s.call(.GET, "/switchyard/v1/operations?status=bogus").status == 400)
        let limits = try await s.call(.PUT, "/switchyard/v1/limits/default", json: ["max_collections": 3])
        #expect(limits.result["limits"]?["max_collections"] == 3 && limits.result["usage"]?["collections"] == 1)

        // Cancel a queued operation; delete the collection.
        let queued = try await s.call(.POST, "/switchyard/v1/collections/docs/append", json: ["source": .string(fixtures + "/tree")])
        let qID = try #require(queued.result["operation"]?["id"]?.stringValue)
        let cancelled = try await s.call(.POST, "/switchyard/v1/operations/\(qID)/cancel", "{}")
        #expect(cancelled.result["operation"]?["status"] == "cancelled")
        let deleted = try await s.call(.DELETE, "/switchyard/v1/collections/docs")
        #expect(deleted.status == 202)
        try work(s)
        #expect(try await s.call(.GET, "/switchyard/v1/collections/docs").status == 404)
        #expect(try await s.call(.GET, "/collections/docs").status == 404)
        try await s.stop()
    }

    @Test("errors: unknown collection 404, duplicate 409, bad bodies 400, unknown endpoint 404, wrong method 405, read-only 403")
    func errors() async throws {
        let s = try await ServerHarness.start()
        #expect(try await s.call(.GET, "/switchyard/v1/collections/nope").status == 404)
        let missingName = try await s.call(.POST, "/switchyard/v1/collections", json: ["sources": [.string(fixtures + "/tree")]])
        #expect(missingName.status == 400 && missingName.error.contains("name"))
        let badChunk = try await s.call(.POST, "/switchyard/v1/collections", json: ["name": "x", "sources": [.string(fixtures + "/tree")], "chunk_size": -1])
        #expect(badChunk.status == 400 && badChunk.error.contains("chunk_size"))
        let ok = try await s.call(.POST, "/switchyard/v1/collections", json: ["name": "x", "sources": [.string(fixtures + "/tree")]])
        #expect(ok.status == 202)
        let dup = try await s.call(.POST, "/switchyard/v1/collections", json: ["name": "x", "sources": [.string(fixtures + "/tree")]])
        #expect(dup.status == 409, "\(dup.text)")
        #expect(try await s.call(.GET, "/switchyard/v1/nothing").status == 404)
        #expect(try await s.call(.PUT, "/switchyard/v1/operations").status == 405)
        #expect(try await s.call(.POST, "/switchyard/v1/collections", "[1]").status == 400)
        try await s.stop()

        let r = try await ServerHarness.start(readOnly: true)
        #expect(try await r.call(.POST, "/switchyard/v1/collections", json: ["name": "x", "sources": [.string(fixtures + "/tree")]]).status == 403)
        #expect(try await r.call(.GET, "/switchyard/v1/collections").status == 200)
        try await r.stop()
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import Server
import ManagedServer
import NIOHTTP1
import Switchyard
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

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
        let before = try #require(try await s.call(.GET, "/switchyard/v1/operations").result["operations"]?.count)
        let bad = try await s.call(.POST, "/switchyard/v1/collections/docs/append", json: ["source": "/no/such/path"])
        #expect(bad.status == 400 && bad.error.contains("/no/such/path"), "\(bad.text)")
        let noSource = try await s.call(.POST, "/switchyard/v1/collections/docs/append", "{}")
        #expect(noSource.status == 400 && noSource.error.contains("source"))
        for (path, body, message) in [
            ("/switchyard/v1/collections/docs/reindex", #"{"chunk-size": 300}"#, "unknown field `chunk-size`"),
            ("/switchyard/v1/collections/docs/reindex", #"{"chunk_size": 0}"#, "chunk"),
            ("/switchyard/v1/collections/docs/reindex", #"{"report": "report.html"}"#, "must be an absolute path"),
            ("/switchyard/v1/collections/docs/reindex", #"{"report": "\#(fixtures)/mini-beir/queries.jsonl"}"#, "exists"),
            ("/switchyard/v1/collections/docs/reindex", #"{"thresholds": {"min_self_recall": "high"}}"#, "thresholds.min_self_recall"),
            ("/switchyard/v1/collections/docs/reindex", #"{"qrels": "\#(fixtures)/mini-beir/qrels/test.tsv"}"#, "queries"),
            ("/switchyard/v1/collections/docs/append", #"{"source": "\#(fixtures)/tree", "embedder": "hash-v2"}"#, "unknown field `embedder`"),
            ("/switchyard/v1/collections/docs/append", #"{"source": "Datasets/fixtures/tree"}"#, "must be an absolute path"),
            ("/switchyard/v1/collections", #"{"name": "y", "sources": ["\#(fixtures)/tree"], "embedder": "hash:dim=0"}"#, "dim"),
        ] {
            let r = try await s.call(.POST, path, body)
            #expect(r.status == 400 && r.error.contains(message), "\(path) \(body): \(r.text)")
        }
        let emptyLimits = try await s.call(.PUT, "/switchyard/v1/limits/default", "{}")
        #expect(emptyLimits.status == 400 && emptyLimits.error.contains("at least one"))
        #expect(try await s.call(.GET, "/switchyard/v1/operations?limit=abc").status == 400)
        #expect(try await s.call(.GET, "/switchyard/v1/operations").result["operations"]?.count == before, "nothing queued")
        #expect(try await s.call(.GET, "/switchyard/v1/collections").result["collections"]?.count == 1)

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
        // Compare the serving generation with the one it replaced, as `switchyard compare --json` does.
        let gens = try s.managed.manager.store.collections().map(\.name).filter { $0 != "docs" }
        let served = try s.managed.manager.collection(named: "docs").vectorStoreName
        let previous = try #require(gens.first { $0 != served && $0.hasPrefix("col_") || $0.hasPrefix("staging_") && $0 != served })
        let compared = try await s.call(.POST, "/switchyard/v1/compare", json: ["old": .string(previous), "new": "docs", "k": 5])
        #expect(compared.status == 200, "\(compared.text)")
        #expect(compared.result["aggregate"]?["queries"]?.numberValue ?? 0 > 0, "\(compared.text)")
        let badCompare = try await s.call(.POST, "/switchyard/v1/compare", json: ["old": "docs", "new": "nope"])
        #expect(badCompare.status == 404 || badCompare.status == 400, "\(badCompare.text)")
        #expect(try await s.call(.POST, "/switchyard/v1/compare", json: ["old": "docs", "new": "docs", "qrels": .string(fixtures + "/mini-beir/qrels/test.tsv")]).status == 400)
        let back = try await s.call(.POST, "/switchyard/v1/collections/docs/rollback", "{}")
        #expect(back.status == 200 && back.result["embedder"] == "hash-v1", "\(back.text)")
        #expect(try await s.call(.GET, "/switchyard/v1/collections/docs").result["collection"]?["embedder"] == "hash-v1")
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
        let create = #"{"name": "x", "sources": ["\#(fixtures)/tree"]}"#
        for path in ["/switchyard/v1/collections", "//switchyard/v1/collections", "/%73witchyard/v1/collections", "/switchyard//v1/collections"] {
            let reply = try await r.call(.POST, path, create)
            #expect(reply.status == 403, "\(path): \(reply.text)")
        }
        for (method, path) in [(HTTPMethod.DELETE, "/switchyard/v1/collections/x"), (.PUT, "/switchyard/v1/limits/default"),
                               (.POST, "/switchyard/v1/collections/x/rollback"), (.POST, "/switchyard/v1/operations/abc/cancel")] {
            #expect(try await r.call(method, path, #"{"max_collections": 1}"#).status == 403, "\(method) \(path)")
        }
        #expect(try await r.call(.GET, "/switchyard/v1/collections").status == 200)
        #expect(try await r.call(.GET, "/switchyard/v1/collections").result == ["collections": []])
        try await r.stop()
    }

    @Test("managed writes can be refused with a reason (no API key on a public address); reads still work")
    func writesRefused() throws {
        try withTemporaryStore { store, _ in
            let api = try ManagedAPI(manager: try CollectionManager(store: store), writesRefused: "managed writes over 0.0.0.0 need an API key")
            let post = api.handle(.init(method: "POST", path: "/switchyard/v1/collections", body: ["name": "x", "sources": ["/tmp"]]))
            #expect(post?.status == 403 && post?.body == .error("Forbidden: managed writes over 0.0.0.0 need an API key"))
            #expect(api.handle(.init(method: "GET", path: "/switchyard/v1/collections"))?.status == 200)
            #expect(api.handle(.init(method: "GET", path: "/collections")) == nil, "other paths are not the managed layer's")
        }
    }

    @Test("the in-process worker runs queued operations, survives to the next one, and stops when asked")
    func inProcessWorkers() async throws {
        let s = try await ServerHarness.start()
        let workers = InProcessWorkers(manager: s.managed.manager, concurrency: 1, handlers: [:], telemetry: Telemetry())
        for (k, source) in ["tree", "mini-beir"].enumerated() {
            let created = try await s.call(.POST, "/switchyard/v1/collections", json: ["name": .string("c\(k)"), "sources": [.string(fixtures + "/" + source)]])
            let id = try #require(created.result["operation"]?["id"]?.stringValue)
            let deadline = ContinuousClock.now + .seconds(30)
            var status = ""
            while ContinuousClock.now < deadline {
                status = try await s.call(.GET, "/switchyard/v1/operations/\(id)").result["operation"]?["status"]?.stringValue ?? ""
                if status == "completed" || status == "failed" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(status == "completed")
        }
        #expect(workers.stop(within: 10))
        #expect(workers.stop(within: 1), "stopping twice returns at once")
        try await s.stop()
    }

    @Test("the metrics endpoint: /metrics and /healthz, 404 elsewhere, a port in use refused, the port released on stop")
    func metricsEndpoint() async throws {
        // Start and stop block: they run on a thread of their own, as from `switchyard worker`.
        let port = try await onThread { () throws -> Int in
            let endpoint = try MetricsEndpoint.start(port: 0) { "# TYPE x counter\nx 1\n" }
            defer { endpoint.stop() }
            #expect(throws: (any Error).self) { _ = try MetricsEndpoint.start(port: endpoint.port) { "" } }
            return endpoint.port
        }
        // Released: the same port can be bound again.
        let again = try await onThread { () throws -> MetricsEndpoint in try MetricsEndpoint.start(port: port) { "# TYPE y counter\ny 2\n" } }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(again.port)/metrics")
        request.method = .GET
        let metrics = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
        #expect(metrics.status == .ok && text.contains("y 2"))
        request = HTTPClientRequest(url: "http://127.0.0.1:\(again.port)/other")
        #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .notFound)
        request = HTTPClientRequest(url: "http://127.0.0.1:\(again.port)/healthz")
        #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .ok)
        _ = try await onThread { again.stop() }
    }
}

/// Runs blocking code on a thread of its own and awaits its result.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

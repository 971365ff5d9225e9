import Foundation
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

/// The `http:` embedder through the CLI, against a real OpenAI-compatible server process serving MiniLM.
@Suite("Remote embedder through the CLI")
struct RemoteEmbedderCLITests {
    static let mini = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Datasets/fixtures/mini-beir").path

    @Test("reindex minilm → http(minilm): identical vectors, so self-retrieval 1.0 and no ranking change; the key is stored nowhere",
          .enabled(if: ModelRequirement.minilm))
    func reindexToService() throws {
        let key = "sk-test-\(UUID().uuidString)"
        let server = try EmbeddingServerProcess(arguments: ["--embedder", "minilm", "--model", "all-MiniLM-L6-v2", "--key", key])
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let index = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini, "--embedder", "minilm"])
            #expect(index.status == 0, "\(index.stderr)")
            let spec = "http:url=\(server.baseURL),model=all-MiniLM-L6-v2,batch=4,key_env=EMBEDDING_SERVICE_KEY"
            let env = ["EMBEDDING_SERVICE_KEY": key]
            let r = try CLI.run(["reindex", "--store", store, "--collection", "docs", "--embedder", spec,
                                 "--queries", Self.mini + "/queries.jsonl", "--qrels", Self.mini + "/qrels/test.tsv",
                                 "--report", dir.appending("report.html"), "--json"],
                                environment: env)
            #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
            let op = try JSONParser.parse(r.stdout)
            #expect(op["status"] == "completed")
            let checks = op["checkpoint"]?["validation"]?["checks"]?.arrayValue ?? []
            func check(_ name: String) -> JSONValue? { checks.first { $0["name"]?.stringValue == name } }
            #expect(check("self_recall_new")?["value"]?.numberValue == 1.0, "\(checks)")
            #expect(check("self_recall_new")?["verdict"] == "pass")
            #expect(abs(check("top1_score_diff")?["value"]?.numberValue ?? 1) <= 1e-5, "\(checks)")
            #expect(check("low_overlap_fraction")?["value"]?.numberValue == 0, "\(checks)")
            #expect(try server.stats().authorized > 0)
            // The spec names the variable; the key itself is in no configuration, operation or audit row.
            let show = try CLI.run(["collections", "show", "--store", store, "--collection", "docs", "--json"])
            #expect(show.stdout.contains("key_env=EMBEDDING_SERVICE_KEY"), "\(show.stdout)")
            let ops = try CLI.run(["ops", "list", "--store", store, "--json"])
            let audit = try CLI.run(["audit", "--store", store, "--collection", "docs", "--json"])
            for text in [show.stdout, ops.stdout, audit.stdout, r.stdout, r.stderr] { #expect(!text.contains(key)) }
            let html = try String(contentsOfFile: dir.appending("report.html"), encoding: .utf8)
            #expect(html.contains("minilm") && !html.contains(key))
        }
    }

    @Test("a service that cannot be reached fails the request with exit 1 before anything is queued")
    func unreachable() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let port = EmbeddingServerProcess.closedPort()
            let r = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini,
                                 "--embedder", "http:url=http://127.0.0.1:\(port)/v1,model=m,retries=0,timeout=1"])
            #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("unavailable") && r.stderr.contains("127.0.0.1:\(port)"), "\(r.stderr)")
            // Nothing durable: not even the store was created.
            #expect(!FileManager.default.fileExists(atPath: store), "the store was created")
            let bad = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini,
                                   "--embedder", "http:url=http://127.0.0.1:\(port)/v1,model=m,key=sk-live-123"])
            #expect(bad.status == 2 && bad.stderr.contains("key_env") && !bad.stderr.contains("sk-live-123"), "\(bad.stderr)")
        }
    }

    @Test("a service failing past the embedder's retries fails the attempt as transient; the operation is retried and completes")
    func transientForTheQueue() throws {
        let server = try EmbeddingServerProcess(arguments: ["--embedder", "hash-v2", "--model", "test-model"])
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            // The probe is skipped (dim given); the first batch meets two 503s, one more than the embedder retries.
            try server.inject(#"{"status": 503, "times": 2}"#)
            let r = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini,
                                 "--embedder", "http:url=\(server.baseURL),model=test-model,dim=384,retries=1,backoff=0.01",
                                 "--max-retries", "3", "--retry-delay", "0.1", "--json"])
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
            let op = try JSONParser.parse(r.stdout)
            #expect(op["status"] == "completed", "\(r.stdout)")
            #expect((op["attempts"]?.numberValue ?? 0) >= 2, "\(r.stdout)")
            #expect(try server.stats().requests >= 3)
            let hits = try CLI.run(["search", "--store", store, "--collection", "docs", "--text", "alias", "--json"])
            #expect(hits.status == 0, "\(hits.stderr)")
        }
    }
}

import Foundation
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("switchyard demo")
struct DemoTests {
    static var datasets: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Datasets").path
    }

    @Test("the demo indexes, reindexes with readers, switches with zero reader errors and writes the report")
    func demo() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = (Self.datasets as NSString).appendingPathComponent("fixtures/mini-beir")
            let r = try CLI.run(["demo", "--dir", store, "--dataset", mini, "--readers", "2", "--report", dir.appending("r.html")])
            #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("verdict: validation passed, alias 'docs' switched"))
            #expect(r.stdout.contains("| ndcg_drop |"))
            #expect(r.stdout.contains(" 0 errors, 0 empty results"), "\(r.stdout)")
            #expect(r.stdout.contains("metrics reindex:"))
            #expect(FileManager.default.fileExists(atPath: dir.appending("r.html")))
            // Everything went through the operations engine: two completed operations, an audited switch.
            let ops = try JSONParser.parse(try CLI.run(["ops", "list", "--store", store, "--json"]).stdout)
            let statuses = ops.objectValue?["operations"]?.arrayValue?.compactMap { $0.objectValue?["status"]?.stringValue }
            #expect(statuses == ["completed", "completed"])
            #expect(try CLI.run(["audit", "--store", store, "--collection", "docs"]).stdout.contains("collection_reindexed"))
        }
    }

    @Test("a worse new embedder is rejected: exit 1, alias unchanged")
    func rejected() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let r = try CLI.run(["demo", "--dir", store, "--dataset", (Self.datasets as NSString).appendingPathComponent("wordnet-defs"),
                                 "--readers", "1", "--old", "hash-v2", "--new", "hash:dim=8"])
            #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("REJECTED") && r.stdout.contains("| ndcg_drop |"))
            let show = try JSONParser.parse(try CLI.run(["collections", "show", "--store", store, "--collection", "docs", "--json"]).stdout)
            #expect(show.objectValue?["embedder"] == "hash-v2")
        }
    }

    @Test("demo --new minilm reindexes hash-v2 → minilm through the operations engine and switches",
          .enabled(if: ModelRequirement.minilm))
    func minilm() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = (Self.datasets as NSString).appendingPathComponent("fixtures/mini-beir")
            let r = try CLI.run(["demo", "--dir", store, "--dataset", mini, "--readers", "1", "--old", "hash-v2", "--new", "minilm"])
            #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("verdict: validation passed, alias 'docs' switched"), "\(r.stdout)")
            let show = try JSONParser.parse(try CLI.run(["collections", "show", "--store", store, "--collection", "docs", "--json"]).stdout)
            #expect(show.objectValue?["embedder"] == "minilm")
            #expect(show.objectValue?["dimension"]?.numberValue == 384)
            // The reindex's metrics time embedding on its own.
            let ops = try CLI.run(["ops", "list", "--store", store, "--json"])
            let reindex = try JSONParser.parse(ops.stdout).objectValue?["operations"]?.arrayValue?.first { $0["type"]?.stringValue == "reindex" }
            let id = reindex?["id"]?.stringValue ?? reindex?["id"]?.numberValue.map { String(Int($0)) } ?? "?"
            let shown = try JSONParser.parse(try CLI.run(["ops", "show", "--store", store, id, "--json"]).stdout)
            let names = shown["metrics"]?.arrayValue?.flatMap { $0["values"]?.objectValue?.keys.map { $0 } ?? [] } ?? []
            #expect(names.contains { $0.contains("embed") }, "metrics: \(names)")
        }
    }
}

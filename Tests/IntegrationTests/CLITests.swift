import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("The switchyard CLI")
struct CLITests {
    static func setUpStore(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.appending("store")
        try CLI.run(["store", "collections", "create", "--store", path, "--name", "docs", "--dim", "3"])
        let file = dir.appending("p.jsonl")
        try """
            {"id": 1, "vector": [1, 0, 0], "payload": {"lang": "en"}}
            {"id": 2, "vector": [0, 1, 0], "payload": {"lang": "de"}}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["store", "points", "upsert", "--store", path, "--collection", "docs", "--vectors", file])
        #expect(r.status == 0, "\(r.stderr)")
        return path
    }

    /// A bad call exits 2, names the problem, and changes nothing stored.
    @Test("bad input exits 2 with a message naming the problem, and nothing changes", arguments: [
        (["store", "collections", "create", "--name", #"x"; DROP TABLE points; --"#, "--dim", "3"], "invalid collection name"),
        (["store", "collections", "create", "--name", "docs", "--dim", "3"], "already exists"),
        (["store", "collections", "create", "--name", "z", "--dim", "0"], "invalid dimension"),
        (["store", "collections", "create", "--name", "z", "--dim", "3", "--distance", "Hamming"], "unknown distance"),
        (["store", "search", "--collection", "missing", "--vector", "[1,0,0]"], "not found"),
        (["store", "search", "--collection", "docs", "--vector", "[1,0]"], "dimension 3"),
        (["store", "search", "--collection", "docs", "--vector", "[1,0,0]", "--k", "0"], "limit must be at least 1"),
        (["store", "search", "--collection", "docs", "--vector", "[1,0,0]", "--filter", "{\"must\": [{\"key\": \"lang\", \"match\": {\"vale\": 1}}]}"], "filter.must[0].match"),
        (["store", "search", "--collection", "docs", "--vector", "[1,0,0]", "--filter", "{not json"], "malformed filter"),
        (["store", "points", "upsert", "--collection", "docs", "--vectors", "BADVECTORS"], "dimension 3"),
        (["store", "points", "upsert", "--collection", "docs", "--vectors", "NANVECTORS"], "NaN"),
        (["store", "points", "upsert", "--collection", "docs", "--vectors", "TRUNCATED"], "truncated"),
        (["store", "aliases", "update", "--create", "docs=docs"], "collection's name"),
        (["store", "search", "--collection", "docs", "--vector", "[1,0,0]", "--score-threshold", "nan"], "NaN"),
        (["store", "points", "upsert", "--collection", "docs", "--vectors", "ONEVECTOR", "--start-id", "18446744073709551615"], "largest id"),
        (["bench", "search", "--base", "ONEVECTOR", "--queries", "ONEVECTOR", "--single", "-1"], "--single"),
        (["bench", "search", "--base", "ONEVECTOR", "--queries", "ONEVECTOR", "--batch-runs", "0"], "--batch-runs"),
        (["store", "aliases", "update", "--delete", "nope"], "alias 'nope' not found"),
        (["store", "points", "count", "--collection", "docs", "--filter", "{\"must\": {\"key\": \"\", \"match\": {\"value\": 1}}}"], "must not be empty"),
    ] as [([String], String)])
    func badInput(args: [String], message: String) throws {
        try withTemporaryDirectory { dir in
            let path = try Self.setUpStore(dir)
            try "[1, 0]\n".write(toFile: dir.appending("bad.jsonl"), atomically: true, encoding: .utf8)
            // An .fvecs row holding a NaN component.
            var nan = Data()
            withUnsafeBytes(of: Int32(3).littleEndian) { nan.append(contentsOf: $0) }
            for x in [Float(1), 0, .nan] { withUnsafeBytes(of: x.bitPattern.littleEndian) { nan.append(contentsOf: $0) } }
            try nan.write(to: URL(fileURLWithPath: dir.appending("nan.fvecs")))
            // An .fvecs whose size is not a whole number of rows.
            var d = Data()
            withUnsafeBytes(of: Int32(3).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: [0, 0, 128, 63, 0, 0])
            try d.write(to: URL(fileURLWithPath: dir.appending("t.fvecs")))
            try TexmexWriter.writeFloats(VectorBlock(count: 2, dimension: 3, values: [1, 0, 0, 0, 1, 0]), to: dir.appending("one.fvecs"))
            var full = args.map {
                $0.replacingOccurrences(of: "BADVECTORS", with: dir.appending("bad.jsonl"))
                    .replacingOccurrences(of: "NANVECTORS", with: dir.appending("nan.fvecs"))
                    .replacingOccurrences(of: "TRUNCATED", with: dir.appending("t.fvecs"))
                    .replacingOccurrences(of: "ONEVECTOR", with: dir.appending("one.fvecs"))
            }
            if full[0] == "store", let at = full.firstIndex(where: { $0.hasPrefix("--") }) { full.insert(contentsOf: ["--store", path], at: at) }
            let before = try CLI.run(["store", "points", "scroll", "--store", path, "--collection", "docs", "--with-vector", "--json"]).stdout
            let beforeCollections = try CLI.run(["store", "collections", "list", "--store", path, "--json"]).stdout
            let r = try CLI.run(full)
            #expect(r.status == 2, "exit \(r.status) for \(full): \(r.stderr)")
            #expect(r.stderr.contains(message), "stderr was: \(r.stderr)")
            #expect(try CLI.run(["store", "points", "scroll", "--store", path, "--collection", "docs", "--with-vector", "--json"]).stdout == before)
            #expect(try CLI.run(["store", "collections", "list", "--store", path, "--json"]).stdout.replacingOccurrences(of: "\"aliases\":[]", with: "") == beforeCollections.replacingOccurrences(of: "\"aliases\":[]", with: ""))
        }
    }

    @Test("huge --k and --offset are answered, not crashed on; ids above 2^53 come back exact")
    func extremes() throws {
        try withTemporaryDirectory { dir in
            let path = try Self.setUpStore(dir)
            let all = try CLI.run(["store", "search", "--store", path, "--collection", "docs", "--vector", "[1,0,0]", "--k", "9223372036854775807", "--json"])
            #expect(all.status == 0, "\(all.stderr)")
            #expect(all.stdout.contains(#""id":1"#) && all.stdout.contains(#""id":2"#))
            let none = try CLI.run(["store", "search", "--store", path, "--collection", "docs", "--vector", "[1,0,0]", "--offset", "9223372036854775807", "--json"])
            #expect(none.status == 0 && none.stdout == "{\"result\":[]}\n", "\(none.stdout) \(none.stderr)")
            let file = dir.appending("big.jsonl")
            try #"{"id": 18446744073709551615, "vector": [0, 0, 1]}"#.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try CLI.run(["store", "points", "upsert", "--store", path, "--collection", "docs", "--vectors", file]).status == 0)
            let got = try CLI.run(["store", "points", "get", "--store", path, "--collection", "docs", "--ids", "18446744073709551615", "--json"])
            #expect(got.stdout.contains(#""id":18446744073709551615"#), "\(got.stdout)")
            let scroll = try CLI.run(["store", "points", "scroll", "--store", path, "--collection", "docs", "--offset", "9007199254740993", "--json"])
            #expect(scroll.stdout.contains(#"{"id":18446744073709551615"#))
        }
    }

    @Test("two processes creating collections in one new store at the same moment both succeed")
    func concurrentFirstOpen() throws {
        try withTemporaryDirectory { dir in
            for round in 0..<3 {
                let path = dir.appending("store\(round)")
                let outs = (0..<2).map { dir.appending("out\(round)-\($0)") }
                let procs = try (0..<2).map { i in
                    try CLI.start(["store", "collections", "create", "--store", path, "--name", "c\(i)", "--dim", "2"],
                                  outputFile: outs[i], errorFile: outs[i] + ".err")
                }
                for p in procs { p.waitUntilExit() }
                let errors = outs.map { readGrowingFile($0 + ".err") }
                #expect(procs.allSatisfy { $0.terminationStatus == 0 }, "round \(round): \(procs.map(\.terminationStatus)) \(errors)")
                let list = try CLI.run(["store", "collections", "list", "--store", path, "--json"])
                #expect(list.stdout.contains(#""name":"c0""#) && list.stdout.contains(#""name":"c1""#))
            }
        }
    }

    @Test("store commands round-trip through aliases, JSON and files")
    func roundTrip() throws {
        try withTemporaryDirectory { dir in
            let path = try Self.setUpStore(dir)
            #expect(try CLI.run(["store", "aliases", "update", "--store", path, "--create", "live=docs"]).status == 0)
            let s = try CLI.run(["store", "search", "--store", path, "--collection", "live", "--vector", "[0.1, 1, 0]", "--k", "1", "--json"])
            #expect(s.status == 0)
            #expect(s.stdout.contains(#""id":2"#))
            let f = try CLI.run(["store", "search", "--store", path, "--collection", "live", "--vector", "[0.1, 1, 0]", "--json",
                                 "--filter", #"{"must": [{"key": "lang", "match": {"value": "en"}}]}"#])
            #expect(f.stdout.contains(#""id":1"#) && !f.stdout.contains(#""id":2"#))
            let info = try CLI.run(["store", "collections", "info", "--store", path, "--collection", "live", "--json"])
            #expect(info.stdout.contains(#""points_count": 2"#))
            #expect(try CLI.run(["store", "points", "delete", "--store", path, "--collection", "live", "--ids", "1"]).stdout.contains("deleted 1"))
            #expect(try CLI.run(["store", "points", "count", "--store", path, "--collection", "docs"]).stdout == "1\n")
            let aliases = try CLI.run(["store", "aliases", "list", "--store", path, "--json"])
            #expect(aliases.stdout.contains(#"{"alias":"live","collection":"docs"}"#))
        }
    }

    @Test("bench search reports every contract key and exact recall; synth data is deterministic")
    func benchSearch() throws {
        try withTemporaryDirectory { dir in
            let a = dir.appending("a"), b = dir.appending("b")
            for out in [a, b] {
                let r = try CLI.run(["datasets", "synth", "--n", "3000", "--d", "24", "--queries", "40", "--clusters", "20", "--seed", "5", "--out", out])
                #expect(r.status == 0, "\(r.stderr)")
            }
            for f in ["base.fvecs", "query.fvecs", "gt.ivecs"] {
                #expect(FileManager.default.contents(atPath: (a as NSString).appendingPathComponent(f))
                        == FileManager.default.contents(atPath: (b as NSString).appendingPathComponent(f)), "\(f) differs between runs")
            }
            let r = try CLI.run(["bench", "search", "--base", a + "/base.fvecs", "--queries", a + "/query.fvecs", "--gt", a + "/gt.ivecs",
                                 "--k", "10", "--single", "20", "--threads", "2", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let v = try JSONParser.parse(r.stdout)
            for key in ["engine", "n", "d", "nq", "k", "threads", "blas", "kernel", "ingest_s", "ingest_vps", "single_p50_ms",
                        "single_p99_ms", "batch_qps", "recall_at_k", "rss_mb"] {
                #expect(v[key] != nil, "missing \(key)")
            }
            #expect(v["recall_at_k"] == .double(1.0))
            #expect(v["n"] == .int(3000))
            // 3,000 points are under the screen's minimum: exact searches scan the float rows, and the report says so.
            #expect(v["screening"] == .bool(false) && v["screen_mb"] == .double(0))
            // With int8 quantization: the kernel, the memory of the int8 copy, and recall (oversampled and rescored).
            let q = try CLI.run(["bench", "search", "--base", a + "/base.fvecs", "--queries", a + "/query.fvecs", "--gt", a + "/gt.ivecs",
                                 "--k", "10", "--single", "20", "--threads", "2", "--quantization", "int8", "--oversampling", "4",
                                 "--batch-runs", "3", "--json"])
            #expect(q.status == 0, "\(q.stderr)")
            let w = try JSONParser.parse(q.stdout)
            #expect(w["quantization"] == ["scalar": ["type": "int8", "quantile": 0.99]])
            #expect(w["oversampling"] == .double(4) && w["rescore"] == .bool(true))
            #expect(w["screening"] == .bool(false), "a quantized collection keeps no screen")
            #expect(["avx512-vnni", "avx2", "generic"].contains(w["int8_kernel"]?.stringValue ?? ""))
            let ratio = (w["quantized_mb"]?.numberValue ?? 1) / (w["vectors_mb"]?.numberValue ?? 1)
            #expect(ratio > 0.2 && ratio < 0.35, "int8 copy / float rows = \(ratio)")
            #expect((w["recall_at_k"]?.numberValue ?? 0) >= 0.95)
            // Three batch runs, the best reported.
            let runs = (w["batch_runs_qps"]?.arrayValue ?? []).compactMap(\.numberValue)
            #expect(runs.count == 3 && runs.allSatisfy { $0 > 0 })
            #expect(w["batch_qps"]?.numberValue == runs.max())
            #expect(v["batch_runs_qps"]?.arrayValue?.count == 1)
        }
    }

    @Test("bench search says how exact searches ran: screened from 16,384 points, the float scan with --no-screen, below the minimum, with Manhattan or on a quantized collection")
    func benchSearchExactLine() throws {
        try withTemporaryDirectory { dir in
            let data = dir.appending("d")
            let g = try CLI.run(["datasets", "synth", "--n", "16400", "--d", "8", "--queries", "20", "--seed", "3", "--out", data])
            #expect(g.status == 0, "\(g.stderr)")
            func exactLine(_ extra: [String]) throws -> String {
                let r = try CLI.run(["bench", "search", "--base", data + "/base.fvecs", "--queries", data + "/query.fvecs",
                                     "--single", "5", "--threads", "1"] + extra)
                #expect(r.status == 0, "\(r.stderr)")
                return r.stdout.split(separator: "\n").first { $0.hasPrefix("exact search: ") }.map(String.init) ?? "(none)\n\(r.stdout)"
            }
            let screened = try exactLine([])
            #expect(screened.hasPrefix("exact search: int8 screen with proven bounds ("), "\(screened)")
            #expect(!screened.contains("(0.0 MB"), "\(screened)")
            #expect(try exactLine(["--no-screen"]) == "exact search: float scan only (--no-screen)")
            let quantized = try exactLine(["--quantization", "int8"])
            #expect(quantized.hasPrefix("exact search: float scan (a quantized collection keeps no screen"), "\(quantized)")
            #expect(try exactLine(["--metric", "manhattan"]) == "exact search: float scan (Manhattan distance is never screened)")
            let small = dir.appending("s")
            #expect(try CLI.run(["datasets", "synth", "--n", "1000", "--d", "8", "--queries", "5", "--out", small]).status == 0)
            let r = try CLI.run(["bench", "search", "--base", small + "/base.fvecs", "--queries", small + "/query.fvecs", "--single", "5"])
            #expect(r.stdout.contains("exact search: float scan (collections under 16384 points are not screened)"), "\(r.stdout)")
        }
    }

    @Test("shell completions are generated for bash, zsh and fish, with the commands and their options", arguments: ["bash", "zsh", "fish"])
    func completions(_ shell: String) throws {
        let r = try CLI.run(["--generate-completion-script", shell])
        #expect(r.status == 0, "\(r.stderr)")
        for word in ["reindex", "rollback", "qdrant-url", "collection"] { #expect(r.stdout.contains(word), "\(shell): \(word)") }
    }
}

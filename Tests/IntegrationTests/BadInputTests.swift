import Foundation
import GRDB
import Locks
import Testing
import _SwitchyardTestSupport

/// Malformed input across every command: each must exit 2 with a message that names the problem, and
/// leave the store exactly as it was: every row of every table of its database (collections, points,
/// aliases, operations, documents, audit log, quotas, reservations …) and the files in its directory.
// The battery copies a store for each case and compares every table and the points' digest, which live in the
// embedded store; against Qdrant the copies would not share the server's vectors. Bad input specific to the
// Qdrant backend is checked in QdrantCLITests, under both backends.
@Suite("Bad input changes nothing", .enabled(if: TestBackend.current == .embedded))
struct BadInputTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let mini = root + "/Datasets/fixtures/mini-beir"

    /// A store made once per test process and copied for each case: the managed collection `docs`
    /// (indexed from the mini BEIR fixture), the physical collection `raw` (3-d, three points) and the
    /// alias `raw-live` pointing at it; plus the fixture files the cases name.
    static let template: Locked<TemporaryDirectory?> = Locked(nil)

    static func templateDirectory() throws -> String {
        try template.withLock { made in
            if let made { return made.path }
            let base = try TemporaryDirectory(prefix: "switchyard-bad-input")
            // Statics are not released at exit: remove the template then.
            atexit { BadInputTests.template.withLock { $0?.remove() } }
            let dir = base.path
            let store = dir + "/store"
            let fixtures = dir + "/fixtures"
            try FileManager.default.createDirectory(atPath: fixtures, withIntermediateDirectories: true)
            func write(_ name: String, _ text: String) throws {
                try text.write(toFile: fixtures + "/" + name, atomically: true, encoding: .utf8)
            }
            try write("bad-queries.jsonl", "{\"_id\": \"q1\", \"text\": \"alias\"}\n{\"_id\": \"q2\" \"text\": \"broken\"}\n")
            try write("no-text-queries.jsonl", "{\"_id\": \"q1\", \"text\": \"alias\"}\n{\"_id\": \"q2\"}\n")
            try write("bad-qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\tmany\n")
            try write("other-qrels.tsv", "zz\td1\t1\n")
            try write("vector.json", "[0.1, 0.2,")
            try write("not-numbers.json", "[\"a\", \"b\"]")
            try write("points-2d.jsonl", "{\"id\": 10, \"vector\": [1, 2]}\n")
            try write("points-3d.jsonl", "{\"id\": 10, \"vector\": [1, 2, 3]}\n{\"id\": 11, \"vector\": [3, 2, 1]}\n")
            try write("payloads-1.jsonl", "{\"a\": 1}\n")
            try write("a-file", "not a directory")
            try write("bad-filter.json", "{\"must\": [{\"key\": \"a\", \"range\": {\"gt\": \"x\"}}]}")
            try FileManager.default.createDirectory(atPath: fixtures + "/report-dir.html", withIntermediateDirectories: true)
            let steps: [[String]] = [
                ["index", "--store", store, "--collection", "docs", "--source", mini, "--embedder", "hash-v2"],
                ["store", "collections", "create", "--store", store, "--name", "raw", "--dim", "3"],
                ["store", "points", "upsert", "--store", store, "--collection", "raw", "--vectors", fixtures + "/points-3d.jsonl"],
                ["store", "aliases", "update", "--store", store, "--create", "raw-live=raw"],
                ["datasets", "synth", "--n", "50", "--d", "8", "--queries", "4", "--out", fixtures + "/synth"],
            ]
            for step in steps {
                let r = try CLI.run(step)
                guard r.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(step): \(r.stderr)"]) }
            }
            // Ground truth naming base vector 50 of 50 (ids run 0…49).
            var gt = Data()
            for _ in 0..<4 {
                for v: Int32 in [10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 50] { withUnsafeBytes(of: v.littleEndian) { gt.append(contentsOf: $0) } }
            }
            try gt.write(to: URL(fileURLWithPath: fixtures + "/gt-out-of-range.ivecs"))
            made = base
            return dir
        }
    }

    /// Everything durable in a store: every row of every table, and the directory's files.
    static func dump(_ store: String) throws -> String {
        var out: [String] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: store)
            .filter { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }.sorted()
        out.append("files: \(files)")
        var config = Configuration()
        config.readonly = true
        let db = try DatabaseQueue(path: store + "/store.sqlite", configuration: config)
        try db.read { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            for t in tables {
                out.append("table \(t)")
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \"\(t)\"")
                out.append(contentsOf: rows.map { $0.description }.sorted())
            }
        }
        try db.close()
        return out.joined(separator: "\n")
    }

    @Test("exits 2, names the problem, changes nothing", arguments: cases)
    func refused(_ c: Case) throws {
        let template = try Self.templateDirectory()
        try withTemporaryDirectory(prefix: "switchyard-bad") { dir in
            let store = dir.appending("store")
            try FileManager.default.copyItem(atPath: template + "/store", toPath: store)
            let before = try Self.dump(store)
            let args = c.args.map {
                $0.replacingOccurrences(of: "STORE", with: store).replacingOccurrences(of: "MINI", with: Self.mini)
                    .replacingOccurrences(of: "FIX", with: template + "/fixtures").replacingOccurrences(of: "DIR", with: dir.path)
            }
            let r = try CLI.run(args)
            #expect(r.status == 2, "\(c.args): exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
            let message = c.message.replacingOccurrences(of: "MINI", with: Self.mini).replacingOccurrences(of: "FIX", with: template + "/fixtures")
                .replacingOccurrences(of: "DIR", with: dir.path)
            #expect(r.stderr.contains(message), "\(c.args): stderr does not say '\(message)':\n\(r.stderr)")
            #expect(!r.stderr.contains("Error Domain="), "\(c.args): a raw Foundation error reached the user:\n\(r.stderr)")
            #expect(try Self.dump(store) == before, "\(c.args) changed the store")
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var args: [String]
        var message: String
        var testDescription: String { args.joined(separator: " ") }
    }

    static let cases: [Case] = [
        // index and collections create
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", ""], message: "source path is empty"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--keep-generations=-1"], message: "--keep-generations must be from 0 to 1000, got -1"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--staging-min-age=-1"], message: "--staging-min-age must be a number of seconds"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--grace-seconds=-5"], message: "--grace-seconds must be a number of seconds"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--retry-delay=-1"], message: "--retry-delay must be a number of seconds"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--soft-time-limit", "nan"], message: "--soft-time-limit must be a number of seconds"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "/does/not/exist"], message: "/does/not/exist"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--chunk-overlap=-1"], message: "chunk overlap must not be negative"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--chunk-size=-3"], message: "chunk size must be positive"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--source", "MINI"], message: "the same source is given twice"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--user", ""], message: "invalid user ''"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--owner", ""], message: "invalid owner ''"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--user", "a\nb"], message: "invalid user"),
        Case(args: ["index", "--store", "STORE", "--collection", "", "--source", "MINI"], message: "invalid collection name ''"),
        Case(args: ["index", "--store", "STORE", "--collection", "raw", "--source", "MINI"], message: "already used by a collection or alias"),
        Case(args: ["index", "--store", "STORE", "--collection", "docs", "--source", "MINI", "--embedder", "hash-v1"], message: "configured differently: --embedder hash-v1"),
        Case(args: ["index", "--store", "STORE", "--collection", "new", "--source", "MINI", "--embedder", "nonsense"], message: "invalid embedder"),
        Case(args: ["collections", "create", "--store", "STORE", "--collection", "new", "--source", ""], message: "source path is empty"),
        Case(args: ["collections", "create", "--store", "STORE", "--collection", "new"], message: "needs at least one source"),
        Case(args: ["collections", "create", "--store", "STORE", "--collection", "new", "--source", "MINI", "--max-retries=-1"], message: "--max-retries must be from 0 to 1000"),
        // delete, append, remove-source
        Case(args: ["collections", "delete", "--store", "STORE", "--collection", "docs", "--keep-generations=-1"], message: "--keep-generations must be from 0 to 1000"),
        Case(args: ["collections", "delete", "--store", "STORE", "--collection", "docs", "--lease-seconds", "0.01"], message: "--lease-seconds"),
        Case(args: ["collections", "delete", "--store", "STORE", "--collection", "nope"], message: "no managed collection named 'nope'"),
        Case(args: ["collections", "show", "--store", "STORE", "--collection", "nope"], message: "no managed collection named 'nope'"),
        Case(args: ["append", "--store", "STORE", "--collection", "docs", "--source", ""], message: "source path is empty"),
        Case(args: ["append", "--store", "STORE", "--collection", "docs", "--source", "MINI", "--keep-generations=-1"], message: "--keep-generations"),
        Case(args: ["append", "--store", "STORE", "--collection", "docs", "--source", "MINI", "--chunk-size", "100"], message: "configured differently: --chunk-size 100"),
        Case(args: ["append", "--store", "STORE", "--collection", "docs", "--source", "MINI", "--distance", "Hamming"], message: "unknown distance 'Hamming'"),
        Case(args: ["append", "--store", "STORE", "--collection", "nope", "--source", "MINI"], message: "no managed collection named 'nope'"),
        Case(args: ["append", "--store", "STORE", "--collection", "docs", "--source", "/dev/null"], message: "/dev/null"),
        Case(args: ["remove-source", "--store", "STORE", "--collection", "docs", "--source", ""], message: "source path is empty"),
        Case(args: ["remove-source", "--store", "STORE", "--collection", "docs", "--source", "MINI", "--keep-generations=-1"], message: "--keep-generations"),
        Case(args: ["remove-source", "--store", "STORE", "--collection", "docs", "--source", "/elsewhere"], message: "is not registered on collection 'docs'"),
        // reindex, rollback, compare
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--queries", "FIX/bad-queries.jsonl"], message: "FIX/bad-queries.jsonl' line 2"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--queries", "FIX/no-text-queries.jsonl"], message: "no-text-queries.jsonl' line 2"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--queries", "MINI/queries.jsonl", "--qrels", "FIX/bad-qrels.tsv"], message: "bad-qrels.tsv' line 3"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--queries", "MINI/queries.jsonl", "--qrels", "FIX/other-qrels.tsv"], message: "the labels do not belong to these queries"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--queries", "/does/not/exist.jsonl"], message: "'/does/not/exist.jsonl' does not exist"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--report", "DIR/missing/report.html"], message: "its directory 'DIR/missing' does not exist"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--report", "FIX/report-dir.html"], message: "is a directory"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--report", "DIR/report.pdf"], message: "must end in .json, .md or .html"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash:dim=0"], message: "invalid embedder"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--chunk-size", "0"], message: "chunk size must be positive"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--threshold", "ndcg_drop=abc"], message: "use NAME=VALUE with a number"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--threshold", "bogus=1"], message: "unknown threshold 'bogus'"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--distance", "Hamming"], message: "unknown distance 'Hamming'"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "nope", "--embedder", "hash-v1"], message: "no managed collection named 'nope'"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--embedder", "hash-v1", "--keep-generations=-1"], message: "--keep-generations"),
        Case(args: ["reindex", "--store", "STORE", "--collection", "docs", "--qrels", "MINI/qrels/test.tsv"], message: "need a queries file"),
        Case(args: ["rollback", "--store", "STORE", "--collection", "docs"], message: "no kept generation"),
        Case(args: ["rollback", "--store", "STORE", "--collection", "nope"], message: "nope"),
        Case(args: ["compare", "--store", "STORE", "--old", "docs", "--new", "nope"], message: "nope"),
        Case(args: ["compare", "--store", "STORE", "--old", "docs", "--new", "docs", "--k", "0"], message: "--k must be at least 1"),
        Case(args: ["compare", "--store", "STORE", "--old", "docs", "--new", "docs", "--queries", "FIX/bad-queries.jsonl"], message: "bad-queries.jsonl' line 2"),
        Case(args: ["compare", "--store", "STORE", "--old", "docs", "--new", "docs", "--report", "DIR/missing/r.md"], message: "does not exist"),
        // search
        Case(args: ["search", "--store", "STORE", "--collection", "docs", "--text", "alias", "--k", "0"], message: "--k must be at least 1"),
        Case(args: ["search", "--store", "STORE", "--collection", "docs", "--vector-file", "/does/not/exist.json"], message: "cannot read '/does/not/exist.json': No such file or directory"),
        Case(args: ["search", "--store", "STORE", "--collection", "docs", "--vector-file", "FIX/vector.json"], message: "--vector-file 'FIX/vector.json': malformed JSON"),
        Case(args: ["search", "--store", "STORE", "--collection", "docs", "--vector-file", "FIX/not-numbers.json"], message: "must hold a non-empty JSON array of numbers"),
        Case(args: ["search", "--store", "STORE", "--collection", "docs", "--text", "alias", "--filter", "{bad"], message: "malformed filter"),
        Case(args: ["search", "--store", "STORE", "--collection", "nope", "--text", "alias"], message: "nope"),
        Case(args: ["search", "--store", "STORE", "--collection", "docs"], message: "exactly one of --text and --vector-file"),
        // operations, worker, limits
        Case(args: ["ops", "show", "--store", "STORE", "abc"], message: "give at least 8 characters"),
        Case(args: ["ops", "cancel", "--store", "STORE", "abc"], message: "give at least 8 characters"),
        Case(args: ["ops", "cancel", "--store", "STORE", "zzzzzzzzzz"], message: "is not an operation id"),
        Case(args: ["ops", "show", "--store", "STORE", "00000000-0000-0000-0000-000000000000"], message: "no operation with id"),
        Case(args: ["ops", "list", "--store", "STORE", "--status", "finished"], message: "unknown status 'finished'"),
        Case(args: ["worker", "--store", "STORE", "--concurrency", "0"], message: "--concurrency must be at least 1"),
        Case(args: ["worker", "--store", "STORE", "--until-idle", "--max-retries=-1"], message: "--max-retries must be from 0 to 1000"),
        Case(args: ["worker", "--store", "STORE", "--until-idle", "--keep-generations=-1"], message: "--keep-generations"),
        Case(args: ["worker", "--store", "STORE", "--metrics-port", "70000"], message: "--metrics-port must be from 0 to 65535"),
        Case(args: ["limits", "set", "--store", "STORE", "--max-collections=-1"], message: "must not be negative"),
        Case(args: ["limits", "set", "--store", "STORE"], message: "needs at least one of"),
        // the low-level store
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "raw", "--dim", "3"], message: "already exists"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "x", "--dim", "0"], message: "dimension"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "bad name", "--dim", "3"], message: "invalid collection name 'bad name'"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "x", "--dim", "3", "--distance", "Hamming"], message: "unknown distance 'Hamming'"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "x", "--dim", "3", "--quantization", "int4"], message: "unknown quantization 'int4'"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "x", "--dim", "3", "--quantization", "int8", "--quantile", "0.3"], message: "quantile must be between 0.5 and 1"),
        Case(args: ["store", "collections", "create", "--store", "STORE", "--name", "x", "--dim", "3", "--quantile", "0.9"], message: "--quantile needs --quantization int8"),
        Case(args: ["bench", "search", "--base", "FIX/synth/base.fvecs", "--queries", "FIX/synth/query.fvecs", "--oversampling", "2"], message: "need --quantization int8"),
        Case(args: ["bench", "search", "--base", "FIX/synth/base.fvecs", "--queries", "FIX/synth/query.fvecs", "--quantization", "int8", "--oversampling", "0.5"], message: "--oversampling must be a number of at least 1"),
        Case(args: ["bench", "search", "--base", "FIX/synth/base.fvecs", "--queries", "FIX/synth/query.fvecs", "--quantization", "int8", "--metric", "manhattan"], message: "Manhattan collections keep no int8 copy"),
        Case(args: ["store", "collections", "drop", "--store", "STORE", "--collection", "nope"], message: "nope"),
        Case(args: ["store", "aliases", "update", "--store", "STORE", "--create", "a=nope"], message: "collection 'nope' not found"),
        Case(args: ["store", "aliases", "update", "--store", "STORE", "--create", "broken"], message: "--create expects ALIAS=COLLECTION"),
        Case(args: ["store", "aliases", "update", "--store", "STORE"], message: "no alias actions given"),
        Case(args: ["store", "aliases", "update", "--store", "STORE", "--actions", "[{\"bogus\": {}}]"], message: "--actions[0]"),
        Case(args: ["store", "aliases", "update", "--store", "STORE", "--actions", "@/does/not/exist"], message: "cannot read actions file '/does/not/exist'"),
        Case(args: ["store", "aliases", "update", "--store", "STORE", "--create", "raw-live=raw", "--delete", "nope"], message: "alias 'nope' not found"),
        Case(args: ["store", "points", "upsert", "--store", "STORE", "--collection", "raw", "--vectors", "/does/not/exist.fvecs"], message: "cannot read '/does/not/exist.fvecs': No such file or directory"),
        Case(args: ["store", "points", "upsert", "--store", "STORE", "--collection", "raw", "--vectors", "FIX/points-2d.jsonl"], message: "dimension 3"),
        Case(args: ["store", "points", "upsert", "--store", "STORE", "--collection", "raw", "--vectors", "FIX/synth/base.fvecs", "--payloads", "/does/not/exist.jsonl"], message: "cannot read '/does/not/exist.jsonl': No such file or directory"),
        Case(args: ["store", "points", "upsert", "--store", "STORE", "--collection", "raw", "--vectors", "FIX/points-3d.jsonl", "--batch", "0"], message: "--batch must be at least 1"),
        Case(args: ["store", "points", "delete", "--store", "STORE", "--collection", "raw"], message: "give exactly one of --ids or --filter"),
        Case(args: ["store", "points", "delete", "--store", "STORE", "--collection", "raw", "--filter", "@FIX/bad-filter.json"], message: "range"),
        Case(args: ["store", "points", "scroll", "--store", "STORE", "--collection", "raw", "--offset=-5"], message: "invalid --offset '-5'"),
        Case(args: ["store", "search", "--store", "STORE", "--collection", "raw", "--vector", "[1, 2]"], message: "dimension 3"),
        Case(args: ["store", "search", "--store", "STORE", "--collection", "raw-live", "--vector", "nope"], message: "--vector"),
        // benchmarks, datasets, demo (they write no store; the template's stays as it was)
        Case(args: ["bench", "search", "--base", "FIX/synth/base.fvecs", "--queries", "FIX/synth/query.fvecs", "--gt", "FIX/gt-out-of-range.ivecs", "--k", "10"], message: "row 0 holds id 50, outside the 50 base vectors"),
        Case(args: ["serve", "--store", "STORE", "--workers", "65"], message: "--workers must be from 0 to 64, got 65"),
        Case(args: ["serve", "--store", "STORE", "--port", "70000"], message: "--port must be from 0 to 65535"),
        Case(args: ["serve", "--store", "STORE", "--max-request-mb", "0"], message: "--max-request-mb must be a number above 0"),
        Case(args: ["serve", "--store", "STORE", "--idle-timeout", "1e9"], message: "--idle-timeout must be a number of seconds above 0 and at most 86400"),
        Case(args: ["serve", "--store", "STORE", "--api-key", ""], message: "--api-key must not be empty"),
        Case(args: ["serve", "--store", "STORE", "--log-level", "loud"], message: "--log-level must be one of"),
        Case(args: ["bench", "serve", "--points", "0"], message: "--points must be at least 1"),
        Case(args: ["bench", "serve", "--concurrency", "0"], message: "--concurrency must be from 1 to 1024"),
        Case(args: ["bench", "append", "--synthetic", "0"], message: "--synthetic must be at least 1, got 0"),
        Case(args: ["bench", "reindex", "--reader-rounds", "0"], message: "--reader-rounds must be at least 1, got 0"),
        Case(args: ["bench", "reindex", "--idle-seconds", "0"], message: "--idle-seconds must be a positive number"),
        Case(args: ["bench", "append", "--synthetic", "10", "--source", "FIX"], message: "--synthetic and --source exclude each other"),
        Case(args: ["bench", "append", "--synthetic", "10", "--words", "0"], message: "--words must be at least 1, got 0"),
        Case(args: ["bench", "append", "--synthetic", "10", "--max-growth-mb=-3"], message: "--max-growth-mb must be a positive number"),
        Case(args: ["bench", "append", "--sync", "sometimes"], message: "--sync must be full or normal, got 'sometimes'"),
        Case(args: ["datasets", "synth", "--n", "10", "--d", "4", "--queries", "2", "--out", "FIX/a-file"], message: "it is a file, not a directory"),
        Case(args: ["demo", "--readers=-1"], message: "--readers must not be negative"),
        Case(args: ["demo", "--dir", "DIR/demo", "--report", "DIR/missing/r.html"], message: "does not exist"),
    ]
}

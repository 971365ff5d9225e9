import Locks
import Foundation
import Operations
import Reindex
import Synchronization
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite("Blue-green reindex through the CLI, with real processes")
struct ReindexCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let wordnet = root + "/Datasets/wordnet-defs"

    static func json(_ text: String) throws -> [String: JSONValue] {
        try #require(try JSONParser.parse(text).objectValue)
    }

    /// The physical collections where the store's vectors live (the store, or its Qdrant server), sorted.
    static func physical(_ store: String) throws -> [String] {
        if let remote = try BackendMatrix.vectors(for: store) { return try remote.collections().map(\.name).sorted() }
        let r = try CLI.run(["store", "collections", "list", "--store", store, "--json"])
        return try json(r.stdout)["collections"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue }.sorted() ?? []
    }

    /// A JSON Lines corpus of `count` short records of varied (made-up) words.
    static func corpus(_ dir: TemporaryDirectory, count: Int = 400) throws -> String {
        var rng = SplitMix64(seed: 7)
        var lines: [String] = []
        for i in 0..<count {
            let text = (0..<12).map { _ in "w\(rng.nextInt(below: 3000))" }.joined(separator: " ") + " record \(i)"
            lines.append(#"{"id": "r\#(i)", "text": "\#(text)"}"#)
        }
        let path = dir.appending("corpus.jsonl")
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Readers searching through the alias until stopped: counts, errors, empty results, generations seen.
    final class Readers: Sendable {
        struct Tally: Sendable {
            var reads = 0
            var errors: [String] = []
            var empty = 0
            var mixed = 0
            var generations = Set<String>()
        }
        let tally = Locked(Tally())
        let stop = Atomic<Bool>(false)
        let finished = Atomic<Int>(0)

        func start(_ count: Int, store: String, collection: String, queries: [String]) throws {
            let s = try Store.open(at: store)
            let service = try ReindexService(manager: try CollectionManager(store: s, vectors: try BackendMatrix.vectors(for: store)))
            for r in 0..<count {
                let t = Thread { [self] in
                    var i = r
                    while !stop.load(ordering: .relaxed) {
                        let q = queries[i % queries.count]
                        i += count
                        do {
                            let (physical, hits) = try service.search(collection, text: q, limit: 10)
                            let gens = Set(hits.compactMap { $0.payload?["generation"]?.stringValue })
                            tally.withLock { t in
                                t.reads += 1
                                if hits.isEmpty { t.empty += 1 }
                                if gens != [physical] { t.mixed += 1 }
                                t.generations.insert(physical)
                            }
                        } catch {
                            tally.withLock { $0.errors.append("\(error)") }
                        }
                    }
                    finished.add(1, ordering: .relaxed)
                }
                t.start()
            }
        }

        func finish(_ count: Int) -> Tally {
            stop.store(true, ordering: .relaxed)
            while finished.load(ordering: .relaxed) < count { Thread.sleep(forTimeInterval: 0.01) }
            return tally.withLock { $0 }
        }
    }

    /// hash-v1 (256-d) → hash-v2 (384-d) on the bundled dataset while 4 readers search through the
    /// alias: validation passes on the labels, the alias switches, readers never fail or see a mix.
    @Test func zeroDowntimeDimensionChangeWithReaders() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let index = try CLI.run(["index", "--store", store, "--collection", "defs", "--source", Self.wordnet, "--embedder", "hash-v1"])
            #expect(index.status == 0, "\(index.stderr)")
            let queries = try String(contentsOfFile: Self.wordnet + "/queries.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
                try? JSONParser.parse(String($0)).objectValue?["text"]?.stringValue
            }
            let readers = Readers()
            try readers.start(4, store: store, collection: "defs", queries: queries)
            Thread.sleep(forTimeInterval: 0.3)
            let report = dir.appending("report.html")
            let r = try CLI.run(["reindex", "--store", store, "--collection", "defs", "--embedder", "hash-v2",
                                 "--queries", Self.wordnet + "/queries.jsonl", "--qrels", Self.wordnet + "/qrels/test.tsv",
                                 "--grace-seconds", "0", "--keep-generations", "0", "--report", report, "--json"])
            Thread.sleep(forTimeInterval: 0.3)
            let t = readers.finish(4)
            #expect(r.status == 0, "\(r.stderr)")
            print("zero-downtime reindex: \(t.reads) reads by 4 readers, \(t.errors.count) errors, \(t.empty) empty, generations \(t.generations.sorted())")
            #expect(t.errors.isEmpty, "\(t.errors.prefix(3))")
            #expect(t.empty == 0 && t.mixed == 0)
            #expect(t.generations.count == 2, "readers saw both generations: \(t.generations)")
            #expect(t.reads > 100)
            let op = try Self.json(r.stdout)
            #expect(op["status"] == "completed")
            let checks = op["checkpoint"]?.objectValue?["validation"]?.objectValue?["checks"]?.arrayValue ?? []
            #expect(checks.contains { $0.objectValue?["name"] == "ndcg_drop" && $0.objectValue?["verdict"] == "pass" })
            let show = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "defs", "--json"]).stdout)
            #expect(show["embedder"] == "hash-v2" && show["dimension"] == .int(384) && show["status"] == "ready")
            // keep-generations 0: the old generation is gone, only the serving one is left.
            let names = try Self.physical(store)
            #expect(names == [show["vector_store_name"]?.stringValue ?? "?"])
            try Self.checkHTML(report, charts: 5)  // overlap@k, overlap@5, top-1 scores, nDCG change, nDCG scatter
        }
    }

    /// The HTML report is one self-contained page whose charts are well-formed SVG.
    static func checkHTML(_ path: String, charts: Int) throws {
        let html = try String(contentsOfFile: path, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("</html>"))
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("<script"))
        var svgs = 0
        var rest = Substring(html)
        while let a = rest.range(of: "<svg"), let b = rest.range(of: "</svg>", range: a.upperBound..<rest.endIndex) {
            let svg = String(rest[a.lowerBound..<b.upperBound])
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "malformed SVG: \(parser.parserError.map { "\($0)" } ?? "")")
            svgs += 1
            rest = rest[b.upperBound...]
        }
        #expect(svgs == charts)
    }

    /// A rollback step that fails leaves a trace: an error on stderr and a `cleanup_failed` audit row
    /// naming the staging collection left behind; housekeeping removes it later.
    @Test func aFailedStagingDropIsLoggedAndAudited() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = Self.root + "/Datasets/fixtures/mini-beir"
            let index = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", mini, "--embedder", "hash-v1"])
            #expect(index.status == 0, "\(index.stderr)")
            let r = try CLI.run(["reindex", "--store", store, "--collection", "docs", "--embedder", "hash-v2", "--max-retries", "0"],
                                environment: ["SWITCHYARD_FAULTS": "reindex.reprocessing=invalid,reindex.rollback.drop=transient"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("cleanup step failed"), "\(r.stderr)")
            let audit = try CLI.run(["audit", "--store", store, "--collection", "docs", "--json"])
            #expect(audit.status == 0)
            let entries = try #require(try Self.json(audit.stdout)["entries"]?.arrayValue)
            let failed = entries.compactMap(\.objectValue).first { $0["action"] == "cleanup_failed" }
            let step = try #require(failed?["details"]?.objectValue?["step"]?.stringValue)
            #expect(step.contains("dropping staging collection staging_col_"), "\(step)")
            // The old collection still serves; a later worker's housekeeping removes the leftover staging.
            let worker = try CLI.run(["worker", "--store", store, "--until-idle", "--staging-min-age", "0"])
            #expect(worker.status == 0, "\(worker.stderr)")
            let left = try Self.physical(store)
            #expect(!left.contains { $0.hasPrefix("staging_") }, "\(left)")
        }
    }

    static let crashPoints = ["reindex.preflight", "reindex.staging", "reindex.batch", "reindex.reprocessing",
                              "reindex.validation", "reindex.switch.intent", "reindex.switch.flip", "reindex.switch", "reindex.cleanup"]

    /// SIGKILL at every checkpoint boundary and in the middle of reprocessing; a new worker resumes and
    /// completes. Afterwards: the alias serves a complete, validated collection, no staging collection
    /// is left, the reservation is released, the final status is written, the audit log tells the story.
    @Test(arguments: crashPoints)
    func crashAtCheckpointThenResume(_ point: String) throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try Self.corpus(dir)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let q = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--no-wait", "--json"])
            #expect(q.status == 0, "\(q.stderr)")
            let opID = try #require(try Self.json(q.stdout)["id"]?.stringValue)
            let common = ["--store", store, "--until-idle", "--lease-seconds", "1", "--grace-seconds", "0", "--staging-min-age", "0"]
            let fault = point == "reindex.batch" ? "\(point)=crash@2" : "\(point)=crash@1"
            let first = try CLI.start(["worker"] + common, outputFile: dir.appending("w1.out"), errorFile: dir.appending("w1.err"),
                                      environment: ["SWITCHYARD_FAULTS": fault])
            first.waitUntilExit()
            #expect(first.terminationReason == .uncaughtSignal, "the first worker was to die at \(point)")
            let second = try CLI.run(["worker"] + common)
            #expect(second.status == 0, "\(second.stderr)")
            try Self.expectCompleted(store: store, opID: opID, attempts: 2)
        }
    }

    static func expectCompleted(store: String, opID: String, attempts: Int) throws {
        let op = try Self.json(try CLI.run(["ops", "show", opID, "--store", store, "--json"]).stdout)
        #expect(op["status"] == "completed")
        #expect(op["attempts"] == .int(Int64(attempts)))
        #expect(op["checkpoint"]?.objectValue?["stage"] == "cleanup")
        let s = try Store.open(at: store)
        defer { try? s.close() }
        let manager = try CollectionManager(store: s, vectors: try BackendMatrix.vectors(for: store))
        let c = try manager.collection(named: "c")
        #expect(c.status == .ready && c.embedder == "hash-v2")
        #expect(try manager.vectors.resolve("c") == c.vectorStoreName)
        #expect(try manager.vectors.count("c", filter: nil) == c.vectorCount && c.vectorCount == 400)
        // Only the serving generation and the kept old one (keep 1): no staging collection orphaned.
        let names = Set(try manager.vectors.collections().map(\.name))
        #expect(names.count == 2 && names.contains(c.vectorStoreName))
        #expect(try manager.reservations().isEmpty)
        let actions = try manager.audit(collection: "c").map(\.action)
        #expect(actions.filter { $0 == "collection_reindexed" }.count == 1)
        #expect(!actions.contains("reindex_failed"))
    }

    /// With no attempt left, recovery fails the interrupted reindex and rolls it back: the old
    /// collection serves, staging is dropped, the reservation released.
    @Test func crashWithoutAttemptsLeftRollsBack() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try Self.corpus(dir)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let before = try Self.physical(store)
            let q = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--no-wait", "--json"])
            let opID = try #require(try Self.json(q.stdout)["id"]?.stringValue)
            let common = ["--store", store, "--until-idle", "--lease-seconds", "1", "--max-retries", "0", "--staging-min-age", "0"]
            let first = try CLI.start(["worker"] + common, outputFile: dir.appending("w1.out"), environment: ["SWITCHYARD_FAULTS": "reindex.batch=crash@2"])
            first.waitUntilExit()
            let second = try CLI.run(["worker"] + common)
            #expect(second.status == 0, "\(second.stderr)")
            let op = try Self.json(try CLI.run(["ops", "show", opID, "--store", store, "--json"]).stdout)
            #expect(op["status"] == "failed")
            #expect(op["error"]?.stringValue?.contains("worker lost") == true)
            #expect(try Self.physical(store) == before)
            let show = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(show["status"] == "ready" && show["embedder"] == "hash-v1")
            // Bound first: `#expect((a ?? "").contains(b))` expands so that the Boolean is dropped.
            let statusMessage = show["status_message"]?.stringValue ?? ""
            #expect(statusMessage.contains("still serving"), "\(statusMessage)")
            let limits = try Self.json(try CLI.run(["limits", "show", "--store", store, "--json"]).stdout)
            #expect(limits["reservations"] == .array([]))
            let audit = try CLI.run(["audit", "--store", store, "--collection", "c"]).stdout
            #expect(audit.contains("reindex_failed"))
        }
    }

    /// A worker lost after the switch with no attempt left: the reindex still counts as done (the new
    /// collection serves), not as failed.
    @Test func crashAfterTheSwitchWithoutAttemptsLeftStillCompletes() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try Self.corpus(dir)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let q = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--no-wait", "--json"])
            let opID = try #require(try Self.json(q.stdout)["id"]?.stringValue)
            let common = ["--store", store, "--until-idle", "--lease-seconds", "1", "--max-retries", "0", "--grace-seconds", "0"]
            let first = try CLI.start(["worker"] + common, outputFile: dir.appending("w1.out"), environment: ["SWITCHYARD_FAULTS": "reindex.switch=crash@1"])
            first.waitUntilExit()
            #expect(try CLI.run(["worker"] + common).status == 0)
            let op = try Self.json(try CLI.run(["ops", "show", opID, "--store", store, "--json"]).stdout)
            #expect(op["status"] == "completed")
            #expect(op["result"]?.objectValue?["after_switch"]?.stringValue?.contains("worker lost") == true)
            let show = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(show["embedder"] == "hash-v2" && show["status"] == "ready")
            let audit = try CLI.run(["audit", "--store", store, "--collection", "c"]).stdout
            #expect(audit.contains("collection_reindexed") && !audit.contains("reindex_failed"))
            let limits = try Self.json(try CLI.run(["limits", "show", "--store", store, "--json"]).stdout)
            #expect(limits["reservations"] == .array([]))
        }
    }

    /// A deliberately poor embedder is rejected on the labels; the old collection serves throughout and
    /// the report names the failing threshold.
    @Test func poorEmbedderIsRejected() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            #expect(try CLI.run(["index", "--store", store, "--collection", "defs", "--source", Self.wordnet, "--embedder", "hash-v2"]).status == 0)
            let before = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "defs", "--json"]).stdout)
            let report = dir.appending("report.md")
            let r = try CLI.run(["reindex", "--store", store, "--collection", "defs", "--embedder", "hash:dim=8",
                                 "--queries", Self.wordnet + "/queries.jsonl", "--qrels", Self.wordnet + "/qrels/test.tsv",
                                 "--report", report])
            #expect(r.status == 1)
            #expect(r.stderr.contains("validation rejected the new collection: ndcg_drop"), "\(r.stderr)")
            #expect(r.stdout.contains("FAIL  ndcg_drop"))
            let md = try String(contentsOfFile: report, encoding: .utf8)
            #expect(md.contains("REJECTED") && md.contains("ndcg_drop"))
            let after = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "defs", "--json"]).stdout)
            #expect(after["vector_store_name"] == before["vector_store_name"] && after["embedder"] == "hash-v2" && after["status"] == "ready")
            let names = try Self.physical(store)
            #expect(!names.contains { $0.hasPrefix("staging_") }, "\(names)")
        }
    }

    /// After a successful reindex, rollback restores the previous generation in one step (readers keep
    /// working), and rolling back again returns to the new one.
    @Test func rollbackRestoresThePreviousGeneration() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try Self.corpus(dir)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let v1 = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--chunk-size", "6", "--chunk-overlap", "2",
                                 "--grace-seconds", "0"]).status == 0)
            let v2 = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(v2["chunk_size"] == .int(6) && (v2["vector_count"]?.numberValue ?? 0) > 400)
            let readers = Readers()
            try readers.start(4, store: store, collection: "c", queries: ["w1 w2 w3", "w100 w2000", "record 7", "w42 w43 w44 w45"])
            Thread.sleep(forTimeInterval: 0.2)
            let r = try CLI.run(["rollback", "--store", store, "--collection", "c", "--json"])
            Thread.sleep(forTimeInterval: 0.2)
            let t = readers.finish(4)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(t.errors.isEmpty && t.empty == 0 && t.mixed == 0, "\(t.errors.prefix(3))")
            let back = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(back["vector_store_name"] == v1["vector_store_name"] && back["embedder"] == "hash-v1")
            #expect(back["vector_count"] == v1["vector_count"] && back["chunk_size"] == v1["chunk_size"])
            let search = try CLI.run(["search", "--store", store, "--collection", "c", "--text", "w1 w2 w3", "--json"])
            #expect(try Self.json(search.stdout)["collection"] == v1["vector_store_name"])
            #expect(try CLI.run(["audit", "--store", store, "--collection", "c"]).stdout.contains("reindex_rolled_back"))
            // And forward again: the reindexed generation was kept in turn, with its validation report.
            let again = try Self.json(try CLI.run(["rollback", "--store", store, "--collection", "c", "--json"]).stdout)
            #expect(again["serving"] == v2["vector_store_name"])
            #expect(again["validation"]?.objectValue?["passed"] == .bool(true))
        }
    }

    /// `compare` on two generations writes the three report formats.
    @Test func compareWritesReports() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try Self.corpus(dir)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let old = try Self.json(try CLI.run(["collections", "show", "--store", store, "--collection", "c", "--json"]).stdout)["vector_store_name"]!.stringValue!
            #expect(try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--grace-seconds", "0"]).status == 0)
            for ext in ["json", "md", "html"] {
                let path = dir.appending("cmp.\(ext)")
                let r = try CLI.run(["compare", "--store", store, "--old", old, "--new", "c", "--report", path])
                #expect(r.status == 0, "\(r.stderr)")
                #expect(FileManager.default.fileExists(atPath: path))
            }
            let j = try Self.json(try String(contentsOfFile: dir.appending("cmp.json"), encoding: .utf8))
            #expect(j["old"]?.objectValue?["embedder"] == "hash-v1" && j["new"]?.objectValue?["embedder"] == "hash-v2")
            #expect(j["same_embedder"] == .bool(false))
            #expect((j["per_query"]?.arrayValue?.count ?? 0) >= 10)
            try Self.checkHTML(dir.appending("cmp.html"), charts: 3)  // no labels: no nDCG charts
            // A failed check: the report is still written and printed, and the exit status is 1.
            let strict = dir.appending("strict.json")
            let failed = try CLI.run(["compare", "--store", store, "--old", old, "--new", "c", "--threshold", "min_self_recall=1.5",
                                      "--report", strict, "--json"])
            #expect(failed.status == 1, "\(failed.stderr)")
            #expect(failed.stderr.contains("comparison failed: self_recall"), "\(failed.stderr)")
            #expect(try Self.json(failed.stdout)["passed"] == .bool(false))
            #expect(try Self.json(try String(contentsOfFile: strict, encoding: .utf8))["passed"] == .bool(false))
        }
    }
}

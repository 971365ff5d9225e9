import Foundation
import Operations
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("The operations engine through the CLI, with real processes")
struct OperationsCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let wordnet = root + "/Datasets/wordnet-defs"
    static let mini = root + "/Datasets/fixtures/mini-beir"

    static func json(_ text: String) throws -> [String: JSONValue] {
        try #require(try JSONParser.parse(text).objectValue)
    }

    static func operation(_ store: String, _ id: String) throws -> [String: JSONValue] {
        let r = try CLI.run(["ops", "show", id, "--store", store, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try json(r.stdout)
    }

    /// A worker killed with SIGKILL in the middle of an APPEND of the bundled dataset; a second worker
    /// takes the operation over when the lease expires and completes it exactly.
    @Test func killedWorkerMidAppendIsTakenOverAfterItsLease() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let created = try CLI.run(["index", "--store", store, "--collection", "defs", "--source", Self.mini, "--embedder", "hash-v2"])
            #expect(created.status == 0, "\(created.stderr)")
            let queued = try CLI.run(["append", "--store", store, "--collection", "defs", "--source", Self.wordnet, "--no-wait", "--json"])
            #expect(queued.status == 0, "\(queued.stderr)")
            let opID = try #require(try Self.json(queued.stdout)["id"]?.stringValue)

            // The first worker is slowed down so that the kill lands mid-way.
            let first = try CLI.start(["worker", "--store", store, "--until-idle", "--lease-seconds", "1"],
                                      outputFile: dir.appending("w1.out"), errorFile: dir.appending("w1.err"),
                                      environment: ["SWITCHYARD_FAULTS": "ingest.batch=sleep:0.03"])
            var done = 0
            let deadline = Date().addingTimeInterval(120)
            while done < 1500 && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.05)
                done = Int(try Self.operation(store, opID)["progress"]?.objectValue?["done"]?.numberValue ?? 0)
            }
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
            #expect(first.terminationReason == .uncaughtSignal)
            let mid = try Self.operation(store, opID)
            #expect(mid["status"] == "processing")
            let midDone = Int(mid["progress"]?.objectValue?["done"]?.numberValue ?? 0)
            #expect(midDone >= 1500 && midDone < 6000, "killed at \(midDone) of 6000")

            let second = try CLI.run(["worker", "--store", store, "--until-idle", "--lease-seconds", "1"])
            #expect(second.status == 0, "\(second.stderr)")
            let final = try Self.operation(store, opID)
            #expect(final["status"] == "completed")
            #expect(final["attempts"] == .int(2))
            // The second attempt skips what the first finished and resumes the rest.
            let result = try #require(final["result"]?.objectValue)
            let unchanged = Int(result["documents_unchanged"]?.numberValue ?? -1)
            let resumed = Int(result["documents_resumed"]?.numberValue ?? -1)
            #expect(unchanged >= 1500 && unchanged + resumed == 6000, "\(result)")

            // Exactly the expected points: every chunk of every completed document, nothing else.
            let s = try Store.open(at: store)
            defer { try? s.close() }
            let manager = try CollectionManager(store: s, vectors: try BackendMatrix.vectors(for: store))
            let docs = try manager.documents(of: "defs")
            #expect(docs.allSatisfy { $0.status == .completed })
            let miniDocs = try JSONLinesCount.lines(Self.mini + "/corpus.jsonl")
            #expect(docs.count == 6000 + miniDocs)
            var expected = Set<PointID>()
            for d in docs { for i in 0..<d.chunkCount { expected.insert(PointLayout.pointID(documentID: d.id, chunkIndex: i)) } }
            var seen = Set<PointID>()
            var offset: PointID?
            repeat {
                let page = try manager.vectors.scroll("defs", filter: nil, limit: 1000, offset: offset, withVector: false, withPayload: false)
                for r in page.points { #expect(seen.insert(r.id).inserted) }
                offset = page.nextPageOffset
            } while offset != nil
            #expect(seen == expected)
            let c = try manager.collection(named: "defs")
            #expect(c.status == .ready && c.vectorCount == expected.count && c.documentCount == docs.count)
            // One audit trail: created, alias, indexed, the takeover by the second worker, one append (no failure).
            let audit = try manager.audit(collection: "defs")
            #expect(audit.map(\.action) == ["collection_created", "alias_switched", "collection_indexed", "attempt_taken_over", "documents_appended"])
            let takeover = try #require(audit.first { $0.action == "attempt_taken_over" })
            #expect(takeover.details["attempt"] == 2 && takeover.operationID == opID)
            #expect(takeover.details["previous_task"]?.stringValue != nil)
            let metrics = try manager.metrics(of: opID)
            #expect(metrics.contains { $0.attempt == 2 && $0.name == "success" && $0.value == 1 })
        }
    }

    /// Two worker processes started together on a queue of operations: each operation runs once.
    @Test func twoWorkerProcessesShareTheQueue() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            var ids: [String] = []
            for i in 0..<6 {
                let src = dir.appending("src\(i)")
                try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
                for j in 0..<40 { try "collection \(i) file \(j) words \(i * j)".write(toFile: "\(src)/f\(j).txt", atomically: true, encoding: .utf8) }
                let r = try CLI.run(["collections", "create", "--store", store, "--collection", "c\(i)", "--source", src,
                                     "--embedder", "hash-v1", "--no-wait", "--json"])
                #expect(r.status == 0, "\(r.stderr)")
                ids.append(try #require(try Self.json(r.stdout)["id"]?.stringValue))
            }
            let a = try CLI.start(["worker", "--store", store, "--until-idle"], outputFile: dir.appending("a.out"))
            let b = try CLI.start(["worker", "--store", store, "--until-idle"], outputFile: dir.appending("b.out"))
            a.waitUntilExit()
            b.waitUntilExit()
            #expect(a.terminationStatus == 0 && b.terminationStatus == 0)
            for id in ids {
                let op = try Self.operation(store, id)
                #expect(op["status"] == "completed")
                #expect(op["attempts"] == .int(1))
            }
            let outputs = try [dir.appending("a.out"), dir.appending("b.out")].map { try String(contentsOfFile: $0, encoding: .utf8) }
            let counts = outputs.map { out -> Int in
                guard let r = out.range(of: #"completed (\d+)"#, options: .regularExpression) else { return 0 }
                return Int(out[r].split(separator: " ")[1]) ?? 0
            }
            #expect(counts.reduce(0, +) == 6, "\(outputs)")
        }
    }

    /// A snapshot of everything a user can see of the managed layer.
    static func snapshot(_ store: String) throws -> String {
        var parts: [String] = []
        for args in [["collections", "list", "--json"], ["ops", "list", "--json"], ["audit", "--collection", "docs", "--json"],
                     ["limits", "show", "--owner", "default", "--json"], ["store", "collections", "list", "--json"]] {
            let r = try CLI.run(args + ["--store", store])
            parts.append(r.stdout)
        }
        return parts.joined(separator: "\n")
    }

    @Test("bad requests exit 2 with a message naming the problem, and nothing changes", arguments: [
        (["append", "--collection", "nope", "--source", "MINI"], "no managed collection named 'nope'"),
        (["append", "--collection", "docs", "--source", "/does/not/exist"], "/does/not/exist"),
        (["append", "--collection", "docs", "--source", "MINI", "--embedder", "hash-v1"], "configured differently: --embedder hash-v1"),
        (["index", "--collection", "docs", "--source", "MINI"], "it is indexed already"),
        (["index", "--collection", "new", "--source", "MINI", "--embedder", "hash:dim=0"], "invalid embedder"),
        (["index", "--collection", "new", "--source", "MINI", "--chunk-size", "0"], "chunk size must be positive"),
        (["index", "--collection", "new", "--source", "MINI", "--distance", "Hamming"], "unknown distance"),
        (["index", "--collection", "bad name!", "--source", "MINI"], "invalid collection name"),
        (["index", "--collection", "new"], "at least one --source"),
        (["collections", "create", "--collection", "docs", "--source", "MINI"], "already exists"),
        (["remove-source", "--collection", "docs", "--source", "/elsewhere"], "is not registered on collection 'docs'"),
        (["ops", "show", "00000000-0000-0000-0000-000000000000"], "no operation with id"),
        (["ops", "cancel", "FIRSTOP"], "only pending or processing operations can be cancelled"),
        (["ops", "list", "--status", "finished"], "unknown status 'finished'"),
        (["limits", "set", "--max-documents=-5"], "max_documents must not be negative"),
        (["limits", "set"], "needs at least one of"),
        (["worker", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["worker", "--until-idle", "--lease-seconds", "0"], "--lease-seconds"),
        (["collections", "show", "--collection", "nope"], "no managed collection named 'nope'"),
        (["index", "--collection", "new", "--source", "MINI", "--lease-seconds", "0"], "--lease-seconds"),
        (["append", "--collection", "docs", "--source", "MINI", "--max-retries", "5000"], "--max-retries"),
        (["remove-source", "--collection", "docs", "--source", "MINI", "--hard-time-limit", "1e300"], "--hard-time-limit"),
        (["reindex", "--collection", "docs", "--threshold", "bogus=1"], "unknown threshold 'bogus'"),
        (["reindex", "--collection", "docs", "--report", "/tmp/x.pdf"], "must end in .json, .md or .html"),
        (["reindex", "--collection", "docs", "--qrels", "MINI/qrels/test.tsv"], "need a queries file"),
        (["rollback", "--collection", "docs"], "no kept generation"),
        (["compare", "--old", "docs", "--new", "nope"], "nope"),
        (["search", "--collection", "docs"], "exactly one of --text and --vector-file"),
    ] as [([String], String)])
    func badRequests(args: [String], message: String) throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let setup = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini, "--embedder", "hash-v2", "--json"])
            #expect(setup.status == 0, "\(setup.stderr)")
            let first = try #require(try Self.json(setup.stdout)["id"]?.stringValue)
            let before = try Self.snapshot(store)
            let full = args.map { $0.replacingOccurrences(of: "MINI", with: Self.mini).replacingOccurrences(of: "FIRSTOP", with: first) } + ["--store", store]
            let r = try CLI.run(full)
            #expect(r.status == 2, "\(full): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains(message), "\(full): \(r.stderr)")
            #expect(try Self.snapshot(store) == before)
        }
    }

    @Test func commandsNeverCreateAStoreByMistake() throws {
        try withTemporaryDirectory { dir in
            let typo = dir.appending("typo")
            for args in [["worker", "--until-idle"], ["ops", "list"], ["collections", "list"], ["audit", "--collection", "x"]] {
                let r = try CLI.run(args + ["--store", typo])
                #expect(r.status == 2 && r.stderr.contains("no store at"), "\(args): \(r.stderr)")
            }
            let bad = try CLI.run(["index", "--store", typo, "--collection", "x", "--source", "/does/not/exist"])
            #expect(bad.status == 2)
            #expect(!FileManager.default.fileExists(atPath: typo))
        }
    }

    @Test func quotaRefusalAndMalformedFaultsExitTwo() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let set = try CLI.run(["limits", "set", "--store", store, "--owner", "default", "--max-collections", "0"])
            #expect(set.status == 0, "\(set.stderr)")
            let r = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini, "--user", "default"])
            #expect(r.status == 2)
            #expect(r.stderr.contains("quota exceeded for owner 'default': max_collections is 0, 0 in use"))
            let f = try CLI.run(["worker", "--store", store, "--until-idle"], environment: ["SWITCHYARD_FAULTS": "nonsense"])
            #expect(f.status == 2 && f.stderr.contains("SWITCHYARD_FAULTS: malformed entry 'nonsense'"))
        }
    }

    @Test func aFailedOperationExitsOneAndSaysWhy() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let r = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", Self.mini, "--max-retries", "0"],
                                environment: ["SWITCHYARD_FAULTS": "ingest.embed=transient"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("failed after 1 attempts: injected transient fault"), "\(r.stderr)")
            let show = try CLI.run(["collections", "show", "--store", store, "--collection", "docs", "--json"])
            #expect(try Self.json(show.stdout)["status"] == "error")
        }
    }
}

enum JSONLinesCount {
    static func lines(_ path: String) throws -> Int {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
    }
}

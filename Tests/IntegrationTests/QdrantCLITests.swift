import Foundation
import Operations
import QdrantBackend
import Reindex
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

/// The managed commands with their vectors in a `switchyard serve` process over Qdrant's REST API: refusals
/// before anything is written, and the switch, rollback and cleanup across the two systems with the server
/// stopped or the client killed between their steps (docs/reindex.md, "The switch across two systems").
@Suite("Managed commands against a Qdrant server", .serialized)
struct QdrantCLITests {
    /// A server of its own, the store's records, and the options that point the CLI at that server with short
    /// timeouts (a stopped server fails fast).
    struct Setup {
        let dir: TemporaryDirectory
        let server: ServeProcess
        let store: String
        let source: String
        var qdrant: [String] { ["--qdrant-url", server.url, "--qdrant-timeout", "1", "--qdrant-retries", "1"] }

        init(_ dir: TemporaryDirectory) throws {
            self.dir = dir
            server = try ServeProcess()
            store = dir.appending("store")
            source = try ReindexCLITests.corpus(dir, count: 200)
        }

        func run(_ args: [String], faults: String? = nil) throws -> CLI.Result {
            try CLI.run(args + ["--store", store] + qdrant, environment: faults.map { ["SWITCHYARD_FAULTS": $0] } ?? [:])
        }

        func start(_ args: [String], name: String, faults: String) throws -> Process {
            try CLI.start(args + ["--store", store] + qdrant, outputFile: dir.appending("\(name).out"), errorFile: dir.appending("\(name).err"),
                          environment: ["SWITCHYARD_FAULTS": faults])
        }

        func client() throws -> QdrantBackend { try QdrantBackend(.init(url: server.url)) }

        /// Indexes the source into `c` with hash-v1; returns the serving collection.
        @discardableResult
        func index() throws -> String {
            let r = try run(["index", "--collection", "c", "--source", source, "--embedder", "hash-v1"])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try show()["vector_store_name"]?.stringValue)
        }

        /// Reindexes `c` to `embedder`; returns the new serving collection.
        @discardableResult
        func reindex(to embedder: String, _ extra: [String] = []) throws -> String {
            let r = try run(["reindex", "--collection", "c", "--embedder", embedder, "--grace-seconds", "0"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try show()["vector_store_name"]?.stringValue)
        }

        /// The records, read with the library (as another process).
        func records<T>(_ body: (CollectionManager) throws -> T) throws -> T {
            let s = try Store.open(at: store)
            defer { try? s.close() }
            return try body(try CollectionManager(store: s, vectors: try client()))
        }

        func show() throws -> [String: JSONValue] {
            try ReindexCLITests.json(try run(["collections", "show", "--collection", "c", "--json"]).stdout)
        }

        /// Waits until `condition` holds (checked every 20 ms, for at most 60 s).
        func wait(_ what: String, _ condition: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if try condition() { return }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw ServeProcessError(message: "timed out waiting for \(what)")
        }
    }

    @Test("bad Qdrant options and an unreachable server are refused before the store is touched")
    func refusals() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try ReindexCLITests.corpus(dir, count: 20)
            let base = ["index", "--store", store, "--collection", "c", "--source", source]
            let noEnvironment = ["SWITCHYARD_QDRANT_URL": ""]
            for (args, status, message) in [
                (["--qdrant-url", "localhost:6333"], Int32(2), "expected http://HOST:PORT"),
                (["--qdrant-url", "http://127.0.0.1:1", "--qdrant-collection-options", #"{"shard_number": 2}"#], 2, "shard_number"),
                (["--qdrant-url", "http://127.0.0.1:1", "--qdrant-collection-options", "[1]"], 2, "must be a JSON object"),
                (["--qdrant-url", "http://127.0.0.1:1", "--qdrant-timeout", "0"], 2, "--qdrant-timeout"),
                (["--qdrant-api-key", "k"], 2, "need --qdrant-url"),
                (["--qdrant-url", "http://127.0.0.1:1", "--qdrant-timeout", "0.5", "--qdrant-retries", "0"], 1, "cannot use the Qdrant server at http://127.0.0.1:1"),
            ] {
                let r = try CLI.run(base + args, environment: noEnvironment)
                #expect(r.status == status, "\(args): \(r.stderr)")
                #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
                #expect(!FileManager.default.fileExists(atPath: store), "\(args) created the store")
            }
            let server = try ServeProcess(arguments: ["--api-key", "s3cret"])
            let denied = try CLI.run(base + ["--qdrant-url", server.url, "--qdrant-api-key", "wrong"], environment: noEnvironment)
            #expect(denied.status == 2 && denied.stderr.contains("check the API key"), "\(denied.stderr)")
            #expect(!FileManager.default.fileExists(atPath: store))
            server.stop()
        }
    }

    @Test("a collection is refused by commands pointed at the other backend, with nothing queued")
    func backendMismatch() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            try s.index()
            let local = ["--store", s.store]
            for args in [["append", "--collection", "c", "--source", s.source], ["reindex", "--collection", "c", "--embedder", "hash-v2"],
                         ["rollback", "--collection", "c"], ["remove-source", "--collection", "c", "--source", s.source],
                         ["search", "--collection", "c", "--text", "w1"], ["collections", "delete", "--collection", "c"]] {
                let r = try CLI.run(args + local, environment: ["SWITCHYARD_QDRANT_URL": ""])
                #expect(r.status == 2, "\(args): \(r.stderr)")
                #expect(r.stderr.contains("collection 'c' lives on qdrant \(s.server.url)") && r.stderr.contains("give --qdrant-url \(s.server.url)"),
                        "\(args): \(r.stderr)")
            }
            let ops = try s.records { try $0.operations(collection: "c", status: nil, limit: 100) }
            #expect(ops.count == 1, "only the INDEX was queued")
            s.server.stop()
        }
    }

    /// A search through the reindex service remembers that a name is a managed collection on its backend, and
    /// so skips that read on later searches. When the collection is deleted and made again on the Qdrant server,
    /// the next search in the same process must still say where it lives, not that the name is unknown.
    @Test("a search after the collection moved to the other backend says where it lives")
    func backendCheckAfterTheCollectionMoved() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let local = ["--store", s.store]
            let noEnvironment = ["SWITCHYARD_QDRANT_URL": ""]
            let made = try CLI.run(["index", "--collection", "c", "--source", s.source, "--embedder", "hash-v1"] + local, environment: noEnvironment)
            #expect(made.status == 0, "\(made.stderr)")
            let store = try Store.open(at: s.store)
            defer { try? store.close() }
            let service = try ReindexService(manager: try CollectionManager(store: store))
            #expect(try !service.search("c", text: "record w1", limit: 3).hits.isEmpty)
            let deleted = try CLI.run(["collections", "delete", "--collection", "c"] + local, environment: noEnvironment)
            #expect(deleted.status == 0, "\(deleted.stderr)")
            try s.index()
            #expect {
                _ = try service.search("c", text: "record w1", limit: 3)
            } throws: { error in
                "\(error)".contains("collection 'c' lives on qdrant \(s.server.url)")
            }
            s.server.stop()
        }
    }

    /// A server that answers 503 to a fifth of the calls (a third of those after running them) and takes 20 ms
    /// over each: INDEX, APPEND, REINDEX, a rollback and DELETE all complete, and the points are exactly the
    /// completed documents' chunks throughout.
    @Test("an unreliable, slow server: every operation completes and no point is lost or duplicated")
    func unreliableServer() throws {
        try withTemporaryDirectory { dir in
            let server = try ServeProcess(arguments: ["--fault-unavailable", "0.15", "--fault-lost-answer", "0.05", "--fault-delay-ms", "20"])
            let store = dir.appending("store")
            let q = ["--store", store, "--qdrant-url", server.url, "--qdrant-retries", "12"]
            let retry = ["--retry-delay", "0.1"]
            let first = try ReindexCLITests.corpus(dir, count: 120)
            let more = dir.appending("more.jsonl")
            try (0..<40).map { #"{"id": "m\#($0)", "text": "another record \#($0) w\#($0 * 7) w\#($0 * 11)"}"# }.joined(separator: "\n")
                .write(toFile: more, atomically: true, encoding: .utf8)
            for (step, args) in [["index", "--collection", "c", "--source", first, "--embedder", "hash-v1"] + retry,
                         ["append", "--collection", "c", "--source", more] + retry,
                         ["reindex", "--collection", "c", "--embedder", "hash-v2", "--grace-seconds", "0"] + retry, ["rollback", "--collection", "c"]]
                .enumerated() {
                let r = try CLI.run(args + q)
                #expect(r.status == 0, "\(args[0]): \(r.stderr)")
                let s = try Store.open(at: store)
                let manager = try CollectionManager(store: s, vectors: try QdrantBackend(.init(url: server.url)))
                let c = try manager.collection(named: "c")
                let docs = try manager.documents(of: "c", status: .completed)
                // Counted on the server through a client without faults in its way: retries until it gets an answer.
                var count = -1
                for _ in 0..<50 where count < 0 { count = (try? manager.vectors.count("c", filter: nil)) ?? -1 }
                #expect(count == c.vectorCount && docs.reduce(0) { $0 + $1.chunkCount } == count, "after \(args[0])")
                #expect(docs.count == (step == 0 ? 120 : 160))
                try s.close()
            }
            let ops = try ReindexCLITests.json(try CLI.run(["ops", "list", "--json"] + q).stdout)
            let statuses = ops["operations"]?.arrayValue?.compactMap { $0.objectValue?["status"]?.stringValue } ?? []
            #expect(statuses == ["completed", "completed", "completed"], "\(statuses)")
            let gone = try CLI.run(["collections", "delete", "--collection", "c"] + q + retry)
            #expect(gone.status == 0, "\(gone.stderr)")
            server.stop()
        }
    }

    /// The server goes away after the switch's intent is recorded, before the alias moves: the reindex fails
    /// with nothing flipped, staging is kept (its alias state is unknown), and once the server is back a worker's
    /// recovery reads the alias, discards the intent and drops staging. The old collection served throughout.
    @Test("server stopped before the flip: the reindex fails, recovery undoes the intent")
    func serverStoppedBeforeTheFlip() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let old = try s.index()
            let p = try s.start(["reindex", "--collection", "c", "--embedder", "hash-v2", "--max-retries", "0", "--grace-seconds", "0"],
                                name: "reindex", faults: "reindex.switch.intent=sleep:2")
            try s.wait("the switch intent") { try !s.records { try $0.aliasIntents() }.isEmpty }
            s.server.killNow()
            p.waitUntilExit()
            #expect(p.terminationStatus == 1, "\(readGrowingFile(dir.appending("reindex.err")))")
            #expect(try s.records { try $0.aliasIntents().map(\.kind) } == [.switch], "the undo waits for the server")
            try s.server.start()
            let client = try s.client()
            #expect(try client.resolve("c") == old)
            let w = try s.run(["worker", "--until-idle", "--intent-min-age", "0", "--staging-min-age", "0"])
            #expect(w.status == 0, "\(w.stderr)")
            #expect(try s.records { try $0.aliasIntents() }.isEmpty)
            #expect(try client.collections().map(\.name) == [old])
            #expect(try client.resolve("c") == old)
            let show = try s.show()
            #expect(show["vector_store_name"] == .string(old) && show["status"] == "ready" && show["embedder"] == "hash-v1")
            #expect(try s.run(["search", "--collection", "c", "--text", "w1 w2", "--json"]).status == 0)
            #expect(try s.run(["audit", "--collection", "c"]).stdout.contains("alias_intent_recovered"))
            s.server.stop()
        }
    }

    /// The server goes away right after the alias moved: the records commit locally, so the reindex completes
    /// (its cleanup keeps what it cannot check), and the server, once back, serves what the records say.
    @Test("server stopped after the flip: the switch commits and the reindex completes")
    func serverStoppedAfterTheFlip() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let old = try s.index()
            let p = try s.start(["reindex", "--collection", "c", "--embedder", "hash-v2", "--max-retries", "0", "--grace-seconds", "0",
                                 "--keep-generations", "0"], name: "reindex", faults: "reindex.switch.flip=sleep:3")
            let client = try s.client()
            try s.wait("the alias to move") { (try? client.resolve("c")).map { $0 != old } ?? false }
            // The batch's answer reaches the client within moments; the fault holds the commit for 3 s.
            Thread.sleep(forTimeInterval: 0.5)
            s.server.killNow()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(readGrowingFile(dir.appending("reindex.err")))")
            try s.server.start()
            let show = try s.show()
            let new = try #require(show["vector_store_name"]?.stringValue)
            #expect(new != old && show["embedder"] == "hash-v2" && show["status"] == "ready")
            #expect(try client.resolve("c") == new)
            #expect(try s.records { try $0.aliasIntents() }.isEmpty)
            // The old generation could not be dropped while the server was away; housekeeping does it now.
            #expect(try client.collectionExists(old))
            let w = try s.run(["worker", "--until-idle", "--grace-seconds", "0", "--keep-generations", "0"])
            #expect(w.status == 0, "\(w.stderr)")
            #expect(try client.collections().map(\.name) == [new])
            s.server.stop()
        }
    }

    /// The alias batch is applied but its answer never arrives (the server fails after applying it, every
    /// time): the reindex fails, its undo cannot be confirmed either, and recovery, with the server healthy
    /// again, finds the alias where it was before and removes the staging collection.
    @Test("the flip applied but its answer lost: the reindex fails, recovery leaves the old collection serving")
    func flipAnswerLost() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let old = try s.index()
            s.server.stop()
            try s.server.start(arguments: ["--fault-lost-answer", "1", "--fault-path", "/collections/aliases"])
            let r = try s.run(["reindex", "--collection", "c", "--embedder", "hash-v2", "--max-retries", "0"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("still answered 503"), "\(r.stderr)")
            s.server.stop()
            try s.server.start(arguments: [])
            let w = try s.run(["worker", "--until-idle", "--intent-min-age", "0", "--staging-min-age", "0"])
            #expect(w.status == 0, "\(w.stderr)")
            let client = try s.client()
            #expect(try client.resolve("c") == old)
            #expect(try client.collections().map(\.name) == [old])
            #expect(try s.records { try $0.aliasIntents() }.isEmpty)
            let show = try s.show()
            #expect(show["vector_store_name"] == .string(old) && show["status"] == "ready" && show["embedder"] == "hash-v1")
            s.server.stop()
        }
    }

    /// A rollback killed after its alias batch: running `rollback` again finishes that one (the alias moved) and
    /// does not roll back a second time. A rollback whose server stopped before the batch: it fails; run again, it
    /// discards the stale intent (the alias never moved) and completes.
    @Test("rollback killed after the flip is finished by the next rollback; one stopped before the flip is run again")
    func rollbackAcrossFailures() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let v1 = try s.index()
            let v2 = try s.reindex(to: "hash-v2")
            let client = try s.client()

            let killed = try s.start(["rollback", "--collection", "c"], name: "rollback1", faults: "rollback.flip=crash")
            killed.waitUntilExit()
            #expect(killed.terminationReason == .uncaughtSignal)
            #expect(try client.resolve("c") == v1, "the alias moved before the crash")
            #expect(try s.show()["vector_store_name"] == .string(v2), "the records did not commit")
            let finish = try s.run(["rollback", "--collection", "c", "--json"])
            #expect(finish.status == 0, "\(finish.stderr)")
            #expect(try ReindexCLITests.json(finish.stdout)["serving"] == .string(v1), "the interrupted rollback is finished, not repeated")
            var show = try s.show()
            #expect(show["vector_store_name"] == .string(v1) && show["embedder"] == "hash-v1")
            #expect(try client.resolve("c") == v1)
            #expect(try s.records { try $0.aliasIntents() }.isEmpty)

            let stopped = try s.start(["rollback", "--collection", "c"], name: "rollback2", faults: "rollback.intent=sleep:2")
            try s.wait("the rollback intent") { try !s.records { try $0.aliasIntents() }.isEmpty }
            s.server.killNow()
            stopped.waitUntilExit()
            #expect(stopped.terminationStatus == 1, "\(readGrowingFile(dir.appending("rollback2.err")))")
            try s.server.start()
            #expect(try client.resolve("c") == v1)
            let again = try s.run(["rollback", "--collection", "c", "--json"])
            #expect(again.status == 0, "\(again.stderr)")
            show = try s.show()
            #expect(show["vector_store_name"] == .string(v2) && show["embedder"] == "hash-v2")
            #expect(try client.resolve("c") == v2)
            #expect(try s.records { try $0.aliasIntents() }.isEmpty)
            let audit = try s.run(["audit", "--collection", "c"]).stdout
            #expect(audit.components(separatedBy: "reindex_rolled_back").count - 1 == 2)
            s.server.stop()
        }
    }

    /// One store with a collection on each backend: workers of either backend leave the other's operations,
    /// generations and alias changes alone, and housekeeping never drops collections of ids this store does not
    /// own (a shared Qdrant server holds other stores' collections).
    @Test("a store with collections on both backends: each backend's workers touch only their own")
    func mixedBackends() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let v1 = try s.index()
            let v2 = try s.reindex(to: "hash-v2")
            let local = ["--store", s.store]
            let embedded = ["SWITCHYARD_QDRANT_URL": ""]
            #expect(try CLI.run(["index", "--collection", "here", "--source", s.source] + local, environment: embedded).status == 0)
            // Someone else's staging-like collection on the shared server.
            let client = try s.client()
            let foreign = "staging_col_00000000-0000-4000-8000-000000000000_20200101_000000"
            try client.createCollection(foreign, dimension: 4, distance: .cosine)
            let w = try CLI.run(["worker", "--until-idle", "--grace-seconds", "0", "--keep-generations", "0", "--intent-min-age", "0",
                                 "--staging-min-age", "0"] + local, environment: embedded)
            #expect(w.status == 0, "\(w.stderr)")
            #expect(try client.collectionExists(v1), "an embedded worker dropped a Qdrant generation")
            #expect(try s.records { try $0.keptGenerations(collectionID: try $0.collection(named: "c").id).map(\.vectorStoreName) } == [v1])
            let q = try s.run(["worker", "--until-idle", "--grace-seconds", "0", "--keep-generations", "0", "--staging-min-age", "0"])
            #expect(q.status == 0, "\(q.stderr)")
            #expect(Set(try client.collectionNames()) == [v2, foreign], "the Qdrant worker drops its own retired generation only")
            let here = try ReindexCLITests.json(try CLI.run(["collections", "show", "--collection", "here", "--json"] + local, environment: embedded).stdout)
            #expect(here["backend"] == "embedded" && here["status"] == "ready")
            s.server.stop()
        }
    }

    /// Cleanup drops retired generations on the server only when no alias points at them, including an alias
    /// someone else made outside Switchyard (Qdrant would delete it with the collection).
    @Test("cleanup keeps a retired generation that a foreign alias points at")
    func cleanupKeepsForeignAliases() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let v1 = try s.index()
            let v2 = try s.reindex(to: "hash-v2")
            let client = try s.client()
            try client.updateAliases([.create(alias: "pinned", collection: v1)])
            let r = try s.run(["reindex", "--collection", "c", "--embedder", "hash-v1", "--grace-seconds", "0", "--keep-generations", "0", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let warnings = try ReindexCLITests.json(r.stdout)["result"]?.objectValue?["cleanup_warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(warnings.contains { $0.contains("kept \(v1)") && $0.contains("pinned") }, "\(warnings)")
            let v3 = try #require(try s.show()["vector_store_name"]?.stringValue)
            #expect(Set(try client.collections().map(\.name)) == [v1, v3], "v2 dropped, v1 kept for its alias")
            #expect(try client.resolve("pinned") == v1 && client.resolve("c") == v3)
            #expect(try !client.collectionExists(v2), "the retired generation no alias points at is dropped")
            s.server.stop()
        }
    }
}

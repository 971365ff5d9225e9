import Foundation
import Operations
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("INDEX, APPEND, REMOVE_SOURCE")
struct IngestTests {
    @Test func indexCreatesCollectionAliasPointsAndRecords() throws {
        let h = try Harness()
        let (created, op) = try h.manager.createCollection(CollectionSpec(name: "docs", embedder: "hash-v1", chunkSize: 40, chunkOverlap: 10),
                                                           sources: [Paths.miniBEIR])
        #expect(created.status == .pending)
        #expect(created.vectorStoreName == "col_\(created.id)")
        try h.work()
        let done = try h.manager.operation(op.id)
        #expect(done.status == .completed)
        #expect(done.attempts == 1)
        #expect(done.progressDone == done.progressTotal && done.progressTotal > 0)
        #expect(done.startedAt != nil && done.completedAt != nil)
        let c = try h.manager.collection(named: "docs")
        #expect(c.status == .ready)
        #expect(try h.vectors.resolve("docs") == c.vectorStoreName)
        let (docs, points) = try h.expectConsistent("docs")
        #expect(docs == c.documentCount && points == c.vectorCount && docs > 0)
        // Every payload carries the six fields, and doc_id is the document's database id.
        let byID = Dictionary(uniqueKeysWithValues: try h.manager.documents(of: "docs").map { ($0.id, $0) })
        for (_, payload) in try h.points("docs") {
            #expect(payload["collection_id"] == .string(c.id))
            guard case .int(let docID)? = payload["doc_id"], let doc = byID[docID] else { Issue.record("bad doc_id"); continue }
            #expect(payload["total_chunks"] == .int(Int64(doc.chunkCount)))
            #expect(payload["path"] == .string(doc.filePath))
            #expect(payload["chunk_index"] != nil && payload["text"]?.stringValue?.isEmpty == false)
        }
        let actions = try h.manager.audit(collection: "docs").map(\.action)
        #expect(actions == ["collection_created", "alias_switched", "collection_indexed"])
        let metrics = Dictionary(uniqueKeysWithValues: try h.manager.metrics(of: op.id).map { ($0.name, $0.value) })
        for name in ["duration_seconds", "cpu_user_seconds", "cpu_system_seconds", "memory_peak_bytes", "documents_processed",
                     "vectors_written", "success", "stage_parse_seconds", "stage_embed_seconds", "stage_upsert_seconds", "stage_commit_seconds"] {
            #expect(metrics[name] != nil, "missing metric \(name)")
        }
        #expect(metrics["success"] == 1)
        #expect(metrics["vectors_written"] == Double(points))
        #expect(metrics["documents_processed"] == Double(docs))
        #expect((metrics["memory_peak_bytes"] ?? 0) > 1_000_000)
        // The attempt's own figures: sampled while it ran, not the process's lifetime maximum.
        let growth = try #require(metrics["memory_growth_bytes"])
        #expect(growth >= 0 && growth <= (metrics["memory_peak_bytes"] ?? 0))
    }

    @Test func appendDeduplicatesRenamesReplacesAndReadds() throws {
        let h = try Harness()
        let src = try h.writeSource("notes", ["a.txt": "alpha beta gamma", "b.txt": "delta epsilon", "c.txt": "alpha beta gamma"])
        try h.manager.createCollection(CollectionSpec(name: "notes", embedder: "hash-v1"), sources: [src])
        try h.work()
        var op = try h.manager.operations(collection: "notes").first!
        #expect(op.result?["documents_added"] == .int(2))
        #expect(op.result?["documents_duplicate"] == .int(1))  // c.txt has a.txt's content
        #expect(try h.expectConsistent("notes") == (2, 2))

        // Same source again: nothing to do.
        try h.manager.append("notes", source: src)
        try h.work()
        op = try h.manager.operations(collection: "notes").first!
        #expect(op.status == .completed && op.result?["documents_unchanged"] == .int(2) && op.result?["chunks_written"] == .int(0))

        // b.txt renamed to d.txt: same document, new path, no new chunks.
        let b = try h.manager.documents(of: "notes").first { $0.name == "b.txt" }!
        try FileManager.default.moveItem(atPath: src + "/b.txt", toPath: src + "/d.txt")
        try h.manager.append("notes", source: src)
        try h.work()
        op = try h.manager.operations(collection: "notes").first!
        #expect(op.result?["documents_renamed"] == .int(1))
        let renamed = try h.manager.documents(of: "notes").first { $0.id == b.id }!
        #expect(renamed.name == "d.txt" && renamed.status == .completed)
        #expect(try h.points("notes")[PointLayout.pointID(documentID: b.id, chunkIndex: 0)]?["path"] == .string(renamed.filePath))

        // a.txt changed: the new content is indexed and the old document retired with its chunks.
        let oldA = try h.manager.documents(of: "notes").first { $0.name == "a.txt" }!
        try Data("zeta eta theta iota".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
        try h.manager.append("notes", source: src)
        try h.work()
        let docs = try h.manager.documents(of: "notes")
        // c.txt still holds a.txt's old content: the old document now lives on under that name.
        #expect(docs.first { $0.id == oldA.id }.map { ($0.name, $0.status) } ?? ("", .failed) == ("c.txt", .completed))
        let newA = docs.first { $0.name == "a.txt" && $0.status == .completed }
        #expect(newA != nil && newA?.id != oldA.id)
        let liveCount = try h.manager.collection(named: "notes").documentCount
        #expect(try h.expectConsistent("notes").documents == liveCount && liveCount == 3)

        // Remove the source, then add it back: deleted content is indexed again.
        try h.manager.removeSource("notes", source: src)
        try h.work()
        #expect(try h.points("notes").isEmpty)
        #expect(try h.manager.documents(of: "notes").allSatisfy { $0.status == .deleted })
        #expect(try h.manager.sources(of: "notes").isEmpty)
        #expect(try h.manager.collection(named: "notes").documentCount == 0)
        try h.manager.append("notes", source: src)
        try h.work()
        op = try h.manager.operations(collection: "notes").first!
        #expect((op.result?["documents_readded"]?.numberValue ?? 0) >= 2)
        let final = try h.expectConsistent("notes")
        #expect(final.documents == 3)  // a (new), c (old a content), d
        let actions = try h.manager.audit(collection: "notes").map(\.action)
        #expect(actions.filter { $0 == "documents_appended" }.count == 4)
        #expect(actions.contains("source_removed"))
    }

    @Test func removeSourceDeletesOnlyThatSourcesPointsInBatches() throws {
        let h = try Harness()
        var files: [String: String] = [:]
        for i in 0..<230 { files["f\(i).txt"] = "document number \(i) about topic \(i % 7)" }
        let big = try h.writeSource("big", files)
        let small = try h.writeSource("small", ["x.txt": "kept text"])
        try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [big, small])
        try h.work()
        #expect(try h.expectConsistent("c") == (231, 231))
        let op = try h.manager.removeSource("c", source: big)
        try h.work()
        let done = try h.manager.operation(op.id)
        #expect(done.status == .completed)
        #expect(done.progressTotal == 3 && done.progressDone == 3)  // 230 documents, 100 per batch
        #expect(done.result?["points_deleted"] == .int(230))
        #expect(try h.expectConsistent("c") == (1, 1))
        let c = try h.manager.collection(named: "c")
        #expect(c.status == .ready && c.documentCount == 1)
        #expect(try h.manager.sources(of: "c").map(\.path) == [small])
    }

    @Test func overlappingSourcesIndexEachDocumentOnce() throws {
        let h = try Harness()
        let dir = try h.writeSource("d", ["a.txt": "alpha beta", "sub/b.txt": "gamma delta"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [dir, dir + "/sub/b.txt"])
        try h.work()
        let done = try h.manager.operation(op.id)
        #expect(done.result?["documents_added"] == .int(2))
        #expect(done.result?["documents_duplicate"] == .int(1))
        #expect(done.result?["documents_resumed"] == .int(0))
        #expect(try h.expectConsistent("c") == (2, 2))
    }

    @Test func sourceProblemsDegradeTheCollection() throws {
        let h = try Harness()
        try h.manager.createCollection(CollectionSpec(name: "tree", embedder: "hash-v1"), sources: [Paths.tree])
        try h.work()
        let c = try h.manager.collection(named: "tree")
        let op = try h.manager.operations(collection: "tree").first!
        let failed = Int(op.result?["failed_documents"]?.numberValue ?? 0)
        #expect(failed > 0)  // the fixture holds a binary and an invalid UTF-8 file
        #expect(c.status == .degraded)
        #expect(c.statusMessage?.contains("\(failed) documents could not be indexed") == true)
        _ = try h.expectConsistent("tree")
    }

    /// Runs `operation` on a worker thread that pauses before reading the first text again, and calls
    /// `meanwhile` once the operation has catalogued and registered its sources.
    private func run(_ h: Harness, _ operation: String, pausingFirstRead meanwhile: () throws -> Void) throws {
        let options = try Harness.options(faults: "ingest.read=sleep:1@1")
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            _ = try? h.work(options)
            finished.signal()
        }
        worker.start()
        let deadline = Date().addingTimeInterval(20)
        while try h.manager.operation(operation).progressTotal == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        try meanwhile()
        #expect(finished.wait(timeout: .now() + 30) == .success)
    }

    @Test func aFileChangedAfterTheScanFailsAloneAndALaterAppendReplacesIt() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "alpha one", "b.txt": "beta two", "c.txt": "gamma three"])
        let (_, op) = try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try run(h, op.id) {
            #expect(try h.manager.operation(op.id).progressTotal == 3)
            try Data("beta two, edited".utf8).write(to: URL(fileURLWithPath: src + "/b.txt"))
        }
        let done = try h.manager.operation(op.id)
        #expect(done.status == .completed)
        #expect(done.progressDone == 3)
        #expect(done.result?["failed_documents"] == .int(1))
        let issues = done.result?["source_issues"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(issues.count == 1 && issues[0].contains("b.txt") && issues[0].contains("changed since the source was scanned"))
        let b = try #require(try h.manager.documents(of: "c").first { $0.name == "b.txt" })
        #expect(b.status == .failed && b.error?.contains("changed since") == true)
        #expect(try h.expectConsistent("c") == (2, 2))
        #expect(try h.manager.collection(named: "c").status == .degraded)

        // The next APPEND indexes b.txt's new content and retires the failed record of the old one.
        try h.manager.append("c", source: src)
        try h.work()
        let docs = try h.manager.documents(of: "c")
        #expect(docs.filter { $0.status == .completed }.map(\.name).sorted() == ["a.txt", "b.txt", "c.txt"])
        #expect(docs.first { $0.id == b.id }?.status == .deleted)
        #expect(try h.expectConsistent("c") == (3, 3))
        #expect(try h.manager.collection(named: "c").status == .ready)
    }

    @Test func anIndexedFileStaysSearchableWhenItsNewContentCannotBeRead() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "alpha one", "b.txt": "beta two"])
        try h.manager.createCollection(CollectionSpec(name: "c", embedder: "hash-v1"), sources: [src])
        try h.work()
        let old = try #require(try h.manager.documents(of: "c").first { $0.name == "b.txt" })
        // b.txt changes, and changes again between the APPEND's catalogue and its reading.
        try Data("beta two, version 2".utf8).write(to: URL(fileURLWithPath: src + "/b.txt"))
        let op = try h.manager.append("c", source: src)
        try run(h, op.id) {
            #expect(try h.manager.operation(op.id).progressTotal == 1)
            try Data("beta two, version 3".utf8).write(to: URL(fileURLWithPath: src + "/b.txt"))
        }
        let done = try h.manager.operation(op.id)
        #expect(done.status == .completed)
        #expect(done.progressDone == 1 && done.progressTotal == 1, "the only document failed; progress still reaches the total")
        #expect(done.result?["failed_documents"] == .int(1))
        // The old content stays indexed and searchable; the unread version is a failed record.
        #expect(try h.manager.documents(of: "c").first { $0.id == old.id }?.status == .completed)
        #expect(try h.expectConsistent("c") == (2, 2))

        try h.manager.append("c", source: src)
        try h.work()
        let docs = try h.manager.documents(of: "c")
        #expect(docs.filter { $0.status == .completed }.map(\.name).sorted() == ["a.txt", "b.txt"])
        #expect(docs.filter { $0.status == .failed }.isEmpty)
        #expect(docs.first { $0.id == old.id }?.status == .deleted)
        #expect(try h.expectConsistent("c") == (2, 2))
        let texts = try h.points("c").values.compactMap { $0["text"]?.stringValue }
        #expect(texts.contains("beta two, version 3") && !texts.contains("beta two"))
    }

    @Test func deleteRemovesVectorsAndRecordsButKeepsHistory() throws {
        let h = try Harness()
        let src = try h.writeSource("s", ["a.txt": "one two three"])
        let (c, _) = try h.manager.createCollection(CollectionSpec(name: "gone", embedder: "hash-v1"), sources: [src])
        try h.work()
        try h.manager.deleteCollection("gone")
        try h.work()
        #expect(throws: OperationsError.self) { try h.manager.collection(named: "gone") }
        #expect(try !h.vectors.collectionExists(c.vectorStoreName))
        #expect(try !h.vectors.aliases().contains { $0.alias == "gone" })
        #expect(try h.manager.audit(collection: "gone").last?.action == "collection_deleted")
        #expect(try h.manager.operations(collection: "gone").count == 2)
        // The name is free again.
        try h.manager.createCollection(CollectionSpec(name: "gone", embedder: "hash-v1"), sources: [src])
        try h.work()
        #expect(try h.manager.collection(named: "gone").status == .ready)
    }
}

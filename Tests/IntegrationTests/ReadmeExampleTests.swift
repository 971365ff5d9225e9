import Foundation
import Switchyard
import Testing
import _SwitchyardTestSupport

/// The README's library example, as written there, must keep working.
@Suite("README example")
struct ReadmeExampleTests {
    @Test("the library example runs and finds what the README says")
    func libraryExample() async throws {
        try await withTemporaryDirectoryAsync { dir in
            let store = try Store.open(at: dir.appending("my-store"))
            try store.createCollection("docs_v1", dimension: 3, distance: .cosine)
            try store.upsert("docs_v1", points: [
                Point(id: .number(1), vector: [1, 0, 0], payload: ["lang": "en", "year": 2024]),
                Point(id: .number(2), vector: [0, 1, 0], payload: ["lang": "de", "year": 2019]),
            ])
            try store.updateAliases([.create(alias: "docs", collection: "docs_v1")])

            let filter = try Filter(json: #"{"must": [{"key": "year", "range": {"gte": 2020}}]}"#)
            let hits = try store.search("docs", SearchRequest(vector: [0.9, 0.1, 0], limit: 5, filter: filter))
            #expect(hits.map(\.id) == [.number(1)])
            #expect(abs(hits[0].score - 0.994) < 0.001)

            try store.createCollection("docs_v2", dimension: 3, distance: .cosine)
            try store.updateAliases([.create(alias: "docs", collection: "docs_v2")])
            #expect(try store.resolve("docs") == "docs_v2")

            let embedder = try Embedders.make(spec: "hash-v2")
            let vectors = try await embedder.embed(["a reverse dictionary", "the CAFÉ's runners"])
            #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 384 })
            let chunks = try Chunker(size: 600, overlap: 200).chunks(documentID: "doc-1", text: "One. Two three.")
            #expect(chunks.map(\.id) == ["doc-1_0000"])
        }
    }
}

extension ReadmeExampleTests {
    @Test("the managed-collections example runs as written")
    func managedExample() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try await withTemporaryDirectoryAsync { dir in
            let manager = try CollectionManager(store: try Store.open(at: dir.appending("my-store")))
            let (_, op) = try manager.createCollection(CollectionSpec(name: "defs", embedder: "hash-v2"),
                                                       sources: [root + "/Datasets/wordnet-defs"])
            try Worker(manager: manager).runUntilIdle()
            #expect(try manager.operation(op.id).status == .completed)
            let queryVector = try await Embedders.make(spec: "hash-v2").embed(["a large body of water"])[0]
            let hits = try manager.store.search("defs", SearchRequest(vector: queryVector, limit: 5, withPayload: true))
            #expect(hits.count == 5 && hits.allSatisfy { $0.payload?["text"] != nil })
        }
    }
}

extension ReadmeExampleTests {
    @Test("the Qdrant library example runs as written, against a serve process")
    func qdrantExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let server = try ServeProcess()
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            let key: String? = nil
            let qdrant = try QdrantBackend(QdrantBackend.Configuration(url: server.url, apiKey: key))
            let manager = try CollectionManager(store: try Store.open(at: dir.appending("ops")), vectors: qdrant)
            let (_, op) = try manager.createCollection(CollectionSpec(name: "defs", embedder: "hash-v2"),
                                                       sources: [root + "/Datasets/fixtures/mini-beir"])
            try Worker(manager: manager).runUntilIdle()
            #expect(try manager.operation(op.id).status == .completed)
            #expect(try qdrant.resolve("defs") == manager.collection(named: "defs").vectorStoreName)
            #expect(try qdrant.count("defs", filter: nil) == manager.collection(named: "defs").vectorCount)
        }
    }
}

/// `withTemporaryDirectory` for async bodies.
func withTemporaryDirectoryAsync<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    return try await body(dir)
}

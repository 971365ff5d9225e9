import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

/// Several processes on one store: each sees what the others committed.
@Suite("Several processes on one store")
struct MultiProcessTests {
    @Test("a search in this process sees points another process committed after this one loaded")
    func otherProcessWritesAreSeen() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appending("store")
            let store = try Store.open(at: path)
            try store.createCollection("c", dimension: 3, distance: .cosine)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0, 0])])
            #expect(try store.search("c", SearchRequest(vector: [0, 1, 0], limit: 5)).map(\.id) == [.number(1)])

            let file = dir.appending("p.jsonl")
            try #"{"id": 2, "vector": [0, 1, 0], "payload": {"from": "cli"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let r = try CLI.run(["store", "points", "upsert", "--store", path, "--collection", "c", "--vectors", file])
            #expect(r.status == 0, "\(r.stderr)")

            let hits = try store.search("c", SearchRequest(vector: [0, 1, 0], limit: 5, withPayload: true))
            #expect(hits.first?.id == .number(2))
            #expect(hits.first?.payload?["from"] == "cli")
            #expect(try store.count("c") == 2)

            // The other direction: this process deletes, switches an alias; the CLI sees both.
            try store.delete("c", ids: [.number(1)])
            try store.createCollection("d", dimension: 3, distance: .cosine)
            try store.updateAliases([.create(alias: "live", collection: "c")])
            let count = try CLI.run(["store", "points", "count", "--store", path, "--collection", "live", "--json"])
            #expect(count.stdout.contains(#""count":1"#), "\(count.stdout) \(count.stderr)")

            // Another process re-points the alias and drops the collection: this process follows.
            #expect(try CLI.run(["store", "aliases", "update", "--store", path, "--delete", "live", "--create", "live=d"]).status == 0)
            #expect(try store.resolve("live") == "d")
            #expect(try CLI.run(["store", "collections", "drop", "--store", path, "--collection", "c"]).status == 0)
            #expect(throws: StoreError.self) { try store.search("c", SearchRequest(vector: [0, 1, 0])) }
            #expect(try store.collections().map(\.name) == ["d"])
        }
    }
}

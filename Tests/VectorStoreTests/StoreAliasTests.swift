import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store aliases")
struct StoreAliasTests {
    static func aliasMap(_ store: Store) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try store.aliases().map { ($0.alias, $0.collection) })
    }

    @Test("create, re-point, rename, delete")
    func basics() throws {
        try withStore { store, _ in
            try store.createCollection("v1", dimension: 2, distance: .dot)
            try store.createCollection("v2", dimension: 2, distance: .dot)
            try store.updateAliases([.create(alias: "prod", collection: "v1"), .create(alias: "b-alias", collection: "v1")])
            #expect(try store.aliases().map { [$0.alias, $0.collection] } == [["b-alias", "v1"], ["prod", "v1"]])
            #expect(try store.resolve("prod") == "v1")
            #expect(try store.resolve("v2") == "v2")
            #expect(try store.collectionInfo("v1").aliases == ["b-alias", "prod"])
            #expect(try store.collectionInfo("prod").name == "v1")
            // create on an existing alias re-points it (as Qdrant does).
            try store.updateAliases([.create(alias: "prod", collection: "v2")])
            #expect(try store.resolve("prod") == "v2")
            // The swap as one batch.
            try store.updateAliases([.delete(alias: "prod"), .create(alias: "prod", collection: "v1")])
            #expect(try store.resolve("prod") == "v1")
            try store.updateAliases([.rename(from: "b-alias", to: "staging")])
            #expect(try Self.aliasMap(store) == ["prod": "v1", "staging": "v1"])
            try store.updateAliases([.rename(from: "staging", to: "staging")])
            #expect(try Self.aliasMap(store) == ["prod": "v1", "staging": "v1"])
            try store.updateAliases([.delete(alias: "staging")])
            #expect(try Self.aliasMap(store) == ["prod": "v1"])
            expectStoreError(.notFound) { try store.resolve("staging") }
            expectStoreError(.notFound) { try store.resolve("nothing") }
        }
    }

    @Test("a failing batch changes nothing, whichever action fails", arguments: [
        [AliasAction.create(alias: "new", collection: "v2"), .delete(alias: "missing")],
        [.delete(alias: "a1"), .create(alias: "x", collection: "v1"), .rename(from: "a2", to: "a3")],
        [.rename(from: "a1", to: "moved"), .create(alias: "y", collection: "no-such-collection")],
        [.create(alias: "z", collection: "v1"), .create(alias: "v2", collection: "v1")],
        [.delete(alias: "a1"), .delete(alias: "a1")],
        [.rename(from: "a1", to: "q"), .rename(from: "a1", to: "r")],
        [.create(alias: "chain", collection: "a1")],
        [.rename(from: "a1", to: "v1")],
        [.create(alias: "ok", collection: "v1"), .create(alias: "bad name!", collection: "v1")],
        [],
    ])
    func allOrNothing(actions: [AliasAction]) throws {
        try withStore { store, _ in
            try store.createCollection("v1", dimension: 2, distance: .dot)
            try store.createCollection("v2", dimension: 2, distance: .dot)
            try store.updateAliases([.create(alias: "a1", collection: "v1"), .create(alias: "a2", collection: "v2"), .create(alias: "a3", collection: "v2")])
            let before = try Self.aliasMap(store)
            let error = #expect(throws: StoreError.self) { try store.updateAliases(actions) }
            #expect(error.map { [.notFound, .alreadyExists, .invalidArgument].contains($0.code) } == true)
            if actions.count > 1, error?.code != .invalidArgument {
                #expect(error?.message.contains("actions[\(actions.count - 1)]") == true, "the message names the failing action: \(error?.message ?? "")")
            }
            #expect(try Self.aliasMap(store) == before)
            #expect(try store.collections().map(\.name) == ["v1", "v2"])
            // And the same holds for a fresh reader of the database.
            let other = try Store.open(at: store.directory, options: .testing)
            defer { try? other.close() }
            #expect(try Self.aliasMap(other) == before)
        }
    }

    @Test("an alias cannot take a collection's name, nor a collection an alias's")
    func namesAreExclusive() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            try store.createCollection("d", dimension: 2, distance: .dot)
            expectStoreError(.alreadyExists, "collection") { try store.updateAliases([.create(alias: "d", collection: "c")]) }
            expectStoreError(.alreadyExists, "collection") { try store.updateAliases([.create(alias: "c", collection: "c")]) }
            try store.updateAliases([.create(alias: "al", collection: "c")])
            expectStoreError(.alreadyExists, "alias") { try store.createCollection("al", dimension: 2, distance: .dot) }
            expectStoreError(.alreadyExists) { try store.updateAliases([.rename(from: "al", to: "d")]) }
            try store.updateAliases([.create(alias: "al2", collection: "d")])
            expectStoreError(.alreadyExists, "already exists") { try store.updateAliases([.rename(from: "al", to: "al2")]) }
            #expect(try Self.aliasMap(store) == ["al": "c", "al2": "d"])
            #expect(try store.collections().map(\.name) == ["c", "d"])
        }
    }

    @Test("every collection API accepts an alias")
    func everyAPIAcceptsAlias() throws {
        try withStore { store, _ in
            try store.createCollection("real", dimension: 3, distance: .euclid)
            try store.updateAliases([.create(alias: "al", collection: "real")])
            #expect(try store.upsert("al", points: randomPoints(10, dimension: 3, seed: 1)) == 10)
            let flat: [Float] = [9, 9, 9]
            #expect(try flat.withUnsafeBufferPointer { try store.upsert("al", ids: [.number(100)], vectors: $0) } == 1)
            #expect(try store.count("al") == 11)
            #expect(try store.collectionInfo("al").pointCount == 11)
            #expect(try store.get("al", ids: [.number(100)], withVector: true).first?.vector == [9, 9, 9])
            #expect(try store.search("al", SearchRequest(vector: [9, 9, 9], limit: 1)).ids == [.number(100)])
            #expect(try store.searchBatch("al", [SearchRequest(vector: [9, 9, 9], limit: 1)])[0].ids == [.number(100)])
            #expect(try store.scroll("al", limit: 3).points.ids == [.number(0), .number(1), .number(2)])
            #expect(try store.updatePayload("al", .merge(["x": 1]), ids: [.number(100)]) == 1)
            #expect(try store.count("al", filter: try Filter(json: #"{"must": {"key": "x", "match": {"value": 1}}}"#)) == 1)
            #expect(try store.delete("al", ids: [.number(100)]) == 1)
            #expect(try store.delete("al", filter: try Filter(json: #"{"must": {"key": "g", "match": {"value": 0}}}"#)) == 4)
            #expect(try store.count("real") == 6)
            #expect(try store.activeSearches("al") == 0)
            // Dropping goes by the collection's own name only.
            expectStoreError(.invalidArgument, "alias") { try store.dropCollection("al") }
            #expect(try store.collectionExists("real"))
            #expect(try !store.collectionExists("al"))
        }
    }

    @Test("dropping a collection removes its aliases; aliases elsewhere stay")
    func dropRemovesAliases() throws {
        try withStore { store, _ in
            try store.createCollection("a", dimension: 2, distance: .dot)
            try store.createCollection("b", dimension: 2, distance: .dot)
            try store.updateAliases([.create(alias: "to-a", collection: "a"), .create(alias: "to-b", collection: "b")])
            try store.dropCollection("a")
            #expect(try Self.aliasMap(store) == ["to-b": "b"])
            expectStoreError(.notFound) { try store.count("to-a") }
            // The alias name is free again, for an alias or a collection.
            try store.createCollection("to-a", dimension: 2, distance: .dot)
            #expect(try store.collectionExists("to-a"))
        }
    }
}

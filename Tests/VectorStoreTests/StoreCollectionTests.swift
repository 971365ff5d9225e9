import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store collections")
struct StoreCollectionTests {
    @Test("create, list, info, exists, drop")
    func lifecycle() throws {
        try withStore { store, _ in
            #expect(try store.collections().isEmpty)
            let before = Date()
            let info = try store.createCollection("docs", dimension: 4, distance: .cosine)
            #expect(info.name == "docs" && info.dimension == 4 && info.distance == .cosine)
            #expect(info.pointCount == 0 && info.aliases.isEmpty)
            #expect(abs(info.createdAt.timeIntervalSince(before)) < 60)
            try store.createCollection("a-first", dimension: 1, distance: .dot)
            try store.createCollection("Z_last.v2", dimension: 65_536, distance: .manhattan)
            try store.createCollection("euclid", dimension: 3, distance: .euclid)
            // Sorted by name.
            #expect(try store.collections().map(\.name) == ["Z_last.v2", "a-first", "docs", "euclid"])
            #expect(try store.collectionInfo("Z_last.v2").dimension == 65_536)
            #expect(try store.collectionInfo("euclid").distance == .euclid)
            #expect(try store.collectionExists("docs"))
            #expect(try !store.collectionExists("nope"))
            try store.upsert("docs", points: [Point(id: .number(1), vector: [1, 2, 3, 4])])
            #expect(try store.collectionInfo("docs").pointCount == 1)

            try store.dropCollection("docs")
            #expect(try !store.collectionExists("docs"))
            #expect(try store.collections().map(\.name) == ["Z_last.v2", "a-first", "euclid"])
            expectStoreError(.notFound) { try store.collectionInfo("docs") }
            expectStoreError(.notFound) { try store.dropCollection("docs") }
            expectStoreError(.notFound) { try store.search("docs", SearchRequest(vector: [1, 0, 0, 0])) }
            // The name can be used again, and the new collection starts empty.
            try store.createCollection("docs", dimension: 2, distance: .dot)
            #expect(try store.collectionInfo("docs").pointCount == 0)
            #expect(try store.collectionInfo("docs").dimension == 2)
        }
    }

    @Test("invalid names are rejected and change nothing", arguments: [
        "", "x\"; DROP TABLE points; --", "x'; DROP TABLE vector_collections; --", "has space", ".hidden", "-dash",
        "slash/name", "uni¢ode", "tab\tname", String(repeating: "n", count: 256), "semi;colon", "new\nline",
    ])
    func invalidNames(name: String) throws {
        try withStore { store, _ in
            try store.createCollection("keep", dimension: 2, distance: .dot)
            try store.upsert("keep", points: [Point(id: .number(1), vector: [1, 2])])
            expectStoreError(.invalidArgument, "invalid collection name") { try store.createCollection(name, dimension: 2, distance: .dot) }
            expectStoreError(.invalidArgument) { try store.updateAliases([.create(alias: name, collection: "keep")]) }
            #expect(try store.collections().map(\.name) == ["keep"])
            #expect(try store.aliases().isEmpty)
            #expect(try store.count("keep") == 1)
            // Names never reach SQL as text: other calls just do not find them.
            expectStoreError(.notFound) { try store.dropCollection(name) }
            expectStoreError(.notFound) { try store.count(name) }
            #expect(try store.collections().map(\.name) == ["keep"])
        }
    }

    @Test("names at the edges of the rule are accepted")
    func validNames() throws {
        try withStore { store, _ in
            for name in ["a", "_", "9", "a.b-c_d", String(repeating: "n", count: 255), "UPPER", "x."] {
                try store.createCollection(name, dimension: 1, distance: .dot)
                #expect(try store.collectionExists(name))
            }
        }
    }

    @Test("a duplicate collection is refused, and the first one is untouched")
    func duplicate() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 3, distance: .euclid)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 2, 3])])
            expectStoreError(.alreadyExists, "already exists") { try store.createCollection("c", dimension: 5, distance: .dot) }
            let info = try store.collectionInfo("c")
            #expect(info.dimension == 3 && info.distance == .euclid && info.pointCount == 1)
            #expect(try store.collections().count == 1)
            // Names are case-sensitive.
            try store.createCollection("C", dimension: 5, distance: .dot)
            #expect(try store.collections().count == 2)
        }
    }

    @Test("dimension must be 1 to 65536", arguments: [0, -1, 65_537, Int.max])
    func invalidDimension(dimension: Int) throws {
        try withStore { store, _ in
            expectStoreError(.invalidArgument, "dimension") { try store.createCollection("c", dimension: dimension, distance: .dot) }
            let names = try store.collections().map(\.name)
            #expect(names.isEmpty)
        }
    }

    @Test("opening a file, or a missing store without create, fails")
    func openErrors() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appending("file")
            _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
            expectStoreError(.invalidArgument) { try Store.open(at: file, options: .testing) }
            var options = Store.Options.testing
            options.create = false
            expectStoreError(.notFound) { try Store.open(at: dir.appending("missing"), options: options) }
            expectStoreError(.notFound) { try Store.open(at: dir.path, options: options) }
            #expect(!FileManager.default.fileExists(atPath: dir.appending("missing")))
            // A nested directory is created.
            let nested = dir.appending("a/b/store")
            let store = try Store.open(at: nested, options: .testing)
            #expect(FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent(Store.databaseFileName)))
            #expect(store.directory == nested)
            try store.close()
        }
    }

    @Test("calls on a closed store fail with an error that says so")
    func closedStore() throws {
        try withStoreDirectory { dir in
            let store = try Store.open(at: dir.path, options: .testing)
            try store.createCollection("c", dimension: 2, distance: .euclid)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0])])
            #expect(try store.count("c") == 1)
            try store.close()
            expectStoreError(.storage, "the store is closed") { try store.search("c", SearchRequest(vector: [0, 0])) }
            expectStoreError(.storage, "the store is closed") { try store.collections() }
            expectStoreError(.storage, "the store is closed") { try store.count("c") }
            // What it held is intact.
            let reopened = try Store.open(at: dir.path, options: .testing)
            defer { try? reopened.close() }
            #expect(try reopened.search("c", SearchRequest(vector: [0, 0])).map(\.id) == [.number(1)])
        }
    }
}

import Foundation
import GRDB
import Locks
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

/// An alias batch swaps the in-memory alias map without re-reading the store when this instance had
/// seen everything committed before it. These tests make the other instance commit in between, and
/// flip under readers and writers, and check that nothing goes stale.
@Suite("Alias batches and the in-memory catalog")
struct StoreAliasSyncTests {
    @Test("an alias batch after the other instance's point writes leaves this one current")
    func afterOtherPointWrites() throws {
        try withTwoStores { a, b, _ in
            try a.createCollection("x", dimension: 2, distance: .dot)
            try a.createCollection("y", dimension: 2, distance: .dot)
            try a.upsert("x", points: [Point(id: .number(1), vector: [1, 0])])
            try a.updateAliases([.create(alias: "live", collection: "x")])
            #expect(try a.search("live", SearchRequest(vector: [1, 0], limit: 10)).ids == [.number(1)])
            _ = try a.search("y", SearchRequest(vector: [1, 0], limit: 10))  // both loaded in a

            // Points only: b's commits change no catalog row.
            try b.upsert("x", points: [Point(id: .number(2), vector: [2, 0]), Point(id: .number(4), vector: [4, 0])])
            try b.upsert("y", points: [Point(id: .number(3), vector: [0, 1])])
            try b.delete("x", ids: [.number(1)])

            try a.updateAliases([.create(alias: "live", collection: "y")])
            #expect(try a.collectionInfo("x").pointCount == 2, "a's memory of x misses b's writes")
            #expect(try a.collectionInfo("live").pointCount == 1)
            #expect(try a.search("x", SearchRequest(vector: [1, 0], limit: 10)).ids == [.number(4), .number(2)])
            #expect(try a.search("live", SearchRequest(vector: [0, 1], limit: 10)).ids == [.number(3)])
            #expect(try b.search("live", SearchRequest(vector: [0, 1], limit: 10)).ids == [.number(3)])
        }
    }

    @Test("an alias batch after the other instance's catalog changes leaves this one current")
    func afterOtherCatalogChanges() throws {
        try withTwoStores { a, b, _ in
            try a.createCollection("x", dimension: 2, distance: .dot)
            try a.createCollection("y", dimension: 2, distance: .dot)
            try a.updateAliases([.create(alias: "live", collection: "x")])
            _ = try a.search("live", SearchRequest(vector: [1, 0], limit: 10))

            try b.updateAliases([.create(alias: "other", collection: "y")])
            try b.createCollection("z", dimension: 3, distance: .euclid)
            try b.dropCollection("x")
            try b.createCollection("x", dimension: 4, distance: .cosine)

            try a.updateAliases([.create(alias: "live", collection: "y")])
            #expect(try StoreAliasTests.aliasMap(a) == ["live": "y", "other": "y"])
            #expect(try a.resolve("other") == "y")
            #expect(try a.collectionShape("z").dimension == 3)
            #expect(try a.collectionShape("x").dimension == 4, "a still holds the dropped x")
            #expect(try a.collections().map(\.name) == ["x", "y", "z"])
        }
    }

    /// Records written beside an alias batch (`alongside`) that also change the catalog or the points must
    /// not be lost by the in-place swap: memory is reloaded then.
    @Test("records beside an alias batch that change aliases or points are reflected")
    func alongsideChangesAreReflected() throws {
        try withStore { store, _ in
            try store.createCollection("x", dimension: 2, distance: .dot)
            try store.createCollection("y", dimension: 2, distance: .dot)
            try store.migrateRecords(component: "notes", migrations: [(1, "CREATE TABLE notes (text TEXT NOT NULL)")])
            _ = try store.search("x", SearchRequest(vector: [1, 0], limit: 10))  // x loaded
            // Records only: the swap in place.
            try store.updateAliases([.create(alias: "live", collection: "x")]) { db in
                try db.execute(sql: "INSERT INTO notes (text) VALUES ('switched to x')")
            }
            #expect(try store.resolve("live") == "x")
            // Points written beside the batch, through the store's own tables: y's rows copied into x.
            try store.upsert("y", points: [Point(id: .number(7), vector: [3, 0])])
            #expect(try store.search("x", SearchRequest(vector: [1, 0], limit: 10)).isEmpty)  // x current before the batch
            try store.updateAliases([.create(alias: "live", collection: "x")]) { db in
                let x = try Int64.fetchOne(db, sql: "SELECT id FROM vector_collections WHERE name = 'x'")!
                let y = try Int64.fetchOne(db, sql: "SELECT id FROM vector_collections WHERE name = 'y'")!
                try db.execute(sql: "INSERT INTO points_\(x) (pid, vector, payload) SELECT pid, vector, payload FROM points_\(y)")
            }
            #expect(try store.count("live") == 1)
            #expect(try store.search("live", SearchRequest(vector: [1, 0], limit: 10)).ids == [.number(7)])
            #expect(try store.collectionInfo("x").pointCount == 1)
            // An alias written beside the batch.
            try store.updateAliases([.create(alias: "live", collection: "y")]) { db in
                try db.execute(sql: "INSERT INTO vector_aliases (alias, collection_id) SELECT 'extra', id FROM vector_collections WHERE name = 'x'")
            }
            #expect(try StoreAliasTests.aliasMap(store) == ["live": "y", "extra": "x"])
            #expect(try store.resolve("extra") == "x")
            #expect(try store.readRecords { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM notes") } == 1)
        }
    }

    /// Readers search through an alias in one instance while another thread flips it back and forth,
    /// and the other instance writes points into both collections: every answer comes from one
    /// collection, the flipping thread resolves what it just committed, and afterwards both instances
    /// hold what the database holds.
    @Test("alias flips under readers and the other instance's writes")
    func flipsUnderReadersAndWrites() throws {
        try withTwoStores { a, b, _ in
            try a.createCollection("x", dimension: 2, distance: .dot)
            try a.createCollection("y", dimension: 2, distance: .dot)
            // x's ids are even and y's odd: an answer that mixes them mixes collections.
            try a.upsert("x", points: (0..<20).map { Point(id: .number(UInt64(2 * $0)), vector: [1, Float($0)]) })
            try a.upsert("y", points: (0..<20).map { Point(id: .number(UInt64(2 * $0 + 1)), vector: [1, Float($0)]) })
            try a.updateAliases([.create(alias: "live", collection: "x")])
            let failures = Locked<[String]>([])
            let done = Locked(false)
            var bodies: [@Sendable () -> Void] = [
                {
                    for i in 0..<300 {
                        let target = i % 2 == 0 ? "y" : "x"
                        do {
                            try a.updateAliases([.create(alias: "live", collection: target)])
                            let now = try a.resolve("live")
                            if now != target { failures.withLock { $0.append("flip \(i): resolves to \(now), not \(target)") } }
                        } catch {
                            failures.withLock { $0.append("flip \(i): \(error)") }
                        }
                    }
                    done.withLock { $0 = true }
                },
                {
                    var i: UInt64 = 0
                    while !done.withLock({ $0 }) {
                        // Even ids into x, odd ones into y.
                        do { try b.upsert(i % 2 == 0 ? "x" : "y", points: [Point(id: .number(200 + 2 * i + i % 2), vector: [1, 50])]) } catch {
                            failures.withLock { $0.append("writer: \(error)") }
                        }
                        i += 1
                    }
                },
            ]
            bodies += readers(3, until: done, failures: failures) { _ in
                let ids = try a.search("live", SearchRequest(vector: [1, 0.01], limit: 30)).ids
                let parities = Set(ids.map { id -> UInt64 in
                    if case .number(let n) = id { return n % 2 }
                    return 2
                })
                return parities.count > 1 ? "one answer from both collections: \(ids)" : nil
            }
            runConcurrently(bodies)
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
            let q = SearchRequest(vector: [1, 0.01], limit: 100_000)
            for c in ["x", "y", "live"] {
                #expect(try a.count(c) == b.count(c), "\(c)")
                #expect(try a.collectionInfo(c).pointCount == b.collectionInfo(c).pointCount, "\(c)")
                #expect(try a.search(c, q).ids == b.search(c, q).ids, "\(c)")
            }
            #expect(try a.resolve("live") == "x")
            #expect(try b.resolve("live") == "x")
        }
    }
}

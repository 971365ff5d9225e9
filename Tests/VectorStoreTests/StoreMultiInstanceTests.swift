import Foundation
import Locks
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

/// Two `Store` instances on one directory in one process stand in for two processes: each has its own
/// connections, catalog and in-memory matrices, and learns of the other's commits only through SQLite.
@Suite("Two store instances on one directory")
struct StoreMultiInstanceTests {
    /// Everything observable about one collection.
    static func state(_ store: Store, _ collection: String, dimension: Int) throws -> ([Record], [ScoredPoint], Int) {
        let records = try store.scroll(collection, limit: 100_000, withVector: true).points
        let q = (0..<dimension).map { Float($0 % 3) - 0.5 }
        let hits = try store.search(collection, SearchRequest(vector: q, limit: 1000))
        return (records, hits, try store.count(collection))
    }

    @Test("every write through one is visible through the other")
    func visibility() throws {
        try withTwoStores { a, b, dir in
            try a.createCollection("c", dimension: 3, distance: .euclid)
            #expect(try b.collections().map(\.name) == ["c"])
            #expect(try b.search("c", SearchRequest(vector: [0, 0, 0])).isEmpty)  // b loads the empty collection

            try a.upsert("c", points: [Point(id: .number(1), vector: [1, 0, 0], payload: ["x": 1]), Point(id: .number(2), vector: [2, 0, 0])])
            #expect(try b.search("c", SearchRequest(vector: [0, 0, 0])).ids == [.number(1), .number(2)])
            #expect(try b.count("c") == 2)

            // Replacing a vector in a moves the point in b's search.
            try a.upsert("c", points: [Point(id: .number(1), vector: [5, 0, 0])])
            #expect(try b.search("c", SearchRequest(vector: [0, 0, 0])).ids == [.number(2), .number(1)])
            #expect(try b.get("c", ids: [.number(1)], withVector: true) == [Record(id: .number(1), vector: [5, 0, 0], payload: [:])])

            // And the other way round.
            try b.delete("c", ids: [.number(2)])
            #expect(try a.search("c", SearchRequest(vector: [0, 0, 0])).ids == [.number(1)])
            try b.updatePayload("c", .merge(["from": "b"]), ids: [.number(1)])
            #expect(try a.get("c", ids: [.number(1)]).first?.payload == ["from": "b"])
            #expect(try a.count("c", filter: try Filter(json: #"{"must": {"key": "from", "match": {"value": "b"}}}"#)) == 1)
            try b.upsert("c", points: [Point(id: .number(2), vector: [0.5, 0, 0])])
            #expect(try a.search("c", SearchRequest(vector: [0, 0, 0], limit: 1)).ids == [.number(2)])
            try b.delete("c", filter: Filter())
            #expect(try a.search("c", SearchRequest(vector: [0, 0, 0])).isEmpty)

            // Aliases.
            try a.updateAliases([.create(alias: "live", collection: "c")])
            #expect(try b.resolve("live") == "c")
            try b.upsert("live", points: [Point(id: .number(9), vector: [0, 0, 1])])
            #expect(try a.search("live", SearchRequest(vector: [0, 0, 1], limit: 1)).ids == [.number(9)])
            try b.updateAliases([.rename(from: "live", to: "prod")])
            #expect(try a.aliases().map(\.alias) == ["prod"])
            expectStoreError(.notFound) { try a.count("live") }

            // Drop in one; the other sees it gone; recreate with another shape.
            try a.dropCollection("c")
            expectStoreError(.notFound) { try b.search("c", SearchRequest(vector: [0, 0, 1])) }
            expectStoreError(.notFound) { try b.count("prod") }
            #expect(try b.aliases().isEmpty)
            try a.createCollection("c", dimension: 2, distance: .cosine)
            #expect(try b.collectionInfo("c").dimension == 2)
            try a.upsert("c", points: [Point(id: .number(1), vector: [1, 1])])
            let hits = try b.search("c", SearchRequest(vector: [1, 1]))
            #expect(hits.ids == [.number(1)] && abs(hits[0].score - 1) < 1e-6)
            expectStoreError(.invalidArgument) { try b.search("c", SearchRequest(vector: [1, 1, 1])) }
        }
    }

    @Test("a lazily loaded instance sees writes made before and after it loaded")
    func lazyLoad() throws {
        try withStoreDirectory { dir in
            var lazy = Store.Options.testing
            lazy.preload = false
            let a = try Store.open(at: dir.path, options: .testing)
            try a.createCollection("c", dimension: 2, distance: .dot)
            try a.upsert("c", points: randomPoints(20, dimension: 2, seed: 1))
            let b = try Store.open(at: dir.path, options: lazy)
            defer {
                try? a.close()
                try? b.close()
            }
            #expect(b.openReport.pointsLoaded.isEmpty)
            #expect(try b.collectionInfo("c").pointCount == 20)  // counted in the database, not loaded
            try a.delete("c", ids: [.number(0)])
            try a.upsert("c", points: [Point(id: .number(100), vector: [9, 9])])
            #expect(try b.search("c", SearchRequest(vector: [1, 1], limit: 1)).ids == [.number(100)])
            #expect(try b.count("c") == 20)
            try a.delete("c", ids: [.number(100)])
            #expect(try b.search("c", SearchRequest(vector: [1, 1], limit: 1)).ids != [.number(100)])
            #expect(try b.count("c") == 19)
        }
    }

    @Test("interleaved writes through both leave both in the same state as the database")
    func interleavedWriters() throws {
        try withTwoStores { a, b, dir in
            try a.createCollection("c", dimension: 4, distance: .manhattan)
            var rng = SplitMix64(seed: 5)
            for step in 0..<60 {
                let writer = step % 2 == 0 ? a : b
                let id = PointID.number(UInt64(rng.nextInt(below: 25)))
                switch rng.nextInt(below: 4) {
                case 0: try writer.delete("c", ids: [id])
                case 1:
                    // Updating a point that is not there is an error (as in Qdrant) and changes nothing.
                    do { try writer.updatePayload("c", .merge(["s": .int(Int64(step))]), ids: [id]) } catch let e as StoreError where e.code == .notFound {}
                default: try writer.upsert("c", points: [Point(id: id, vector: rng.nextVector(dimension: 4), payload: ["s": .int(Int64(step))])])
                }
            }
            let fresh = try Store.open(at: dir.path, options: .testing)
            defer { try? fresh.close() }
            let truth = try Self.state(fresh, "c", dimension: 4)
            let sa = try Self.state(a, "c", dimension: 4), sb = try Self.state(b, "c", dimension: 4)
            #expect(sa.0 == truth.0 && sa.1 == truth.1 && sa.2 == truth.2)
            #expect(sb.0 == truth.0 && sb.1 == truth.1 && sb.2 == truth.2)
        }
    }

    /// After the other instance commits, each of several threads searching through this one sees the commit on
    /// its next call. The threads that find the same new generation share one refresh (the others wait for it
    /// and then skip theirs), so a waiter must not skip one that does not cover what it read: every third round
    /// also creates a collection, which only a refresh (not a collection's catch-up) brings in.
    @Test("threads that find the same new generation all see it")
    func threadsShareARefresh() throws {
        try withTwoStores { a, b, _ in
            try a.createCollection("c", dimension: 2, distance: .euclid)
            try a.upsert("c", points: [Point(id: .number(0), vector: [0, 0])])
            #expect(try b.count("c") == 1)
            for round in 1...60 {
                try a.upsert("c", points: [Point(id: .number(UInt64(round)), vector: [Float(round), 0])])
                if round % 3 == 0 { try a.createCollection("x\(round)", dimension: 2, distance: .euclid) }
                let failures = Locked<[String]>([])
                runConcurrently((0..<4).map { t in
                    {
                        do {
                            let n = try b.search("c", SearchRequest(vector: [0, 0], limit: 100)).count
                            if n != round + 1 { failures.withLock { $0.append("thread \(t), round \(round): \(n) points") } }
                            if round % 3 == 0, try !b.collectionExists("x\(round)") {
                                failures.withLock { $0.append("thread \(t), round \(round): no collection x\(round)") }
                            }
                        } catch {
                            failures.withLock { $0.append("thread \(t), round \(round): \(error)") }
                        }
                    }
                })
                #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            }
        }
    }

    /// One instance upserts and deletes points in a loop while several threads search through the
    /// other: each search refreshes what changed, concurrently with the other searches' refreshes.
    /// Afterwards the reader's memory must equal the database: no deleted point may come back.
    @Test("concurrent refreshes in a reader never resurrect deleted points")
    func concurrentRefreshes() throws {
        try withStoreDirectory { dir in
            let writer = try Store.open(at: dir.path, options: .testing)
            let reader = try Store.open(at: dir.path, options: .testing)
            defer {
                try? writer.close()
                try? reader.close()
            }
            try writer.createCollection("c", dimension: 2, distance: .euclid)
            try writer.upsert("c", points: (0..<10).map { Point(id: .number(UInt64(1000 + $0)), vector: [100, Float($0)]) })
            #expect(try reader.count("c") == 10)
            let done = Locked(false)
            let failures = Locked<[String]>([])
            var bodies: [@Sendable () -> Void] = [{
                for i in 0..<300 {
                    let id = PointID.number(UInt64(i))
                    do {
                        try writer.upsert("c", points: [Point(id: id, vector: [0, 0])])
                        try writer.delete("c", ids: [id])
                    } catch {
                        failures.withLock { $0.append("writer: \(error)") }
                    }
                }
                done.withLock { $0 = true }
            }]
            bodies += readers(3, until: done, failures: failures) { _ in
                let hits = try reader.search("c", SearchRequest(vector: [0, 0], limit: 2))
                return hits.count > 1 && hits[1].id.description.count < 4 ? "two transient points at once: \(hits.ids)" : nil
            }
            runConcurrently(bodies)
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
            #expect(try writer.count("c") == 10)
            #expect(try reader.count("c") == 10, "the reader's memory holds points the database deleted")
            let hits = try reader.search("c", SearchRequest(vector: [0, 0], limit: 20))
            #expect(hits.ids == (0..<10).map { PointID.number(UInt64(1000 + $0)) })
        }
    }
}

/// Two store instances on one fresh directory (as two processes would have), closed afterwards.
func withTwoStores<T>(_ body: (Store, Store, TemporaryDirectory) throws -> T) throws -> T {
    try withStoreDirectory { dir in
        let a = try Store.open(at: dir.path, options: .testing)
        let b = try Store.open(at: dir.path, options: .testing)
        defer {
            try? a.close()
            try? b.close()
        }
        return try body(a, b, dir)
    }
}

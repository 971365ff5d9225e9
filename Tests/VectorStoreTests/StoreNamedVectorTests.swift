import Foundation
import GRDB
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store named vectors")
struct StoreNamedVectorTests {
    static let spaces = [VectorSpace(name: "text", dimension: 3, distance: .cosine), VectorSpace(name: "img", dimension: 2, distance: .euclid)]

    /// Deterministic points: text and img parts, concatenated.
    static func points(_ n: Int, seed: Int = 1) -> [Point] {
        (0..<n).map { i in
            let text: [Float] = [Float((i * 7 + seed) % 11) + 1, Float((i * 3 + seed) % 5), Float((i * 5 + seed) % 13) - 6]
            let img: [Float] = [Float((i * 11 + seed) % 17) - 8, Float((i * 13 + seed) % 7)]
            return Point(id: .number(UInt64(i)), vector: text + img, payload: ["i": .int(Int64(i))])
        }
    }

    /// The expected ranking, by brute force in Double.
    static func expected(_ points: [Point], query: [Float], space: Int, k: Int) -> [PointID] {
        let s = spaces[space]
        let offset = space == 0 ? 0 : 3
        func part(_ p: Point) -> [Double] { p.vector[offset..<(offset + s.dimension)].map(Double.init) }
        let q = query.map(Double.init)
        let scored = points.map { p -> (PointID, Double) in
            let v = part(p)
            switch s.distance {
            case .cosine:
                let nv = sqrt(v.reduce(0) { $0 + $1 * $1 }), nq = sqrt(q.reduce(0) { $0 + $1 * $1 })
                return (p.id, zip(v, q).reduce(0) { $0 + $1.0 * $1.1 } / (nv * nq))
            default:
                return (p.id, -sqrt(zip(v, q).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }))
            }
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k).map(\.0)
    }

    @Test("each named vector is searched on its own, with its own distance; cosine parts are normalised alone")
    func searchBySpace() throws {
        try withStore { store, dir in
            let info = try store.createCollection("multi", vectors: Self.spaces)
            #expect(info.vectors == Self.spaces && info.dimension == 5)
            var points = Self.points(60)
            try store.upsert("multi", points: points)
            let stored = try #require(try store.get("multi", ids: [.number(1)], withVector: true).first?.vector)
            let text = stored[0..<3].map(Double.init)
            #expect(abs(sqrt(text.reduce(0) { $0 + $1 * $1 }) - 1) < 1e-5, "the text part is normalised")
            #expect(Array(stored[3..<5]) == Array(points[1].vector[3..<5]), "the img part is kept as given")

            func check(_ store: Store, _ points: [Point]) throws {
                for (space, query) in [(0, [Float(1), 2, -1]), (1, [Float(2), 3]), (0, [-3, 0.5, 2]), (1, [-5, 1])] {
                    let hits = try store.search("multi", SearchRequest(vector: query, limit: 7, using: Self.spaces[space].name))
                    #expect(hits.map(\.id) == Self.expected(points, query: query, space: space, k: 7), "space \(space) \(query)")
                }
            }
            try check(store, points)
            // Deletes move rows around in every matrix alike.
            try store.delete("multi", ids: [.number(0), .number(17), .number(59)])
            points.removeAll { [PointID.number(0), .number(17), .number(59)].contains($0.id) }
            try check(store, points)
            // Replacing a point replaces every named vector of it.
            let replaced = Point(id: .number(5), vector: [1, 2, -1, 2, 3])
            try store.upsert("multi", points: [replaced])
            points[points.firstIndex { $0.id == .number(5) }!] = replaced
            try check(store, points)

            // Persisted: a fresh instance loads the named vectors from the catalog.
            let other = try Store.open(at: dir.path, options: .testing)
            #expect(try other.collectionInfo("multi").vectors == Self.spaces)
            try check(other, points)
            try other.close()
        }
    }

    @Test("`using` is required for named vectors, must name one of them, and must be absent for a plain collection")
    func usingRules() throws {
        try withStore { store, _ in
            try store.createCollection("multi", vectors: Self.spaces)
            try store.upsert("multi", points: Self.points(5))
            expectStoreError(.invalidArgument, "say which to search with `using`") { try store.search("multi", SearchRequest(vector: [1, 2, 3])) }
            expectStoreError(.invalidArgument, "no vector named 'audio'") { try store.search("multi", SearchRequest(vector: [1, 2], using: "audio")) }
            expectStoreError(.invalidArgument, "components") { try store.search("multi", SearchRequest(vector: [1, 2, 3], using: "img")) }
            expectStoreError(.invalidArgument, "components") { try store.upsert("multi", points: [Point(id: .number(9), vector: [1, 2, 3])]) }
            try store.createCollection("plain", dimension: 2, distance: .dot)
            try store.upsert("plain", points: [Point(id: .number(1), vector: [1, 0])])
            expectStoreError(.invalidArgument, "no named vectors") { try store.search("plain", SearchRequest(vector: [1, 0], using: "text")) }
            #expect(try store.search("plain", SearchRequest(vector: [1, 0], using: "")).count == 1)
            expectStoreError(.invalidArgument, "twice") { try store.createCollection("bad", vectors: [Self.spaces[0], Self.spaces[0]]) }
            expectStoreError(.invalidArgument, "at least one") { try store.createCollection("bad", vectors: []) }
            expectStoreError(.invalidArgument, "size 0") { try store.createCollection("bad", vectors: [VectorSpace(name: "a", dimension: 0, distance: .dot)]) }
            #expect(try store.collections().map(\.name) == ["multi", "plain"], "nothing was created by the refused calls")
        }
    }

    @Test("another instance on the same directory sees a named collection created and written after it opened")
    func multiInstance() throws {
        try withStore { store, dir in
            let other = try Store.open(at: dir.path, options: .testing)
            defer { try? other.close() }
            #expect(try other.collections().isEmpty)
            try store.createCollection("multi", vectors: Self.spaces)
            try store.upsert("multi", points: Self.points(20))
            #expect(try other.collectionInfo("multi").vectors == Self.spaces)
            let hits = try other.search("multi", SearchRequest(vector: [2, 3], limit: 3, using: "img"))
            #expect(hits.map(\.id) == Self.expected(Self.points(20), query: [2, 3], space: 1, k: 3))
            try store.upsert("multi", points: [Point(id: .number(100), vector: [0, 0, 1, 2, 3])])
            #expect(try other.search("multi", SearchRequest(vector: [2, 3], limit: 1, using: "img")).first?.id == .number(100))
        }
    }

    @Test("a named collection is marked so that a build without named vectors refuses it; a newer schema is refused")
    func olderAndNewerBuilds() throws {
        try withStoreDirectory { dir in
            let store = try Store.open(at: dir.path, options: .testing)
            try store.createCollection("multi", vectors: Self.spaces)
            try store.createCollection("plain", dimension: 2, distance: .dot)
            let marks = try store.readRecords { db in
                try Row.fetchAll(db, sql: "SELECT name, distance FROM vector_collections ORDER BY name").map { "\($0[0] as String)=\($0[1] as String)" }
            }
            // Builds before named vectors know only the four distances: "Named" makes them stop, not misread.
            #expect(marks == ["multi=Named", "plain=Dot"])
            #expect(try store.collectionInfo("multi").distance == .cosine, "the first named vector's distance")
            try store.writeRecords { db in try db.execute(sql: "PRAGMA user_version = 99") }
            try store.close()
            let error = expectStoreError(.storage) { try Store.open(at: dir.path, options: .testing) }
            #expect(error?.message.contains("written by a newer Switchyard") == true, "\(error?.message ?? "")")
        }
    }

    @Test("corrupt named-vector settings in the database are refused when read, never trusted", arguments: [
        #"[{"name": "text", "size": 0, "distance": "Cosine"}, {"name": "img", "size": 5, "distance": "Euclid"}]"#,
        #"[{"name": "text", "size": 3, "distance": "Cosine"}, {"name": "img", "size": 3, "distance": "Euclid"}]"#,
        #"[{"name": "text", "size": 3, "distance": "Cosine"}, {"name": "text", "size": 2, "distance": "Euclid"}]"#,
        #"[{"name": "text", "size": 3.5, "distance": "Cosine"}, {"name": "img", "size": 1.5, "distance": "Euclid"}]"#,
        #"[]"#, #"{"text": 3}"#,
    ])
    func corruptSettings(json: String) throws {
        try withStoreDirectory { dir in
            let store = try Store.open(at: dir.path, options: .testing)
            try store.createCollection("multi", vectors: Self.spaces)
            try store.writeRecords { db in try db.execute(sql: "UPDATE vector_collections SET vectors = ? WHERE name = 'multi'", arguments: [json]) }
            try store.close()
            let error = expectStoreError(.storage) { try Store.open(at: dir.path, options: .testing) }
            #expect(error?.message.contains("corrupt named vectors") == true, "\(error?.message ?? "")")
        }
    }

    @Test("an upsert built for a layout is refused when the collection was made again with another one")
    func upsertWithLayout() throws {
        try withStore { store, _ in
            try store.createCollection("multi", vectors: Self.spaces)
            let layout = try store.collectionShape("multi")
            #expect(layout.vectors == Self.spaces)
            try store.upsert("multi", points: Self.points(2), layout: layout)
            try store.dropCollection("multi")
            // Same total size, split differently: the old points would land in the wrong vectors.
            try store.createCollection("multi", vectors: [VectorSpace(name: "text", dimension: 2, distance: .cosine),
                                                          VectorSpace(name: "img", dimension: 3, distance: .euclid)])
            expectStoreError(.preconditionFailed, "changed its vectors") { try store.upsert("multi", points: Self.points(2), layout: layout) }
            #expect(try store.count("multi") == 0)
        }
    }
}

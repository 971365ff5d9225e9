import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store points")
struct StorePointTests {
    static let badPoints: [(String, [Point])] = [
        ("dimension too small", [Point(id: .number(10), vector: [1, 2])]),
        ("dimension too large", [Point(id: .number(10), vector: [1, 2, 3, 4])]),
        ("empty vector", [Point(id: .number(10), vector: [])]),
        ("NaN", [Point(id: .number(10), vector: [1, .nan, 3])]),
        ("infinity", [Point(id: .number(10), vector: [.infinity, 2, 3])]),
        ("negative infinity", [Point(id: .number(10), vector: [1, 2, -.infinity])]),
        // A good point before a bad one: nothing of the batch is stored.
        ("good then NaN", [Point(id: .number(10), vector: [1, 2, 3]), Point(id: .number(11), vector: [.nan, 0, 0])]),
        ("good then wrong dimension", [Point(id: .number(1), vector: [9, 9, 9]), Point(id: .number(11), vector: [1])]),
    ]

    @Test("a write with a precondition that no longer holds is refused whole; one that holds goes through")
    func preconditionedWrites() throws {
        struct Lost: Error {}
        try withStore { store, dir in
            try store.createCollection("c", dimension: 3, distance: .cosine)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0, 0], payload: ["k": 1])])
            let holds = WritePrecondition("the test holds the lease") { _ in }
            let lost = WritePrecondition("the test holds the lease") { _ in throw Lost() }
            let one = Filter(must: [.hasID([.number(1)])])

            let refused = [
                expectStoreError(.preconditionFailed) { try store.upsert("c", points: [Point(id: .number(2), vector: [0, 1, 0])], precondition: lost) },
                expectStoreError(.preconditionFailed) { try store.delete("c", filter: one, precondition: lost) },
                expectStoreError(.preconditionFailed) { try store.updatePayload("c", .merge(["k": 2]), filter: one, precondition: lost) },
            ]
            for error in refused { #expect(error?.message.contains("the test holds the lease no longer holds") == true) }
            let unchanged = [Record(id: .number(1), vector: [1, 0, 0], payload: ["k": 1])]
            #expect(try store.get("c", ids: [.number(1), .number(2)], withVector: true) == unchanged)
            let reopened = try Store.open(at: dir.path, options: .testing)
            #expect(try reopened.get("c", ids: [.number(1), .number(2)], withVector: true) == unchanged)
            try reopened.close()

            #expect(try store.updatePayload("c", .merge(["k": 2]), filter: one, precondition: holds) == 1)
            #expect(try store.upsert("c", points: [Point(id: .number(2), vector: [0, 1, 0])], precondition: holds) == 1)
            #expect(try store.get("c", ids: [.number(1)]).first?.payload == ["k": 2])
            #expect(try store.delete("c", filter: one, precondition: holds) == 1)
            #expect(try store.scroll("c", limit: 10).points.ids == [.number(2)])
        }
    }

    @Test("invalid vectors throw invalidArgument and store nothing",
          arguments: [Distance.cosine, .euclid], badPoints.indices)
    func invalidVectors(distance: Distance, index: Int) throws {
        let (name, points) = Self.badPoints[index]
        try withStore { store, dir in
            try store.createCollection("c", dimension: 3, distance: distance)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0, 0], payload: ["k": 1])])
            let error = expectStoreError(.invalidArgument) { try store.upsert("c", points: points) }
            #expect(error?.message.contains("point") == true, "\(name): the message names the point: \(error?.message ?? "")")
            #expect(try store.count("c") == 1, "\(name)")
            #expect(try store.collectionInfo("c").pointCount == 1)
            #expect(try store.get("c", ids: [.number(1)], withVector: true) == [
                Record(id: .number(1), vector: [1, 0, 0], payload: ["k": 1]),
            ], "\(name): the existing point is untouched")
            #expect(try store.scroll("c", limit: 100).points.ids == [.number(1)])
            // Nothing reached the database either.
            let reopened = try Store.open(at: dir.path, options: .testing)
            #expect(try reopened.count("c") == 1)
            try reopened.close()
        }
    }

    @Test("the flat upsert checks its counts")
    func flatUpsertChecks() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            let floats: [Float] = [1, 2, 3, 4, 5]
            expectStoreError(.invalidArgument) {
                try floats.withUnsafeBufferPointer { try store.upsert("c", ids: [.number(1), .number(2)], vectors: $0) }
            }
            let four: [Float] = [1, 2, 3, 4]
            expectStoreError(.invalidArgument) {
                try four.withUnsafeBufferPointer { try store.upsert("c", ids: [.number(1), .number(2)], vectors: $0, payloads: [nil]) }
            }
            #expect(try store.count("c") == 0)
            let stored = try four.withUnsafeBufferPointer {
                try store.upsert("c", ids: [.number(1), .number(2)], vectors: $0, payloads: [["a": 1], nil])
            }
            #expect(stored == 2)
            #expect(try store.get("c", ids: [.number(2), .number(1)], withVector: true) == [
                Record(id: .number(2), vector: [3, 4], payload: [:]),
                Record(id: .number(1), vector: [1, 2], payload: ["a": 1]),
            ])
            #expect(try store.upsert("c", points: []) == 0)
            expectStoreError(.notFound) { try store.upsert("nope", points: [Point(id: .number(1), vector: [1, 2])]) }
        }
    }

    @Test("upsert replaces vector and payload; the last of repeated ids wins")
    func upsertReplace() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .euclid)
            try store.upsert("c", points: [
                Point(id: .number(1), vector: [1, 1], payload: ["v": 1]),
                Point(id: .number(2), vector: [2, 2], payload: ["v": 1]),
            ])
            try store.upsert("c", points: [Point(id: .number(1), vector: [5, 5], payload: ["w": "x"])])
            #expect(try store.count("c") == 2)
            #expect(try store.get("c", ids: [.number(1)], withVector: true) == [Record(id: .number(1), vector: [5, 5], payload: ["w": "x"])])
            // Repeated id in one batch.
            try store.upsert("c", points: [
                Point(id: .number(3), vector: [0, 1]), Point(id: .number(3), vector: [0, 2], payload: ["last": true]),
            ])
            #expect(try store.get("c", ids: [.number(3)], withVector: true) == [Record(id: .number(3), vector: [0, 2], payload: ["last": true])])
            #expect(try store.count("c") == 3)
            // Search sees the replaced vector, not the old one.
            let hits = try store.search("c", SearchRequest(vector: [5, 5], limit: 1))
            #expect(hits.ids == [.number(1)] && hits[0].score == 0)
            #expect(try store.search("c", SearchRequest(vector: [1, 1], limit: 1)).ids == [.number(2)])
            // Replacing with an empty payload clears it.
            try store.upsert("c", points: [Point(id: .number(1), vector: [5, 5])])
            #expect(try store.get("c", ids: [.number(1)]) == [Record(id: .number(1), payload: [:])])
        }
    }

    @Test("cosine vectors are stored normalised; a zero vector stays zero")
    func cosineNormalised() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .cosine)
            try store.upsert("c", points: [Point(id: .number(1), vector: [3, 4]), Point(id: .number(2), vector: [0, 0])])
            let got = try store.get("c", ids: [.number(1), .number(2)], withVector: true)
            #expect(got[0].vector == Vectors.normalized([3, 4]))
            #expect(got[1].vector == [0, 0])
            let hits = try store.search("c", SearchRequest(vector: [30, 40], limit: 2))
            #expect(hits.ids == [.number(1), .number(2)])
            #expect(abs(hits[0].score - 1) < 1e-6 && hits[1].score == 0)
        }
    }

    @Test("get: in the order asked, missing ids left out, vector and payload on request")
    func get() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            let u = PointID(parsing: "550e8400-e29b-41d4-a716-446655440000")!
            try store.upsert("c", points: [
                Point(id: .number(1), vector: [1, 2], payload: ["a": ["b": [1, 2.5]]]),
                Point(id: u, vector: [3, 4], payload: ["s": "x"]),
            ])
            let r = try store.get("c", ids: [u, .number(99), .number(1), u])
            #expect(r == [Record(id: u, payload: ["s": "x"]), Record(id: .number(1), payload: ["a": ["b": [1, 2.5]]]), Record(id: u, payload: ["s": "x"])])
            #expect(try store.get("c", ids: [.number(1)], withVector: true, withPayload: false) == [Record(id: .number(1), vector: [1, 2])])
            #expect(try store.get("c", ids: []) == [])
            expectStoreError(.notFound) { try store.get("nope", ids: [.number(1)]) }
        }
    }

    @Test("delete by ids and by filter")
    func delete() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 3, distance: .euclid)
            let points = randomPoints(30, dimension: 3, seed: 1)
            try store.upsert("c", points: points)
            #expect(try store.delete("c", ids: [.number(0), .number(5), .number(999), .number(5)]) == 2)
            #expect(try store.count("c") == 28)
            #expect(try store.get("c", ids: [.number(0), .number(5), .number(6)]).ids == [.number(6)])
            let odd = try Filter(json: #"{"must": {"key": "tag", "match": {"value": "odd"}}}"#)
            #expect(try store.delete("c", filter: odd) == 14)  // 1, 3, ... 29 except 5
            #expect(try store.count("c") == 14)
            #expect(try store.count("c", filter: odd) == 0)
            #expect(try store.delete("c", filter: odd) == 0)
            // Search never returns deleted points.
            let hits = try store.search("c", SearchRequest(vector: points[5].vector, limit: 100))
            #expect(hits.count == 14)
            let evens: [PointID] = (1..<15).map { PointID.number(UInt64(2 * $0)) }
            #expect(Set(hits.ids) == Set(evens))
            // Delete everything, then re-insert a deleted id.
            #expect(try store.delete("c", filter: Filter()) == 14)
            #expect(try store.count("c") == 0)
            #expect(try store.search("c", SearchRequest(vector: [0, 0, 0])).isEmpty)
            try store.upsert("c", points: [points[5]])
            #expect(try store.search("c", SearchRequest(vector: [0, 0, 0])).ids == [.number(5)])
            #expect(try store.delete("c", ids: []) == 0)
        }
    }

    @Test("payload updates: merge, overwrite, delete keys, clear; by ids or filter")
    func updatePayload() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .cosine)
            try store.upsert("c", points: [
                Point(id: .number(1), vector: [1, 0], payload: ["a": 1, "b": "x"]),
                Point(id: .number(2), vector: [0, 1], payload: ["a": 2]),
                Point(id: .number(3), vector: [1, 1]),
            ])
            let vectorsBefore = try store.get("c", ids: [.number(1), .number(2), .number(3)], withVector: true, withPayload: false)

            // As Qdrant: a missing id is an error, and nothing changes.
            expectStoreError(.notFound, "point 42 not found") {
                try store.updatePayload("c", .merge(["b": "y"]), ids: [.number(1), .number(42)])
            }
            #expect(try store.get("c", ids: [.number(1)])[0].payload == ["a": 1, "b": "x"])
            // Non-finite numbers cannot be stored in a JSON payload.
            expectStoreError(.invalidArgument, "not a finite number") {
                try store.updatePayload("c", .merge(["bad": .double(.nan)]), ids: [.number(1)])
            }
            // A repeated id counts once.
            #expect(try store.updatePayload("c", .merge(["b": "y", "c": [1, 2]]), ids: [.number(1), .number(3), .number(1)]) == 2)
            #expect(try store.get("c", ids: [.number(1)])[0].payload == ["a": 1, "b": "y", "c": [1, 2]])
            #expect(try store.get("c", ids: [.number(3)])[0].payload == ["b": "y", "c": [1, 2]])

            #expect(try store.updatePayload("c", .overwrite(["z": true]), ids: [.number(1)]) == 1)
            #expect(try store.get("c", ids: [.number(1)])[0].payload == ["z": true])

            #expect(try store.updatePayload("c", .deleteKeys(["b", "missing"]), ids: [.number(3)]) == 1)
            #expect(try store.get("c", ids: [.number(3)])[0].payload == ["c": [1, 2]])

            let hasA = try Filter(json: #"{"must": {"key": "a", "range": {"gte": 0}}}"#)
            #expect(try store.updatePayload("c", .merge(["seen": 1]), filter: hasA) == 1)  // only point 2 still has a
            #expect(try store.get("c", ids: [.number(2)])[0].payload == ["a": 2, "seen": 1])

            #expect(try store.updatePayload("c", .clear, ids: [.number(2), .number(3)]) == 2)
            #expect(try store.get("c", ids: [.number(2), .number(3)]).map(\.payload) == [[:], [:]])
            #expect(try store.count("c", filter: hasA) == 0)

            // Vectors are untouched by payload updates.
            #expect(try store.get("c", ids: [.number(1), .number(2), .number(3)], withVector: true, withPayload: false) == vectorsBefore)
            #expect(try store.count("c") == 3)

            expectStoreError(.invalidArgument) { try store.updatePayload("c", .clear) }
            expectStoreError(.invalidArgument) { try store.updatePayload("c", .clear, ids: [.number(1)], filter: Filter()) }
        }
    }

    @Test("scroll: integer ids before UUIDs, offset inclusive, next page offset")
    func scroll() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            var ids = mixedIDs(40, seed: 9)
            for extra in [PointID.number(0), .number(UInt64.max), .number(1 << 53), .number((1 << 53) + 1001)] where !ids.contains(extra) {
                ids.append(extra)
            }
            try store.upsert("c", points: ids.enumerated().map { i, id in
                Point(id: id, vector: [Float(i), 1], payload: ["i": .int(Int64(i)), "odd": .bool(i % 2 == 1)])
            })
            let sorted = ids.sorted()
            #expect(sorted.first == .number(0))
            // Page through.
            var all: [PointID] = []
            var offset: PointID? = nil
            var pages = 0
            repeat {
                let page = try store.scroll("c", limit: 7, offset: offset)
                #expect(page.points.count <= 7)
                all += page.points.ids
                #expect(page.nextPageOffset == (all.count < sorted.count ? sorted[all.count] : nil))
                offset = page.nextPageOffset
                pages += 1
            } while offset != nil
            #expect(all == sorted)
            #expect(pages == (sorted.count + 6) / 7)
            // The offset is inclusive; an id that is not stored starts at the next one.
            let page = try store.scroll("c", limit: 3, offset: sorted[10])
            #expect(page.points.ids == Array(sorted[10..<13]))
            let page2 = try store.scroll("c", limit: 2, offset: .number(2))
            #expect(page2.points.first.map { $0.id >= .number(2) } == true)
            #expect(page2.points.ids == Array(sorted.filter { $0 >= .number(2) }.prefix(2)))
            // Exactly one page's worth: no next page.
            let whole = try store.scroll("c", limit: sorted.count)
            #expect(whole.points.ids == sorted && whole.nextPageOffset == nil)
            // Payload and vector on request.
            let first = try store.scroll("c", limit: 1, withVector: true, withPayload: false).points[0]
            let i = ids.firstIndex(of: first.id)!
            #expect(first.payload == nil && first.vector == [Float(i), 1])
            #expect(try store.scroll("c", limit: 1).points[0].vector == nil)
            expectStoreError(.invalidArgument) { try store.scroll("c", limit: 0) }
        }
    }

    @Test("scroll with a filter pages over matching points only")
    func scrollFiltered() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            let ids = mixedIDs(50, seed: 21)
            try store.upsert("c", points: ids.enumerated().map { i, id in
                Point(id: id, vector: [1, 1], payload: ["odd": .bool(i % 2 == 1)])
            })
            let odd = try Filter(json: #"{"must": {"key": "odd", "match": {"value": true}}}"#)
            let expected = ids.enumerated().filter { $0.offset % 2 == 1 }.map(\.element).sorted()
            var got: [PointID] = []
            var offset: PointID? = nil
            repeat {
                let page = try store.scroll("c", filter: odd, limit: 4, offset: offset)
                #expect(page.points.allSatisfy { $0.payload == ["odd": true] })
                got += page.points.ids
                if let next = page.nextPageOffset { #expect(expected.contains(next), "the next offset is a matching point") }
                offset = page.nextPageOffset
            } while offset != nil
            #expect(got == expected)
            #expect(try store.count("c", filter: odd) == 25)
        }
    }

    @Test("count: exact, with filters")
    func count() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .manhattan)
            try store.upsert("c", points: randomPoints(90, dimension: 2, seed: 4))
            #expect(try store.count("c") == 90)
            #expect(try store.count("c", filter: Filter()) == 90)
            #expect(try store.count("c", filter: try Filter(json: #"{"must": {"key": "g", "match": {"value": 1}}}"#)) == 30)
            #expect(try store.count("c", filter: try Filter(json: #"{"must": {"key": "i", "range": {"gte": 10, "lt": 20}}}"#)) == 10)
            #expect(try store.count("c", filter: try Filter(json: #"{"must": {"has_id": [1, 2, 1000]}}"#)) == 2)
            #expect(try store.count("c", filter: try Filter(json: #"{"must_not": {"key": "tag", "match": {"value": "odd"}}}"#)) == 45)
            #expect(try store.count("c", filter: try Filter(json: #"{"must": {"key": "missing", "match": {"value": 1}}}"#)) == 0)
            expectStoreError(.notFound) { try store.count("nope") }
        }
    }
}

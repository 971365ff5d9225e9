import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store search")
struct StoreSearchTests {
    @Test("a filter restricts the candidates", arguments: Distance.allCases)
    func filtered(distance: Distance) throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 4, distance: distance)
            let points = randomPoints(60, dimension: 4, seed: 2)
            try store.upsert("c", points: points)
            let g1 = try Filter(json: #"{"must": {"key": "g", "match": {"value": 1}}}"#)
            let hits = try store.search("c", SearchRequest(vector: points[0].vector, limit: 100, filter: g1, withPayload: true))
            #expect(hits.count == 20)
            #expect(hits.allSatisfy { $0.payload?["g"] == 1 })
            // The best g=1 point for its own vector is itself (cosine, euclid, manhattan).
            if distance != .dot {
                let own = try store.search("c", SearchRequest(vector: points[4].vector, limit: 1, filter: g1))
                #expect(own.ids == [.number(4)])
            }
            let none = try Filter(json: #"{"must": {"key": "g", "match": {"value": 7}}}"#)
            #expect(try store.search("c", SearchRequest(vector: points[0].vector, filter: none)).isEmpty)
            let ids = try Filter(json: #"{"must": {"has_id": [3, 9]}}"#)
            #expect(Set(try store.search("c", SearchRequest(vector: points[0].vector, filter: ids)).ids) == [.number(3), .number(9)])
        }
    }

    /// The threshold keeps only scores strictly better than it: greater for cosine/dot, smaller for euclid/manhattan.
    @Test("score_threshold is strict, in the distance's better direction", arguments: Distance.allCases)
    func scoreThreshold(distance: Distance) throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 3, distance: distance)
            try store.upsert("c", points: randomPoints(50, dimension: 3, seed: 5))
            let query: [Float] = [0.3, -0.2, 0.9]
            let all = try store.search("c", SearchRequest(vector: query, limit: 50))
            #expect(all.count == 50)
            for rank in [0, 1, 10, 49] {
                let t = all[rank].score
                let cut = try store.search("c", SearchRequest(vector: query, limit: 50, scoreThreshold: t))
                // Everything strictly better than the score at `rank`, and nothing tied with it.
                let expected = all.filter { distance.isStrictlyBetter($0.score, than: t) }
                #expect(cut == expected, "rank \(rank)")
                #expect(cut.count <= rank)
                #expect(!cut.contains { $0.score == t })
                if rank > 0, all[rank - 1].score != t { #expect(cut.count == rank) }
                // A threshold a little worse lets it in.
                let looser = distance.higherIsBetter ? t.nextDown : t.nextUp
                let withIt = try store.search("c", SearchRequest(vector: query, limit: 50, scoreThreshold: looser))
                #expect(withIt.contains { $0.id == all[rank].id })
            }
            if distance == .cosine {
                #expect(try store.search("c", SearchRequest(vector: query, scoreThreshold: 1)).isEmpty)
                #expect(try store.search("c", SearchRequest(vector: query, limit: 50, scoreThreshold: -1.5)).count == 50)
            }
            if distance == .euclid {
                #expect(try store.search("c", SearchRequest(vector: query, scoreThreshold: 0)).isEmpty)
            }
        }
    }

    @Test("offset skips the best results; limit counts after it", arguments: Distance.allCases)
    func offset(distance: Distance) throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 5, distance: distance)
            try store.upsert("c", points: randomPoints(40, dimension: 5, seed: 6))
            let q: [Float] = [1, 0, -1, 0.5, 0.25]
            let top = try store.search("c", SearchRequest(vector: q, limit: 12))
            let paged = try store.search("c", SearchRequest(vector: q, limit: 5, offset: 4))
            #expect(paged == Array(top[4..<9]))
            let tail = try store.search("c", SearchRequest(vector: q, limit: 10, offset: 35))
            #expect(tail.count == 5)
            #expect(try store.search("c", SearchRequest(vector: q, limit: 10, offset: 40)).isEmpty)
            let g0 = try Filter(json: #"{"must": {"key": "g", "match": {"value": 0}}}"#)
            let filteredTop = try store.search("c", SearchRequest(vector: q, limit: 6, filter: g0))
            #expect(try store.search("c", SearchRequest(vector: q, limit: 3, offset: 3, filter: g0)) == Array(filteredTop[3...]))
        }
    }

    @Test("payload and vector only on request")
    func withVectorAndPayload() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .cosine)
            try store.upsert("c", points: [Point(id: .number(1), vector: [3, 4], payload: ["a": "b"]), Point(id: .number(2), vector: [1, 0])])
            let q: [Float] = [3, 4]
            // Qdrant's defaults: neither payload nor vector.
            let bare = try store.search("c", SearchRequest(vector: q))
            #expect(bare.allSatisfy { $0.payload == nil && $0.vector == nil })
            let plain = try store.search("c", SearchRequest(vector: q, withPayload: true))
            #expect(plain.map(\.payload) == [["a": "b"], [:]])
            #expect(plain.allSatisfy { $0.vector == nil })
            let both = try store.search("c", SearchRequest(vector: q, withPayload: false, withVector: true))
            #expect(both.allSatisfy { $0.payload == nil })
            #expect(both.map(\.vector) == [Vectors.normalized([3, 4]), [1, 0]])
        }
    }

    @Test("bad requests are refused")
    func badRequests() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .dot)
            try store.upsert("c", points: [Point(id: .number(1), vector: [1, 0])])
            expectStoreError(.invalidArgument, "limit") { try store.search("c", SearchRequest(vector: [1, 0], limit: 0)) }
            expectStoreError(.invalidArgument, "offset") { try store.search("c", SearchRequest(vector: [1, 0], offset: -1)) }
            expectStoreError(.invalidArgument, "dimension") { try store.search("c", SearchRequest(vector: [1, 0, 0])) }
            expectStoreError(.invalidArgument) { try store.search("c", SearchRequest(vector: [])) }
            expectStoreError(.invalidArgument, "finite") { try store.search("c", SearchRequest(vector: [.nan, 0])) }
            expectStoreError(.invalidArgument, "finite") { try store.search("c", SearchRequest(vector: [0, .infinity])) }
            expectStoreError(.invalidArgument, "query #1") {
                try store.searchBatch("c", [SearchRequest(vector: [1, 0]), SearchRequest(vector: [1])])
            }
            expectStoreError(.notFound) { try store.search("nope", SearchRequest(vector: [1, 0])) }
            #expect(try store.searchBatch("c", []).isEmpty)
        }
    }

    @Test("a batch equals the same searches one by one", arguments: Distance.allCases)
    func batchEqualsSingles(distance: Distance) throws {
        try withStore { store, _ in
            // 40 plain queries × 64 dimensions: past the sgemm crossover.
            let d = 64
            try store.createCollection("c", dimension: d, distance: distance)
            var points = randomPoints(3000, dimension: d, seed: 8, ids: mixedIDs(3000, seed: 8))
            for i in stride(from: 0, to: 300, by: 10) { points[i + 1].vector = points[i].vector }  // duplicates
            try store.upsert("c", points: points)
            var rng = SplitMix64(seed: 12)
            let g2 = try Filter(json: #"{"must": {"key": "g", "match": {"value": 2}}}"#)
            var requests: [SearchRequest] = []
            for i in 0..<48 {
                let v = i % 5 == 0 ? points[i * 10].vector : rng.nextVector(dimension: d)
                requests.append(SearchRequest(
                    vector: v, limit: 1 + i % 12, offset: i % 7 == 0 ? 3 : 0, filter: i % 6 == 0 ? g2 : nil,
                    scoreThreshold: i % 9 == 0 ? 0.5 : nil, withPayload: i % 2 == 0, withVector: i % 4 == 0))
            }
            let batch = try store.searchBatch("c", requests)
            let singles = try requests.map { try store.search("c", $0) }
            #expect(batch.count == requests.count)
            for i in requests.indices {
                #expect(batch[i] == singles[i], "request \(i)")
            }
        }
    }

    /// Random points, ids mixing integers and UUIDs, duplicates and zero vectors: every search through
    /// the Store API agrees with a naive double-precision scan over the vectors as given.
    @Test("results equal a naive scan on random data", arguments: Distance.allCases)
    func equalsNaiveScan(distance: Distance) throws {
        try withStore { store, _ in
            let n = 700, d = 12
            try store.createCollection("c", dimension: d, distance: distance)
            let ids = mixedIDs(n, seed: 77)
            var points = randomPoints(n, dimension: d, seed: 78, ids: ids)
            var rng = SplitMix64(seed: 79)
            for _ in 0..<40 { points[rng.nextInt(below: n)].vector = points[rng.nextInt(below: n)].vector }
            for _ in 0..<5 { points[rng.nextInt(below: n)].vector = [Float](repeating: 0, count: d) }
            // Scaled copies: identical directions for cosine, near-ties for the reference.
            for _ in 0..<10 { points[rng.nextInt(below: n)].vector = points[rng.nextInt(below: n)].vector.map { $0 * 3 } }
            // Two upserts: the second replaces part of the first.
            try store.upsert("c", points: points.map { Point(id: $0.id, vector: rng.nextVector(dimension: d)) })
            try store.upsert("c", points: points)
            #expect(try store.count("c") == n)

            let data = points.flatMap(\.vector)
            let keys = ids.map(\.rowKey)
            let rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, $0.offset) })
            let g1 = try Filter(json: #"{"must": {"key": "g", "match": {"value": 1}}}"#)
            let g1Rows = (0..<n).filter { $0 % 3 == 1 }
            let g1Set = Set(g1Rows)
            let twins = ReferenceSearch.Twins(data: data, dimension: d)
            var queries = (0..<6).map { _ in rng.nextVector(dimension: d) }
            queries.append(points[3].vector)
            queries.append([Float](repeating: 0, count: d))
            for (qi, q) in queries.enumerated() {
                let reference = ReferenceSearch.rank(data: data, dimension: d, keys: keys, query: q, distance: distance)
                let filteredReference = ReferenceSearch.rank(data: data, dimension: d, keys: keys, query: q, distance: distance, candidates: g1Rows)
                for limit in [1, 10, n + 5] {
                    for (filter, ref, candidates) in [(nil, reference, nil), (g1, filteredReference, g1Set)] as [(Filter?, [ReferenceSearch.Hit], Set<Int>?)] {
                        let hits = try store.search("c", SearchRequest(vector: q, limit: limit, filter: filter, withPayload: false))
                        let p = ReferenceSearch.problems(
                            actual: hits.map { (rowOf[$0.id]!, $0.score) }, reference: ref, k: limit, keys: keys, twins: twins,
                            candidates: candidates)
                        #expect(p.isEmpty, "query \(qi) limit \(limit) filtered \(filter != nil): \(p.prefix(5))")
                    }
                }
            }
            // The batch path (sgemm for enough queries) agrees too.
            let batch = try store.searchBatch("c", queries.map { SearchRequest(vector: $0, limit: 10) } + queries.map { SearchRequest(vector: $0, limit: 10) })
            for (qi, hits) in batch.enumerated() {
                let q = queries[qi % queries.count]
                let reference = ReferenceSearch.rank(data: data, dimension: d, keys: keys, query: q, distance: distance)
                let p = ReferenceSearch.problems(
                    actual: hits.map { (rowOf[$0.id]!, $0.score) }, reference: reference, k: 10, keys: keys, twins: twins)
                #expect(p.isEmpty, "batch query \(qi): \(p.prefix(5))")
            }
        }
    }

    @Test("ties go to the smaller id: integers before UUIDs")
    func tiesBySmallerID() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 2, distance: .euclid)
            let ids = mixedIDs(30, seed: 31)
            try store.upsert("c", points: ids.map { Point(id: $0, vector: [1, 1]) })
            let hits = try store.search("c", SearchRequest(vector: [1, 1], limit: 30))
            #expect(hits.ids == ids.sorted())
            #expect(try store.search("c", SearchRequest(vector: [1, 1], limit: 5)).ids == Array(ids.sorted().prefix(5)))
        }
    }
}

import Foundation
import Testing
import VectorMath
import SwitchyardJSON
import VectorStore
import _SwitchyardTestSupport

@Suite("Store scalar quantization")
struct StoreQuantizationTests {
    static func request(_ v: [Float], limit: Int = 10, _ p: QuantizationParams?) -> SearchRequest {
        var r = SearchRequest(vector: v, limit: limit)
        r.quantization = p
        return r
    }

    @Test("a quantized collection searches its int8 copy, rescored; ignore searches exact; the setting survives reopening",
          arguments: [Distance.cosine, .dot, .euclid])
    func searches(distance: Distance) throws {
        try withStore { store, _ in
            let info = try store.createCollection("q", dimension: 32, distance: distance, quantization: ScalarQuantization(quantile: 0.99, alwaysRam: true))
            #expect(info.quantization == ScalarQuantization(quantile: 0.99, alwaysRam: true))
            let points = randomPoints(3000, dimension: 32, seed: 11)
            try store.upsert("q", points: points)
            // Changes after the first load: the int8 copy follows them.
            _ = try store.search("q", SearchRequest(vector: points[0].vector))
            try store.delete("q", ids: (0..<300).map { PointID.number(UInt64($0 * 7)) })
            try store.upsert("q", points: randomPoints(200, dimension: 32, seed: 12, ids: (0..<200).map { PointID.number(UInt64(5000 + $0)) }))

            let queries = (0..<20).map { i in randomPoints(1, dimension: 32, seed: 100 + UInt64(i))[0].vector }
            var found = 0
            for q in queries {
                let exact = try store.search("q", Self.request(q, QuantizationParams(ignore: true)))
                let rescored = try store.search("q", Self.request(q, QuantizationParams(oversampling: 4)))
                found += Set(rescored.ids).intersection(exact.ids).count
                // Rescored scores are the exact ones.
                let exactScore = Dictionary(uniqueKeysWithValues: try store.search("q", Self.request(q, limit: 4000, QuantizationParams(ignore: true))).map { ($0.id, $0.score) })
                for p in rescored { #expect(p.score == exactScore[p.id]) }
                // Without rescoring the scores are the int8 approximation: close, not all equal.
                let approximate = try store.search("q", Self.request(q, QuantizationParams(rescore: false)))
                #expect(approximate.count == 10)
                #expect(approximate.contains { $0.score != exactScore[$0.id] })
                for p in approximate { #expect(abs(p.score - exactScore[p.id]!) <= 0.05 * max(1, abs(exactScore[p.id]!))) }
            }
            #expect(Double(found) / Double(queries.count * 10) >= 0.95)

            // Batches take the same path as single searches.
            let batch = try store.searchBatch("q", queries.map { Self.request($0, QuantizationParams(rescore: false)) })
            for (i, q) in queries.enumerated() {
                #expect(batch[i].ids == (try store.search("q", Self.request(q, QuantizationParams(rescore: false)))).ids)
            }

            let reopened = try Store.open(at: store.directory, options: .testing)
            defer { try? reopened.close() }
            #expect(try reopened.collectionInfo("q").quantization == ScalarQuantization(quantile: 0.99, alwaysRam: true))
            // Retrained on the rows as they are now: still an approximation close to the exact scores.
            for q in queries.prefix(5) {
                let exactScore = Dictionary(uniqueKeysWithValues: try reopened.search("q", Self.request(q, limit: 4000, QuantizationParams(ignore: true))).map { ($0.id, $0.score) })
                let after = try reopened.search("q", Self.request(q, QuantizationParams(rescore: false)))
                #expect(after.count == 10)
                #expect(after.contains { $0.score != exactScore[$0.id] })
                for p in after { #expect(abs(p.score - exactScore[p.id]!) <= 0.05 * max(1, abs(exactScore[p.id]!))) }
            }
        }
    }

    @Test("bad settings are refused before anything is written")
    func refusals() throws {
        try withStore { store, _ in
            for bad in [0.2, 1.5, .nan] {
                expectStoreError(.invalidArgument, "quantile") {
                    try store.createCollection("bad", dimension: 4, distance: .cosine, quantization: ScalarQuantization(quantile: bad))
                }
            }
            #expect(try store.collections().isEmpty)
            try store.createCollection("q", dimension: 4, distance: .cosine, quantization: ScalarQuantization())
            try store.upsert("q", points: randomPoints(10, dimension: 4, seed: 1))
            expectStoreError(.invalidArgument, "oversampling") {
                try store.search("q", Self.request([1, 0, 0, 0], QuantizationParams(oversampling: 0.5)))
            }
            // Manhattan keeps exact searches (no int8 copy), whatever the request says.
            try store.createCollection("m", dimension: 4, distance: .manhattan, quantization: ScalarQuantization())
            try store.upsert("m", points: randomPoints(10, dimension: 4, seed: 1))
            let exact = try store.search("m", Self.request([1, 0, 0, 0], QuantizationParams(ignore: true)))
            #expect(try store.search("m", Self.request([1, 0, 0, 0], QuantizationParams(rescore: false))) == exact)
        }
    }

    @Test("Qdrant's quantization_config shape is read and written; anything else is named")
    func json() throws {
        let q = try ScalarQuantization(json: try JSONParser.parse(#"{"scalar": {"type": "int8", "quantile": 0.95, "always_ram": true}}"#))
        #expect(q == ScalarQuantization(quantile: 0.95, alwaysRam: true))
        #expect(try ScalarQuantization(json: q!.json) == q)
        #expect(try ScalarQuantization(json: .null) == nil)
        #expect(try ScalarQuantization(json: try JSONParser.parse(#"{"scalar": {"type": "int8"}}"#)) == ScalarQuantization())
        expectStoreError(.invalidArgument, "product") { try ScalarQuantization(json: try JSONParser.parse(#"{"product": {"compression": "x16"}}"#)) }
        expectStoreError(.invalidArgument, "int8") { try ScalarQuantization(json: try JSONParser.parse(#"{"scalar": {"type": "int4"}}"#)) }
        expectStoreError(.invalidArgument, "quantile") { try ScalarQuantization(json: try JSONParser.parse(#"{"scalar": {"type": "int8", "quantile": 2}}"#)) }
    }
}

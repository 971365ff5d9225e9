import AsyncHTTPClient
import Foundation
import NIOHTTP1
@testable import Server
import Synchronization
import SwitchyardJSON
import Testing
import VectorStore

@Suite("switchyard serve: Qdrant's REST API over loopback")
struct QdrantRESTTests {
    @Test("collections: create, info, exists, list, 409 on a second create, delete true then false, 404 in Qdrant's words")
    func collections() async throws {
        let s = try await ServerHarness.start()
        let created = try await s.call(.PUT, "/collections/docs", #"{"vectors": {"size": 4, "distance": "Cosine"}}"#)
        #expect(created.status == 200 && created.result == true)
        #expect(created.json["status"] == "ok" && created.json["time"]?.numberValue != nil)
        let info = try await s.call(.GET, "/collections/docs")
        #expect(info.result["config"]?["params"]?["vectors"] == ["size": 4, "distance": "Cosine"])
        #expect(info.result["points_count"] == 0 && info.result["status"] == "green")
        #expect(try await s.call(.GET, "/collections/docs/exists").result == ["exists": true])
        #expect(try await s.call(.GET, "/collections/nope/exists").result == ["exists": false])
        #expect(try await s.call(.GET, "/collections").result == ["collections": [["name": "docs"]]])
        let again = try await s.call(.PUT, "/collections/docs", #"{"vectors": {"size": 4, "distance": "Cosine"}}"#)
        #expect(again.status == 409 && again.error == "Wrong input: Collection `docs` already exists!")
        #expect(again.json["result"] == nil)
        let missing = try await s.call(.GET, "/collections/nope")
        #expect(missing.status == 404 && missing.error == "Not found: Collection `nope` doesn't exist!")
        #expect(try await s.call(.DELETE, "/collections/docs").result == true)
        #expect(try await s.call(.DELETE, "/collections/docs").result == false)
        try await s.stop()
    }

    @Test("scalar quantization: quantization_config is kept and shown; params.quantization picks rescoring, oversampling or the float vectors")
    func quantization() async throws {
        let s = try await ServerHarness.start()
        let bad = try await s.call(.PUT, "/collections/q", #"{"vectors": {"size": 8, "distance": "Cosine"}, "quantization_config": {"scalar": {"type": "int8", "quantile": 3}}}"#)
        #expect(bad.status == 400 && bad.error.contains("quantile"), "\(bad.text)")
        #expect(try await s.call(.GET, "/collections/q/exists").result == ["exists": false])
        let created = try await s.call(.PUT, "/collections/q",
                                       #"{"vectors": {"size": 8, "distance": "Cosine"}, "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}}"#)
        #expect(created.status == 200, "\(created.text)")
        let info = try await s.call(.GET, "/collections/q")
        #expect(info.result["config"]?["quantization_config"] == ["scalar": ["type": "int8", "quantile": 0.99, "always_ram": true]])
        // Product quantization is accepted and has no effect (the collection is searched exactly).
        let product = try await s.call(.PUT, "/collections/p", #"{"vectors": {"size": 8, "distance": "Cosine"}, "quantization_config": {"product": {"compression": "x16"}}}"#)
        #expect(product.status == 200)
        #expect(try await s.call(.GET, "/collections/p").result["config"]?["quantization_config"] == nil)

        var points: [String] = []
        var seed: UInt64 = 7
        func next() -> Double {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Double(seed >> 11) / Double(1 << 53) * 2 - 1
        }
        for i in 0..<500 { points.append(#"{"id": \#(i), "vector": [\#((0..<8).map { _ in String(next()) }.joined(separator: ","))]}"#) }
        let up = try await s.call(.PUT, "/collections/q/points?wait=true", #"{"points": [\#(points.joined(separator: ","))]}"#)
        #expect(up.status == 200, "\(up.text)")
        let query = "[0.3, -0.2, 0.9, 0.1, -0.5, 0.4, 0.2, -0.1]"
        func hits(_ params: String, limit: Int = 5) async throws -> [(id: Double, score: Double)] {
            let r = try await s.call(.POST, "/collections/q/points/search", #"{"vector": \#(query), "limit": \#(limit)\#(params)}"#)
            #expect(r.status == 200, "\(r.text)")
            return (r.result.arrayValue ?? []).compactMap { h in h["id"]?.numberValue.flatMap { id in h["score"]?.numberValue.map { (id, $0) } } }
        }
        let exact = try await hits(#", "params": {"quantization": {"ignore": true}}"#)
        let rescored = try await hits(#", "params": {"quantization": {"rescore": true, "oversampling": 3.0}}"#)
        let approximate = try await hits(#", "params": {"quantization": {"rescore": false}}"#)
        let all = Dictionary(uniqueKeysWithValues: try await hits(#", "params": {"quantization": {"ignore": true}}"#, limit: 500).map { ($0.id, $0.score) })
        #expect(exact.count == 5 && rescored.map(\.id) == exact.map(\.id) && rescored.map(\.score) == exact.map(\.score))
        #expect(approximate.count == 5 && approximate.map(\.score) != exact.map(\.score))
        // Close, within what clipping at the 0.99 quantile costs in 8 dimensions.
        for a in approximate { #expect(abs(a.score - all[a.id]!) < 0.15, "point \(a.id): \(a.score) vs \(all[a.id]!)") }
        let badOversampling = try await s.call(.POST, "/collections/q/points/search",
                                               #"{"vector": \#(query), "limit": 5, "params": {"quantization": {"oversampling": 0.5}}}"#)
        #expect(badOversampling.status == 422 || badOversampling.status == 400, "\(badOversampling.text)")
        #expect(badOversampling.error.contains("oversampling"))
        // The query API takes the same params.
        let q = try await s.call(.POST, "/collections/q/points/query", #"{"query": \#(query), "limit": 5, "params": {"quantization": {"ignore": true}}}"#)
        #expect((q.result["points"]?.arrayValue ?? []).compactMap { $0["score"]?.numberValue } == exact.map(\.score))
        try await s.stop()
    }

    @Test("points: list and batch upserts, integer (above 2^53) and UUID ids round-trip exactly, retrieve, scroll, count")
    func points() async throws {
        let s = try await ServerHarness.start()
        try await s.call(.PUT, "/collections/p", #"{"vectors": {"size": 2, "distance": "Dot"}}"#)
        let big = "18446744073709551615"
        let uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
        let up = try await s.call(.PUT, "/collections/p/points?wait=true", """
            {"points": [{"id": 1, "vector": [1, 0], "payload": {"city": "Berlin", "n": 1}},
                        {"id": \(big), "vector": [0, 1], "payload": {"city": "Paris", "n": 2}},
                        {"id": "\(uuid.uppercased())", "vector": [1, 1]}]}
            """)
        #expect(up.status == 200 && up.result["status"] == "completed", "\(up.text)")
        let batch = try await s.call(.PUT, "/collections/p/points?wait=false",
                                     #"{"batch": {"ids": [2, 3], "vectors": [[2, 0], [0, 2]], "payloads": [{"city": "Rome"}, null]}}"#)
        #expect(batch.result["status"] == "acknowledged")
        #expect(try await s.call(.POST, "/collections/p/points/count", #"{"exact": true}"#).result == ["count": 5])
        #expect(try await s.call(.POST, "/collections/p/points/count", #"{"filter": {"must": [{"key": "city", "match": {"value": "Paris"}}]}}"#).result == ["count": 1])

        let got = try await s.call(.POST, "/collections/p/points", #"{"ids": [\#(big), "\#(uuid)", 99], "with_vector": true}"#)
        #expect(got.text.contains("\"id\":\(big)"), "u64 ids must not pass through a Double: \(got.text)")
        #expect(got.result.count == 2)
        #expect(got.result[1]?["id"] == .string(uuid) && got.result[1]?["payload"] == [:])
        #expect(got.result[0]?["vector"] == [0.0, 1.0])
        let one = try await s.call(.GET, "/collections/p/points/1")
        #expect(one.result == ["id": 1, "payload": ["city": "Berlin", "n": 1], "vector": [1.0, 0.0]])
        let none = try await s.call(.GET, "/collections/p/points/77")
        #expect(none.status == 404 && none.error == "Not found: Point with id 77 does not exists!")

        // Scroll: integers first in order, then UUIDs; offset is inclusive.
        let page1 = try await s.call(.POST, "/collections/p/points/scroll", #"{"limit": 2, "with_payload": false}"#)
        #expect(page1.result["points"] == [["id": 1], ["id": 2]])
        #expect(page1.result["next_page_offset"] == 3)
        let page2 = try await s.call(.POST, "/collections/p/points/scroll", #"{"limit": 10, "offset": 3, "with_payload": ["city"]}"#)
        #expect(page2.result["points"]?.arrayValue?.map { $0["id"]! } == [3, .uint(UInt64.max), .string(uuid)])
        #expect(page2.result["points"]?[1]?["payload"] == ["city": "Paris"])
        #expect(page2.result["next_page_offset"] == .null)
        let zero = try await s.call(.POST, "/collections/p/points/scroll", #"{"limit": 0}"#)
        #expect(zero.status == 400 && zero.error == "Bad request: Limit cannot be 0")
        try await s.stop()
    }

    @Test("payloads: set merges, overwrite replaces, delete keys, clear, by ids and by filter; a missing id is 404")
    func payloads() async throws {
        let s = try await ServerHarness.start()
        try await s.call(.PUT, "/collections/c", #"{"vectors": {"size": 2, "distance": "Euclid"}}"#)
        try await s.call(.PUT, "/collections/c/points", #"{"points": [{"id": 1, "vector": [0, 0], "payload": {"a": 1, "b": 2}}, {"id": 2, "vector": [1, 1], "payload": {"a": 5}}]}"#)
        try await s.call(.POST, "/collections/c/points/payload", #"{"payload": {"c": "x"}, "points": [1]}"#)
        #expect(try await s.call(.GET, "/collections/c/points/1").result["payload"] == ["a": 1, "b": 2, "c": "x"])
        try await s.call(.PUT, "/collections/c/points/payload", #"{"payload": {"only": true}, "points": [1]}"#)
        #expect(try await s.call(.GET, "/collections/c/points/1").result["payload"] == ["only": true])
        try await s.call(.POST, "/collections/c/points/payload", #"{"payload": {"tag": "t"}, "filter": {"must": [{"key": "a", "match": {"value": 5}}]}}"#)
        #expect(try await s.call(.GET, "/collections/c/points/2").result["payload"] == ["a": 5, "tag": "t"])
        try await s.call(.POST, "/collections/c/points/payload/delete", #"{"keys": ["tag"], "points": [2]}"#)
        #expect(try await s.call(.GET, "/collections/c/points/2").result["payload"] == ["a": 5])
        try await s.call(.POST, "/collections/c/points/payload/clear", #"{"points": [2]}"#)
        #expect(try await s.call(.GET, "/collections/c/points/2").result["payload"] == [:])
        let missing = try await s.call(.POST, "/collections/c/points/payload", #"{"payload": {"x": 1}, "points": [1, 7]}"#)
        #expect(missing.status == 404 && missing.error == "Not found: No point with id 7 found")
        #expect(try await s.call(.GET, "/collections/c/points/1").result["payload"] == ["only": true], "nothing applied")
        // Batch: applied in order.
        let b = try await s.call(.POST, "/collections/c/points/batch", """
            {"operations": [{"upsert": {"points": [{"id": 3, "vector": [2, 2]}]}}, {"set_payload": {"payload": {"k": 1}, "points": [3]}},
                            {"delete": {"points": [1]}}]}
            """)
        #expect(b.result.count == 3)
        #expect(try await s.call(.POST, "/collections/c/points/count", "{}").result == ["count": 2])
        #expect(try await s.call(.GET, "/collections/c/points/3").result["payload"] == ["k": 1])
        let del = try await s.call(.POST, "/collections/c/points/delete", #"{"filter": {"must": [{"key": "k", "match": {"value": 1}}]}}"#)
        #expect(del.status == 200)
        #expect(try await s.call(.POST, "/collections/c/points/count", "{}").result == ["count": 1])
        try await s.stop()
    }

    @Test("search and query: cosine vectors come back normalised, scores in order, filter, threshold, offset, query by id")
    func searchAndQuery() async throws {
        let s = try await ServerHarness.start()
        try await s.call(.PUT, "/collections/v", #"{"vectors": {"size": 2, "distance": "Cosine"}}"#)
        try await s.call(.PUT, "/collections/v/points", """
            {"points": [{"id": 1, "vector": [3, 4], "payload": {"g": "a"}}, {"id": 2, "vector": [1, 0], "payload": {"g": "b"}},
                        {"id": 3, "vector": [0, 1], "payload": {"g": "a"}}, {"id": 4, "vector": [-1, 0], "payload": {"g": "b"}}]}
            """)
        let r = try await s.call(.POST, "/collections/v/points/search", #"{"vector": [1, 0], "limit": 3, "with_vector": true}"#)
        let ids = r.result.arrayValue?.map { $0["id"]! }
        #expect(ids == [2, 1, 3])
        #expect(r.result[0]?["score"]?.numberValue.map { abs($0 - 1) < 1e-6 } == true)
        #expect(r.result[1]?["vector"]?.arrayValue?.compactMap(\.numberValue).map { Float($0) } == [0.6, 0.8])
        #expect(r.result[0]?["version"] != nil && r.result[0]?["payload"] == nil)
        let filtered = try await s.call(.POST, "/collections/v/points/search",
                                        #"{"vector": [1, 0], "limit": 10, "filter": {"must": [{"key": "g", "match": {"value": "a"}}]}, "with_payload": true, "score_threshold": 0.1}"#)
        #expect(filtered.result.arrayValue?.map { $0["id"]! } == [1])
        #expect(filtered.result[0]?["payload"] == ["g": "a"])
        let paged = try await s.call(.POST, "/collections/v/points/search", #"{"vector": [1, 0], "limit": 2, "offset": 1}"#)
        #expect(paged.result.arrayValue?.map { $0["id"]! } == [1, 3])

        let paged2 = try await s.call(.POST, "/collections/v/points/query", #"{"query": 2, "limit": 1, "offset": 1}"#)
        #expect(paged2.result["points"]?.arrayValue?.map { $0["id"]! } == [3], "offsets page over the other points")
        let huge = try await s.call(.POST, "/collections/v/points/query", #"{"offset": 9223372036854775807}"#)
        #expect(huge.status == 200 && huge.result["points"] == [])
        let hugeLimit = try await s.call(.POST, "/collections/v/points/query", #"{"query": 1, "limit": 9223372036854775807}"#)
        #expect(hugeLimit.status == 200 && hugeLimit.result["points"]?.count == 3)
        let hugeSearch = try await s.call(.POST, "/collections/v/points/search", #"{"vector": [1, 0], "limit": 9223372036854775807, "offset": 9223372036854775807}"#)
        #expect(hugeSearch.status == 200 && hugeSearch.result == [])
        let q = try await s.call(.POST, "/collections/v/points/query", #"{"query": {"nearest": [1, 0]}, "limit": 2, "with_payload": true}"#)
        #expect(q.result["points"]?.arrayValue?.map { $0["id"]! } == [2, 1])
        let byID = try await s.call(.POST, "/collections/v/points/query", #"{"query": 2, "limit": 2}"#)
        #expect(byID.result["points"]?.arrayValue?.map { $0["id"]! } == [1, 3], "the referenced point is left out")
        let plain = try await s.call(.POST, "/collections/v/points/query", #"{"limit": 2}"#)
        #expect(plain.result["points"]?.arrayValue?.map { $0["id"]! } == [1, 2])
        let batch = try await s.call(.POST, "/collections/v/points/query/batch", #"{"searches": [{"query": [0, 1], "limit": 1}, {"query": [-1, 0], "limit": 1}]}"#)
        #expect(batch.result.arrayValue?.map { $0["points"]?[0]?["id"] } == [3, 4])
        let sb = try await s.call(.POST, "/collections/v/points/search/batch", #"{"searches": [{"vector": [0, 1], "limit": 1}, {"vector": [1, 0], "limit": 1}]}"#)
        #expect(sb.result.arrayValue?.map { $0[0]?["id"] } == [3, 2])

        let dim = try await s.call(.POST, "/collections/v/points/search", #"{"vector": [1, 0, 0], "limit": 3}"#)
        #expect(dim.status == 400 && dim.error == "Wrong input: Vector dimension error: expected dim: 2, got 3")
        let limit0 = try await s.call(.POST, "/collections/v/points/search", #"{"vector": [1, 0], "limit": 0}"#)
        #expect(limit0.status == 422)
        let prefetch = try await s.call(.POST, "/collections/v/points/query", #"{"prefetch": [{"query": [1, 0]}], "query": {"fusion": "rrf"}}"#)
        #expect(prefetch.status == 400 && prefetch.error.contains("prefetch") && prefetch.error.contains("not supported"))
        let named = try await s.call(.POST, "/collections/v/points/query", #"{"query": [1, 0], "using": "text"}"#)
        #expect(named.status == 400 && named.error == "Wrong input: Not existing vector name error: text")
        try await s.stop()
    }

    @Test("named vectors: create, info, upsert as points and as a batch, search each by name, vectors returned by name")
    func namedVectors() async throws {
        let s = try await ServerHarness.start()
        let created = try await s.call(.PUT, "/collections/m", #"{"vectors": {"text": {"size": 2, "distance": "Cosine"}, "image": {"size": 3, "distance": "Euclid"}}}"#)
        #expect(created.status == 200, "\(created.text)")
        let info = try await s.call(.GET, "/collections/m")
        #expect(info.result["config"]?["params"]?["vectors"] == ["text": ["size": 2, "distance": "Cosine"], "image": ["size": 3, "distance": "Euclid"]])
        let up = try await s.call(.PUT, "/collections/m/points", """
            {"points": [{"id": 1, "vector": {"text": [3, 4], "image": [0, 0, 0]}, "payload": {"k": 1}},
                        {"id": 2, "vector": {"text": [0, 1], "image": [1, 1, 1]}}]}
            """)
        #expect(up.status == 200, "\(up.text)")
        let batch = try await s.call(.PUT, "/collections/m/points", #"{"batch": {"ids": [3], "vectors": {"text": [[1, 0]], "image": [[5, 5, 5]]}}}"#)
        #expect(batch.status == 200, "\(batch.text)")
        let byText = try await s.call(.POST, "/collections/m/points/query", #"{"query": [1, 0], "using": "text", "limit": 3, "with_vector": true}"#)
        #expect(byText.result["points"]?.arrayValue?.map { $0["id"]! } == [3, 1, 2])
        #expect(byText.result["points"]?[1]?["vector"] == ["text": [0.6000000238418579, 0.800000011920929], "image": [0.0, 0.0, 0.0]])
        let byImage = try await s.call(.POST, "/collections/m/points/search", #"{"vector": {"name": "image", "vector": [1, 1, 2]}, "limit": 2, "with_vector": ["image"]}"#)
        #expect(byImage.result.arrayValue?.map { $0["id"]! } == [2, 1])
        #expect(byImage.result[0]?["vector"] == ["image": [1.0, 1.0, 1.0]])
        #expect(byImage.result[0]?["score"]?.numberValue == 1)
        let byID = try await s.call(.POST, "/collections/m/points/query", #"{"query": 1, "using": "image", "limit": 1}"#)
        #expect(byID.result["points"]?[0]?["id"] == 2)
        let got = try await s.call(.POST, "/collections/m/points", #"{"ids": [2], "with_vector": ["text"]}"#)
        #expect(got.result[0]?["vector"] == ["text": [0.0, 1.0]])
        for (method, path, body, message) in [
            (HTTPMethod.POST, "/collections/m/points/query", #"{"query": [1, 0], "limit": 3}"#, "say which with `using`"),
            (.POST, "/collections/m/points/query", #"{"query": [1, 0], "using": "audio"}"#, "Not existing vector name error: audio"),
            (.POST, "/collections/m/points/query", #"{"query": [1, 0, 0], "using": "text"}"#, "expected dim: 2, got 3"),
            (.PUT, "/collections/m/points", #"{"points": [{"id": 9, "vector": {"text": [1, 0]}}]}"#, "without every named vector"),
            (.PUT, "/collections/m/points", #"{"points": [{"id": 9, "vector": {"text": [1, 0], "image": [1, 2, 3], "audio": [1]}}]}"#, "Not existing vector name error: audio"),
            (.PUT, "/collections/m/points", #"{"points": [{"id": 9, "vector": [1, 0, 1, 2, 3]}]}"#, "Not existing vector name error"),
            (.PUT, "/collections/m/points", #"{"points": [{"id": 9, "vector": {"text": [1, 0, 0], "image": [1, 2, 3]}}]}"#, "expected dim: 2, got 3"),
            (.POST, "/collections/m/points", #"{"ids": [1], "with_vector": ["audio"]}"#, "Not existing vector name error: audio"),
        ] {
            let r = try await s.call(method, path, body)
            #expect(r.status == 400 && r.error.contains(message), "\(path) \(body): \(r.text)")
        }
        #expect(try await s.call(.POST, "/collections/m/points/count", "{}").result["count"] == 3)
        try await s.stop()
    }

    @Test("aliases: an atomic swap, listing, delete of a missing alias is a no-op, alias to alias is 404, an alias cannot take a collection's name")
    func aliases() async throws {
        let s = try await ServerHarness.start()
        for name in ["v1", "v2"] { try await s.call(.PUT, "/collections/\(name)", #"{"vectors": {"size": 2, "distance": "Dot"}}"#) }
        #expect(try await s.call(.POST, "/collections/aliases", #"{"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "live"}}]}"#).result == true)
        #expect(try await s.call(.GET, "/collections/live").result["config"] != nil)
        #expect(try await s.call(.GET, "/collections/live/exists").result == ["exists": true])
        let swap = try await s.call(.POST, "/collections/aliases", """
            {"actions": [{"delete_alias": {"alias_name": "live"}}, {"create_alias": {"collection_name": "v2", "alias_name": "live"}}]}
            """)
        #expect(swap.result == true)
        #expect(try await s.call(.GET, "/aliases").result == ["aliases": [["alias_name": "live", "collection_name": "v2"]]])
        #expect(try await s.call(.GET, "/collections/v1/aliases").result == ["aliases": []])
        #expect(try await s.call(.GET, "/collections/v2/aliases").result["aliases"]?.count == 1)
        #expect(try await s.call(.POST, "/collections/aliases", #"{"actions": [{"delete_alias": {"alias_name": "ghost"}}]}"#).status == 200)
        let toAlias = try await s.call(.POST, "/collections/aliases", #"{"actions": [{"create_alias": {"collection_name": "live", "alias_name": "x"}}]}"#)
        #expect(toAlias.status == 404 && toAlias.error == "Not found: Collection `live` doesn't exist!")
        let taken = try await s.call(.POST, "/collections/aliases", #"{"actions": [{"create_alias": {"collection_name": "v2", "alias_name": "v1"}}]}"#)
        #expect(taken.status == 409)
        // All or nothing: a failing second action leaves the first unapplied.
        let half = try await s.call(.POST, "/collections/aliases", """
            {"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "other"}}, {"rename_alias": {"old_alias_name": "nope", "new_alias_name": "y"}}]}
            """)
        #expect(half.status == 404 && half.error == "Not found: Alias nope does not exists!")
        #expect(try await s.call(.GET, "/aliases").result["aliases"]?.count == 1)
        #expect(try await s.call(.DELETE, "/collections/live").result == false, "an alias name deletes nothing")
        #expect(try await s.call(.DELETE, "/collections/v2").result == true)
        #expect(try await s.call(.GET, "/aliases").result == ["aliases": []], "dropping a collection drops its aliases")
        try await s.stop()
    }

    @Test("bad input gets 4xx naming the problem and changes nothing")
    func badInput() async throws {
        let s = try await ServerHarness.start(maxRequestBytes: 4096)
        try await s.call(.PUT, "/collections/c", #"{"vectors": {"size": 2, "distance": "Cosine"}}"#)
        try await s.call(.PUT, "/collections/c/points", #"{"points": [{"id": 1, "vector": [1, 0], "payload": {"a": 1}}]}"#)
        let cases: [(HTTPMethod, String, String, Int, String)] = [
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": [1, 0]},"#, 400, "Format error in JSON body"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": [1, 0, 0]}]}"#, 400, "Vector dimension error: expected dim: 2, got 3"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": [1, 0]}, {"id": 3, "vector": [1]}]}"#, 400, "expected dim: 2, got 1"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": -4, "vector": [1, 0]}]}"#, 400, "points[0].id"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": "not-a-uuid", "vector": [1, 0]}]}"#, 400, "UUID"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": ["x", 0]}]}"#, 400, "points[0].vector[0]"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": {"text": [1, 0]}}]}"#, 400, "Not existing vector name error: text"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": [1e39, 0]}]}"#, 400, "non-finite"),
            (.PUT, "/collections/c/points", #"{"batch": {"ids": [2, 3], "vectors": [[1, 0]]}}"#, 400, "2 ids but 1 vectors"),
            (.PUT, "/collections/c/points", #"{"points": [{"id": 2, "vector": [1, 0], "payload": [1]}]}"#, 400, "payload: expected an object"),
            (.PUT, "/collections/c/points", String(repeating: " ", count: 5000) + "{}", 413, "larger than allowed"),
            (.PUT, "/collections/d", #"{"vectors": {"size": 0, "distance": "Cosine"}}"#, 422, "vectors.size"),
            (.PUT, "/collections/d", #"{"vectors": {"size": 2, "distance": "Hamming"}}"#, 400, "unknown variant `Hamming`"),
            (.PUT, "/collections/d", #"{"vectors": {"text": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}}}"#, 400, "multivector"),
            (.PUT, "/collections/d", #"{"vectors": {"text": {"size": 0, "distance": "Dot"}}}"#, 422, "vectors.text.size"),
            (.PUT, "/collections/d", #"{"vectors": {"size": 2, "distance": "Dot"}, "sparse_vectors": {"s": {}}}"#, 400, "sparse_vectors"),
            (.PUT, "/collections/bad name", #"{"vectors": {"size": 2, "distance": "Dot"}}"#, 400, "Wrong input"),
            (.POST, "/collections/c/points/search", #"{"limit": 3}"#, 400, "missing field `vector`"),
            (.POST, "/collections/c/points/search", #"{"vector": [1, 0]}"#, 400, "missing field `limit`"),
            (.POST, "/collections/c/points/search", #"{"vector": [1, 0], "limit": 2, "filter": {"must": [{"key": "a", "range": {"gt": "x"}}]}}"#, 400, "filter"),
            (.POST, "/collections/c/points/scroll", #"{"limit": "ten"}"#, 400, "limit: expected an unsigned integer"),
            (.POST, "/collections/c/points/delete", "{}", 400, "expected \"points\""),
            (.POST, "/collections/c/points/payload", #"{"payload": {"x": 1}, "points": [1], "key": "a.b"}"#, 400, "nested"),
            (.POST, "/collections/c/points/recommend", #"{"positive": [1]}"#, 400, "not supported"),
            (.POST, "/collections/c/points/batch", #"{"operations": [{"upsert": {"points": [{"id": 5, "vector": [1, 0]}]}}, {"delete": {}}]}"#, 400, "operations[1].delete"),
            (.POST, "/collections/c/points/batch", #"{"operations": [{"upsert": {"points": [{"id": 5, "vector": [1, 0]}]}}, {"set_payload": {"points": [1]}}]}"#, 400, "operations[1].set_payload.payload"),
            (.POST, "/collections/c/points/batch", #"{"operations": [{"upsert": {"points": [{"id": 5, "vector": [1, 0]}]}}, {"delete_payload": {"keys": ["a.b"], "points": [1]}}]}"#, 400, "nested payload key"),
            (.POST, "/collections/c/points/batch", #"{"operations": [{"upsert": {"points": [{"id": 5, "vector": [1, 0]}]}}, {"upsert": {"points": [], "update_mode": "insert_only"}}]}"#, 400, "update_mode"),
            (.PUT, "/collections/c/index", #"{"field_name": "a", "field_schema": "Keyword"}"#, 400, "unknown variant `Keyword`"),
            (.PATCH, "/collections/missing", "{}", 404, "Collection `missing` doesn't exist!"),
            (.POST, "/collections/aliases", #"{"actions": [{"make_alias": {}}]}"#, 400, "actions[0]"),
            (.POST, "/collections/missing/points/search", #"{"vector": [1, 0], "limit": 1}"#, 404, "Collection `missing` doesn't exist!"),
            (.PUT, "/collections/c/points?wait=maybe", #"{"points": []}"#, 400, "wait"),
            (.GET, "/no/such/endpoint", "", 404, "no endpoint"),
            (.DELETE, "/collections/c/points/scroll", "", 405, "Method not allowed"),
            (.POST, "/snapshots", "", 400, "not supported"),
        ]
        for (method, path, body, status, message) in cases {
            let r = try await s.call(method, path, body.isEmpty ? nil : body)
            #expect(r.status == status, "\(method) \(path): \(r.text)")
            #expect(r.error.contains(message), "\(method) \(path): \(r.error)")
            #expect(r.json["time"] != nil && r.json["result"] == nil)
        }
        #expect(try await s.call(.POST, "/collections/c/points/count", "{}").result == ["count": 1])
        #expect(try await s.call(.GET, "/collections/c/points/1").result["payload"] == ["a": 1])
        #expect(try await s.call(.GET, "/collections").result == ["collections": [["name": "c"]]])
        try await s.stop()
    }

    @Test("an API key guards every endpoint but the health probes; header or bearer; wrong or missing is 401")
    func apiKey() async throws {
        let s = try await ServerHarness.start(apiKey: "s3cret-key")
        #expect(try await s.call(.GET, "/collections").status == 200)
        #expect(try await s.call(.GET, "/collections", headers: [("authorization", "Bearer s3cret-key")]).status == 200)
        let none = try await s.call(.GET, "/collections", headers: [])
        #expect(none.status == 401 && none.error.contains("API key"))
        #expect(try await s.call(.GET, "/", headers: []).status == 200, "the version probe is open, as in Qdrant")
        #expect(try await s.call(.GET, "/collections", headers: [("api-key", "s3cret-kez")]).status == 401)
        #expect(try await s.call(.GET, "/collections", headers: [("api-key", "s3cret-key-longer")]).status == 401)
        #expect(try await s.call(.PUT, "/collections/x", #"{"vectors": {"size": 2, "distance": "Dot"}}"#, headers: [("api-key", "nope")]).status == 401)
        #expect(try await s.call(.GET, "/collections").result == ["collections": []], "a refused write changed nothing")
        for probe in ["/healthz", "/livez", "/readyz"] {
            #expect(try await s.call(.GET, probe, headers: []).status == 200)
        }
        let metrics = try await s.call(.GET, "/metrics")
        #expect(metrics.status == 200 && metrics.text.contains("switchyard_http_requests_total"))
        try await s.stop()
    }

    @Test("service endpoints: version JSON without an envelope, health text, read-only refuses writes with 403")
    func service() async throws {
        let s = try await ServerHarness.start(readOnly: true)
        let root = try await s.call(.GET, "/")
        #expect(root.json["title"] == "qdrant - vector search engine" && root.json["version"] == .string(QdrantAPI.defaultVersion))
        #expect(try await s.call(.GET, "/healthz").text == "healthz check passed")
        #expect(try await s.call(.GET, "/readyz").text == "all shards are ready")
        let w = try await s.call(.PUT, "/collections/x", #"{"vectors": {"size": 2, "distance": "Dot"}}"#)
        #expect(w.status == 403 && w.error.contains("read-only"))
        #expect(try await s.call(.GET, "/collections").result == ["collections": []])
        try await s.stop()
    }

    @Test("read-only refuses every write; payload indexes show in the collection's payload_schema; PATCH is accepted")
    func readOnlyAndIndexes() async throws {
        let s = try await ServerHarness.start()
        try await s.call(.PUT, "/collections/c", #"{"vectors": {"size": 2, "distance": "Dot"}}"#)
        let idx = try await s.call(.PUT, "/collections/c/index?wait=true", #"{"field_name": "city", "field_schema": "keyword"}"#)
        #expect(idx.status == 200 && idx.result["status"] == "completed")
        #expect(try await s.call(.GET, "/collections/c").result["payload_schema"]?["city"]?["data_type"] == "keyword")
        #expect(try await s.call(.DELETE, "/collections/c/index/city").status == 200)
        #expect(try await s.call(.GET, "/collections/c").result["payload_schema"] == [:])
        #expect(try await s.call(.PATCH, "/collections/c", #"{"optimizers_config": {"indexing_threshold": 10000}}"#).result == true)
        try await s.stop()

        let r = try await ServerHarness.start(readOnly: true)
        for (method, path, body) in [
            (HTTPMethod.PUT, "/collections/c/points", #"{"points": [{"id": 1, "vector": [1, 0]}]}"#),
            (.POST, "/collections/aliases", #"{"actions": [{"create_alias": {"collection_name": "c", "alias_name": "a"}}]}"#),
            (.POST, "/collections/c/points/batch", #"{"operations": []}"#),
            (.PUT, "/collections/c/index", #"{"field_name": "city", "field_schema": "keyword"}"#),
            (.POST, "/collections/c/points/delete", #"{"points": [1]}"#),
            (.DELETE, "/collections/c", ""),
        ] {
            let reply = try await r.call(method, path, body.isEmpty ? nil : body)
            #expect(reply.status == 403, "\(method) \(path): \(reply.text)")
        }
        try await r.stop()
    }

    @Test("unknown paths are counted under one route label, not under the client's path")
    func metricLabels() async throws {
        let s = try await ServerHarness.start()
        for i in 0..<3 { #expect(try await s.call(.POST, "/collections/c/points/zz\(i)/yy\(i)", "{}").status == 404) }
        let metrics = try await s.call(.GET, "/metrics")
        #expect(metrics.text.contains(#"route="unknown""#))
        #expect(!metrics.text.contains("zz0") && !metrics.text.contains("yy1"))
        try await s.stop()
    }

    @Test("the key comparison sees every byte and the length")
    func keyComparison() {
        let key = Array("s3cret".utf8)
        #expect(QdrantResponder.constantTimeEqual(key, key))
        #expect(!QdrantResponder.constantTimeEqual(key + [UInt8](repeating: 0, count: 256), key))
        #expect(!QdrantResponder.constantTimeEqual(Array("s3creu".utf8), key))
        #expect(!QdrantResponder.constantTimeEqual([], key))
    }

    @Test("alias swaps while 8 clients search through the alias: no errors, never a mix of generations")
    func swapsUnderLoad() async throws {
        let s = try await ServerHarness.start()
        for (gen, name) in [(1, "gen1"), (2, "gen2")] {
            try await s.call(.PUT, "/collections/\(name)", #"{"vectors": {"size": 4, "distance": "Cosine"}}"#)
            var points: [JSONValue] = []
            for i in 0..<200 {
                let v: [JSONValue] = (0..<4).map { .double(Double((i * 7 + $0 * 13 + gen) % 17) + 0.5) }
                points.append(["id": .int(Int64(i)), "vector": .array(v), "payload": ["gen": .int(Int64(gen))]])
            }
            try await s.call(.PUT, "/collections/\(name)/points", json: ["points": .array(points)])
        }
        try await s.call(.POST, "/collections/aliases", #"{"actions": [{"create_alias": {"collection_name": "gen1", "alias_name": "live"}}]}"#)
        let stop = Flag()
        let results = try await withThrowingTaskGroup(of: (Int, Int, Set<Int64>).self) { group in
            for reader in 0..<8 {
                group.addTask {
                    var ok = 0, errors = 0
                    var seen = Set<Int64>()
                    var i = reader
                    while !stop.isSet {
                        i += 1
                        let r = try await s.call(.POST, "/collections/live/points/search",
                                                 #"{"vector": [\#(i % 5), 1, \#(i % 3), 2], "limit": 10, "with_payload": true}"#)
                        guard r.status == 200, let hits = r.result.arrayValue, hits.count == 10 else { errors += 1; continue }
                        let gens = Set(hits.compactMap { $0["payload"]?["gen"]?.numberValue.map { Int64($0) } })
                        if gens.count != 1 { errors += 1 }
                        seen.formUnion(gens)
                        ok += 1
                    }
                    return (ok, errors, seen)
                }
            }
            for k in 0..<40 {
                let (from, to) = k % 2 == 0 ? ("gen1", "gen2") : ("gen2", "gen1")
                _ = from
                let swap = try await s.call(.POST, "/collections/aliases", """
                    {"actions": [{"delete_alias": {"alias_name": "live"}}, {"create_alias": {"collection_name": "\(to)", "alias_name": "live"}}]}
                    """)
                #expect(swap.status == 200)
                try await Task.sleep(for: .milliseconds(10))
            }
            stop.set()
            var all: [(Int, Int, Set<Int64>)] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.map(\.1).reduce(0, +) == 0, "errors or mixed generations")
        #expect(results.map(\.0).reduce(0, +) > 40)
        #expect(results.reduce(Set<Int64>()) { $0.union($1.2) } == [1, 2])
        try await s.stop()
    }
}

/// A flag set once by the test and read by its tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

import Foundation
import Logging
import QdrantBackend
import SwitchyardJSON
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

/// The Qdrant backend against a real `switchyard serve` process: every ``VectorBackend`` call gives what the
/// embedded store gives for the same calls, and transient faults are retried without losing a write.
@Suite("Qdrant backend over HTTP", .serialized)
struct QdrantBackendTests {
    static let quiet: Logger = { var l = Logger(label: "switchyard.qdrant.test"); l.logLevel = .error; return l }()

    static func points(_ n: Int, dimension: Int, seed: UInt64) -> [Point] {
        var rng = SplitMix64(seed: seed)
        let cities = ["Berlin", "Paris", "Rome"]
        var out: [Point] = []
        for i in 0..<n {
            let id: PointID = i % 7 == 3 ? .uuid(UUID(uuidString: String(format: "00000000-0000-4000-8000-%012d", i))!) : .number(UInt64(i))
            let payload: Payload = ["doc_id": .int(Int64(i / 3)), "city": .string(cities[i % 3]), "n": .double(Double(i) / 2)]
            out.append(Point(id: id, vector: rng.nextVector(dimension: dimension), payload: payload))
        }
        return out
    }

    static func fast(_ url: String, attempts: Int = 6) throws -> QdrantBackend {
        var c = QdrantBackend.Configuration(url: url)
        c.baseBackoff = .milliseconds(5)
        c.maxBackoff = .milliseconds(50)
        c.maxAttempts = attempts
        c.upsertBatch = 64
        return try QdrantBackend(c, logger: quiet)
    }

    /// Runs the same calls on both backends and compares every answer.
    @Test("every VectorBackend call answers as the embedded store does")
    func sameAnswers() throws {
        let server = try ServeProcess()
        let remote = try Self.fast(server.url)
        defer { remote.close() }
        let dir = try TemporaryDirectory(prefix: "switchyard-qb")
        let local = try Store.open(at: dir.appending("store"))
        defer { try? local.close() }
        let backends: [any VectorBackend] = [local, remote]
        let pts = Self.points(500, dimension: 16, seed: 7)
        var rng = SplitMix64(seed: 99)
        let queries = (0..<5).map { _ in rng.nextVector(dimension: 16) }
        let berlin = try Filter(json: #"{"must": [{"key": "city", "match": {"value": "Berlin"}}]}"#)
        let range = try Filter(json: #"{"must": [{"key": "n", "range": {"gte": 20, "lt": 60.5}}], "must_not": [{"key": "city", "match": {"value": "Rome"}}]}"#)
        var answers: [[String]] = []
        for b in backends {
            var out: [String] = []
            let info = try b.createCollection("docs", dimension: 16, distance: .cosine)
            out.append("\(info.name) \(info.dimension) \(info.distance) \(info.pointCount)")
            try b.createCollection("other", dimension: 3, distance: .euclid)
            out.append("\(try b.upsert("docs", points: pts))")
            out.append("\(try b.collectionExists("docs")) \(try b.collectionExists("nope"))")
            try b.updateAliases([.create(alias: "live", collection: "docs")])
            out.append("\(try b.resolve("live")) \(try b.aliases())")
            out.append("\(try b.collectionInfo("live").pointCount) \(try b.collectionInfo("docs").aliases)")
            out.append("\(try b.count("docs", filter: nil)) \(try b.count("docs", filter: berlin)) \(try b.count("live", filter: range))")
            let ids: [PointID] = [.number(5), .number(9999), pts[3].id, .number(1)]
            out.append("\(try b.get("docs", ids: ids, withVector: true, withPayload: true).map { "\($0.id) \(JSONValue.object($0.payload ?? [:]).jsonText) \(($0.vector ?? []).count)" })")
            var offset: PointID?
            var seen: [String] = []
            repeat {
                let page = try b.scroll("docs", filter: range, limit: 7, offset: offset, withVector: false, withPayload: true)
                seen += page.points.map { "\($0.id)" }
                offset = page.nextPageOffset
            } while offset != nil
            out.append(seen.joined(separator: ","))
            for q in queries {
                let hits = try b.search("live", SearchRequest(vector: q, limit: 5, filter: berlin, withPayload: true))
                out.append(hits.map { "\($0.id) \(String(format: "%.5f", $0.score)) \($0.payload?["city"]?.stringValue ?? "-")" }.joined(separator: "; "))
            }
            let batch = try b.searchBatch("docs", queries.map { SearchRequest(vector: $0, limit: 3, offset: 1, scoreThreshold: -0.5, withVector: true) })
            out.append(batch.map { $0.map { "\($0.id) \(String(format: "%.5f", $0.score)) \($0.vector?.count ?? 0)" }.joined(separator: ",") }.joined(separator: " | "))
            out.append("\(try b.updatePayload("docs", .merge(["tag": "x"]), ids: nil, filter: berlin))")
            out.append("\(try b.updatePayload("docs", .deleteKeys(["n"]), ids: [.number(0), .number(1)], filter: nil))")
            out.append("\(try b.updatePayload("docs", .overwrite(["only": true]), ids: [.number(2)], filter: nil))")
            out.append("\(try b.get("docs", ids: [.number(0), .number(1), .number(2)], withVector: false, withPayload: true).map { JSONValue.object($0.payload ?? [:]).jsonText })")
            out.append("\(try b.delete("docs", ids: [.number(0), .number(77777)])) \(try b.delete("docs", filter: range)) \(try b.count("docs", filter: nil))")
            try b.updateAliases([.delete(alias: "live"), .create(alias: "live", collection: "other")])
            out.append("\(try b.resolve("live"))")
            out.append("\((try b.collections()).map { "\($0.name):\($0.pointCount):\($0.aliases)" })")
            do { try b.dropCollection("live"); out.append("dropped alias") } catch { out.append("\(error.code)") }
            try b.dropCollection("other")
            out.append("\(try b.aliases()) \(try b.collectionExists("other"))")
            do { try b.dropCollection("other"); out.append("dropped twice") } catch { out.append("\(error.code)") }
            do { _ = try b.collectionInfo("nope"); out.append("found") } catch { out.append("\(error.code)") }
            do { try b.createCollection("docs", dimension: 16, distance: .cosine); out.append("created twice") } catch { out.append("\(error.code)") }
            do { try b.upsert("docs", points: [Point(id: .number(1), vector: [1, 2])]); out.append("wrong size accepted") } catch { out.append("\(error.code)") }
            answers.append(out)
        }
        #expect(answers[0].count == answers[1].count)
        for (i, (a, b)) in zip(answers[0], answers[1]).enumerated() {
            #expect(a == b, "answer \(i) differs:\nembedded: \(a)\nqdrant:   \(b)")
        }
        server.stop()
    }

    @Test("503s at random, before or after the call ran: no write is lost, every call ends as if it ran once")
    func unavailableAtRandom() throws {
        let server = try ServeProcess(arguments: ["--fault-unavailable", "0.25", "--fault-lost-answer", "0.15"])
        let remote = try Self.fast(server.url, attempts: 30)
        defer { remote.close() }
        try remote.createCollection("docs", dimension: 8, distance: .dot)
        try remote.createCollection("spare", dimension: 8, distance: .dot)
        let pts = Self.points(1_000, dimension: 8, seed: 3)
        #expect(try remote.upsert("docs", points: pts) == 1_000)
        try remote.updateAliases([.create(alias: "a", collection: "docs")])
        try remote.updateAliases([.delete(alias: "a"), .create(alias: "a", collection: "spare")])
        #expect(try remote.resolve("a") == "spare")
        #expect(try remote.count("docs", filter: nil) == 1_000)
        let back = try remote.get("docs", ids: pts.prefix(50).map(\.id), withVector: true, withPayload: true)
        #expect(back.map(\.id) == pts.prefix(50).map(\.id))
        #expect(back.map(\.payload) == pts.prefix(50).map { Optional($0.payload) })
        try remote.dropCollection("spare")
        #expect(try remote.collectionExists("spare") == false)
        server.stop()
    }

    @Test("a slow server within the deadline is waited for; past it, the call fails as transient")
    func slowServer() throws {
        let server = try ServeProcess(arguments: ["--fault-delay-ms", "300"])
        var c = QdrantBackend.Configuration(url: server.url)
        c.timeout = .seconds(5)
        let patient = try QdrantBackend(c)
        defer { patient.close() }
        try patient.createCollection("docs", dimension: 4, distance: .cosine)
        #expect(try patient.count("docs", filter: nil) == 0)
        c.timeout = .milliseconds(100)
        c.maxAttempts = 2
        c.baseBackoff = .milliseconds(1)
        let hasty = try QdrantBackend(c, logger: Self.quiet)
        defer { hasty.close() }
        let error = #expect(throws: StoreError.self) { try hasty.count("docs", filter: nil) }
        #expect(error?.code == .io)
        #expect(error?.message.contains("after 2 attempts") == true)
        server.stop()
    }

    @Test("a stopped server: calls fail as transient (io) after their retries; once it is back, they succeed and nothing acknowledged is lost")
    func stoppedServer() throws {
        let server = try ServeProcess()
        let remote = try Self.fast(server.url, attempts: 3)
        defer { remote.close() }
        try remote.createCollection("docs", dimension: 4, distance: .cosine)
        try remote.upsert("docs", points: Self.points(100, dimension: 4, seed: 1))
        server.stop()
        let down = #expect(throws: StoreError.self) { try remote.count("docs", filter: nil) }
        #expect(down?.code == .io)
        #expect(down?.message.contains("unreachable") == true)
        server.pause()  // no-op on a stopped process
        try server.start()
        #expect(try remote.count("docs", filter: nil) == 100)
        // Paused: the connection is accepted and never answered; the deadline ends the wait.
        var c = QdrantBackend.Configuration(url: server.url)
        c.timeout = .milliseconds(300)
        c.maxAttempts = 2
        c.baseBackoff = .milliseconds(1)
        let hasty = try QdrantBackend(c, logger: Self.quiet)
        defer { hasty.close() }
        server.pause()
        let hung = #expect(throws: StoreError.self) { try hasty.count("docs", filter: nil) }
        server.resume()
        #expect(hung?.code == .io)
        #expect(try remote.count("docs", filter: nil) == 100)
        server.stop()
    }

    @Test("bad configuration and refused requests are errors that name the problem, never retried")
    func refusals() throws {
        for bad in ["localhost:6333", "ftp://host:1", "http://", "http://h:1/?x=1"] {
            let e = #expect(throws: StoreError.self) { _ = try QdrantBackend(.init(url: bad)) }
            #expect(e?.code == .invalidArgument)
            #expect(e?.message.contains("--qdrant-url") == true)
        }
        var options = QdrantBackend.Configuration(url: "http://127.0.0.1:1")
        options.collectionOptions = ["shard_number": 2]
        let e = #expect(throws: StoreError.self) { _ = try QdrantBackend(options) }
        #expect(e?.message.contains("shard_number") == true)

        let server = try ServeProcess(arguments: ["--api-key", "s3cret"])
        let anonymous = try Self.fast(server.url)
        defer { anonymous.close() }
        let denied = #expect(throws: StoreError.self) { try anonymous.collections() }
        #expect(denied?.code == .invalidArgument)
        #expect(denied?.message.contains("API key") == true)
        var keyed = QdrantBackend.Configuration(url: server.url, apiKey: "s3cret")
        keyed.collectionOptions = ["hnsw_config": ["m": 0], "on_disk": true, "quantization_config": ["scalar": ["type": "int8"]]]
        let client = try QdrantBackend(keyed)
        defer { client.close() }
        #expect(try client.serverVersion().isEmpty == false)
        #expect(try client.createCollection("docs", dimension: 4, distance: .cosine).dimension == 4)
        let wrong = #expect(throws: StoreError.self) { try client.search("docs", SearchRequest(vector: [1, 2, 3])) }
        #expect(wrong?.code == .invalidArgument)
        server.stop()
    }
}

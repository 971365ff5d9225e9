import Foundation
import Locks
import SwitchyardJSON
import VectorMath
import VectorStore

/// Qdrant's REST API over a ``Store``, independent of any HTTP server: ``handle(_:)`` turns a method, a
/// path, query parameters and a parsed JSON body into a reply. `QdrantServer` serves it over HTTP.
///
/// Every call is synchronous and applies completely or not at all (each write is one store
/// transaction), so `wait=false` is answered like `wait=true`, only with the status `acknowledged`.
///
/// ```swift
/// let api = QdrantAPI(store: store)
/// let reply = api.handle(.init(method: "GET", path: "/collections"))
/// ```
public final class QdrantAPI: Sendable {
    public let store: Store
    /// The version reported by `GET /` (clients compare it with their own).
    public let version: String
    /// Refuse every write with 403.
    public let readOnly: Bool

    /// Per-collection operation counters for `UpdateResult.operation_id`.
    let operationCounters = Locked<[String: Int]>([:])
    /// Payload indexes asked for with `PUT /collections/{n}/index` (the scan is exact anyway).
    let payloadIndexes = Locked<[String: [String: JSONValue]]>([:])

    public init(store: Store, version: String = QdrantAPI.defaultVersion, readOnly: Bool = false) {
        self.store = store
        self.version = version
        self.readOnly = readOnly
    }

    /// The Qdrant version reported by default (qdrant-client warns when majors differ or minors are far apart).
    public static let defaultVersion = "1.17.0"

    // MARK: - Requests and replies

    public struct Request: Sendable {
        public var method: String
        /// Path segments, percent-decoded.
        public var segments: [String]
        public var query: [String: String]
        public var body: JSONValue?

        public init(method: String, path: String, query: [String: String] = [:], body: JSONValue? = nil) {
            self.method = method.uppercased()
            self.segments = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
            self.query = query
            self.body = body
        }
    }

    public struct Reply: Sendable, Equatable {
        public var status: Int
        public enum Body: Sendable, Equatable {
            /// `{"result": …, "status": "ok", "time": …}`
            case result(JSONValue)
            /// `{"status": {"error": …}, "time": …}`
            case error(String)
            /// Bare JSON, no envelope (`GET /`).
            case bare(JSONValue)
            /// Plain text (health probes).
            case text(String)
        }
        public var body: Body
        /// The route's template (`/collections/{name}/points/search`), for metrics and logs.
        public var route: String

        public init(status: Int, body: Body, route: String) {
            self.status = status
            self.body = body
            self.route = route
        }

        static func ok(_ result: JSONValue, _ route: String) -> Reply { Reply(status: 200, body: .result(result), route: route) }
    }

    /// Answers one request. Never throws: every failure is a reply with Qdrant's error envelope.
    public func handle(_ request: Request) -> Reply {
        var route = "unknown"
        do {
            return try dispatch(request, route: &route)
        } catch {
            return Reply(status: error.status, body: .error(error.message), route: route)
        }
    }

    // MARK: - Routing

    /// What every route handler needs: the request's method, body and `wait` flag, the route label (a
    /// fixed template, never a client's path), and the method and read-only checks.
    private struct Routing {
        let method: String
        let body: JSONValue?
        let wait: Bool
        let readOnly: Bool
        var route = "unknown"

        func needs(_ methods: String...) throws(APIError) {
            guard methods.contains(method) else {
                throw APIError(status: 405, "Method not allowed: \(method) \(route) (allowed: \(methods.joined(separator: ", ")))")
            }
        }

        func writable() throws(APIError) {
            if readOnly { throw APIError(status: 403, "Forbidden: this server is read-only (--read-only)") }
        }
    }

    private func dispatch(_ r: Request, route: inout String) throws(APIError) -> Reply {
        let s = r.segments
        var ctx = Routing(method: r.method, body: r.body, wait: try waitFlag(r.query), readOnly: readOnly)
        defer { route = ctx.route }
        let reply: Reply?
        switch s.count {
        case 0, 1: reply = try dispatchTopLevel(s, &ctx)
        case _ where s.first != "collections": reply = nil
        case 2: reply = try dispatchCollection(s[1], &ctx)
        case 3: reply = try dispatchCollectionResource(s[1], s[2], &ctx)
        case 4 where s[2] == "index":
            ctx.route = "/collections/{name}/index/{field}"
            try ctx.needs("DELETE")
            try ctx.writable()
            reply = .ok(try deletePayloadIndex(s[1], field: s[3], wait: ctx.wait), ctx.route)
        case 4 where s[2] == "points": reply = try dispatchPoints(s[1], s[3], &ctx)
        case 5 where s[2] == "points": reply = try dispatchPointsBatch(s[1], s[3], s[4], &ctx)
        default: reply = nil
        }
        guard let reply else { throw APIError(status: 404, "Not found: no endpoint \(r.method) /\(s.joined(separator: "/"))") }
        return reply
    }

    /// `/`, the health checks, `/collections` and `/aliases`.
    private func dispatchTopLevel(_ s: [String], _ ctx: inout Routing) throws(APIError) -> Reply? {
        guard let first = s.first else {
            ctx.route = "/"
            try ctx.needs("GET")
            return Reply(status: 200, body: .bare(["title": "qdrant - vector search engine", "version": .string(version), "commit": "switchyard"]),
                         route: ctx.route)
        }
        switch first {
        case "healthz", "livez":
            ctx.route = "/" + first
            try ctx.needs("GET")
            return Reply(status: 200, body: .text("healthz check passed"), route: ctx.route)
        case "readyz":
            ctx.route = "/readyz"
            try ctx.needs("GET")
            return Reply(status: 200, body: .text("all shards are ready"), route: ctx.route)
        case "collections":
            ctx.route = "/collections"
            try ctx.needs("GET")
            return .ok(["collections": .array(try call { try store.collections() }.map { ["name": .string($0.name)] })], ctx.route)
        case "aliases":
            ctx.route = "/aliases"
            try ctx.needs("GET")
            return .ok(["aliases": .array(try call { try store.aliases() }.sorted { $0.alias < $1.alias }.map(Self.aliasJSON))], ctx.route)
        case "cluster", "snapshots", "telemetry", "locks", "issues":
            ctx.route = "/" + first
            throw APIError.unsupported("/\(first)")
        default:
            return nil
        }
    }

    /// `/collections/{name}` (and `POST /collections/aliases`).
    private func dispatchCollection(_ name: String, _ ctx: inout Routing) throws(APIError) -> Reply {
        if name == "aliases" && ctx.method == "POST" {
            ctx.route = "/collections/aliases"
            try ctx.writable()
            return .ok(try updateAliases(ctx.body), ctx.route)
        }
        ctx.route = "/collections/{name}"
        try ctx.needs("GET", "PUT", "DELETE", "PATCH")
        switch ctx.method {
        case "GET": return .ok(try collectionInfo(name), ctx.route)
        case "PUT":
            try ctx.writable()
            return .ok(try createCollection(name, ctx.body), ctx.route)
        case "DELETE":
            try ctx.writable()
            return .ok(try deleteCollection(name), ctx.route)
        default:
            try ctx.writable()
            _ = try resolve(name)
            try Fields(ctx.body).refuse(["sparse_vectors": "updating sparse vectors", "vectors": "changing vector parameters"])
            return .ok(true, ctx.route)
        }
    }

    /// `/collections/{name}/exists`, `/aliases`, `/index` and `/points`.
    private func dispatchCollectionResource(_ name: String, _ resource: String, _ ctx: inout Routing) throws(APIError) -> Reply? {
        switch resource {
        case "exists":
            ctx.route = "/collections/{name}/exists"
            try ctx.needs("GET")
            do {
                _ = try store.resolve(name)
                return .ok(["exists": true], ctx.route)
            } catch where error.code == .notFound || error.code == .invalidArgument {
                return .ok(["exists": false], ctx.route)
            } catch {
                throw APIError.from(error)
            }
        case "aliases":
            ctx.route = "/collections/{name}/aliases"
            try ctx.needs("GET")
            let target = try resolve(name)
            let list = try call { try store.aliases() }.filter { $0.collection == target }.sorted { $0.alias < $1.alias }
            return .ok(["aliases": .array(list.map(Self.aliasJSON))], ctx.route)
        case "index":
            ctx.route = "/collections/{name}/index"
            try ctx.needs("PUT")
            try ctx.writable()
            return .ok(try createPayloadIndex(name, ctx.body, wait: ctx.wait), ctx.route)
        case "points":
            ctx.route = "/collections/{name}/points"
            try ctx.needs("PUT", "POST")
            if ctx.method == "PUT" {
                try ctx.writable()
                return .ok(try upsert(name, ctx.body, wait: ctx.wait), ctx.route)
            }
            return .ok(try retrieve(name, ctx.body), ctx.route)
        case "snapshots", "shards", "cluster", "facet":
            ctx.route = "/collections/{name}/\(resource)"
            throw APIError.unsupported("/collections/{name}/\(resource)")
        default:
            return nil
        }
    }

    /// `/collections/{name}/points/{op}`, and `GET /collections/{name}/points/{id}`.
    private func dispatchPoints(_ name: String, _ op: String, _ ctx: inout Routing) throws(APIError) -> Reply {
        ctx.route = "/collections/{name}/points/\(op)"
        let body = ctx.body, wait = ctx.wait
        switch op {
        case "delete":
            try ctx.needs("POST")
            try ctx.writable()
            return .ok(try deletePoints(name, body, wait: wait), ctx.route)
        case "payload":
            try ctx.needs("POST", "PUT")
            try ctx.writable()
            return .ok(try setPayload(name, body, overwrite: ctx.method == "PUT", wait: wait), ctx.route)
        case "batch":
            try ctx.needs("POST")
            try ctx.writable()
            return .ok(try batch(name, body, wait: wait), ctx.route)
        case "scroll":
            try ctx.needs("POST")
            return .ok(try scroll(name, body), ctx.route)
        case "count":
            try ctx.needs("POST")
            return .ok(try count(name, body), ctx.route)
        case "search":
            try ctx.needs("POST")
            return .ok(.array(try search(name, try parseSearch(body, field: ""))), ctx.route)
        case "query":
            try ctx.needs("POST")
            return .ok(["points": .array(try query(name, body, field: ""))], ctx.route)
        case "vectors":
            throw APIError.unsupported("updating or deleting vectors alone (/points/vectors)")
        case "recommend", "discover", "groups":
            throw APIError.unsupported("/points/\(op)")
        default:
            ctx.route = "/collections/{name}/points/{id}"
            try ctx.needs("GET")
            return .ok(try point(name, id: op), ctx.route)
        }
    }

    /// `/collections/{name}/points/{a}/{b}`: the batch searches and the payload deletions.
    private func dispatchPointsBatch(_ name: String, _ a: String, _ b: String, _ ctx: inout Routing) throws(APIError) -> Reply? {
        // Route labels are fixed templates: a client's path segments never become metric labels.
        let known: Set<String> = ["search/batch", "query/batch", "payload/delete", "payload/clear", "vectors/delete",
                                  "recommend/batch", "discover/batch", "recommend/groups", "search/groups", "query/groups"]
        ctx.route = known.contains("\(a)/\(b)") ? "/collections/{name}/points/\(a)/\(b)" : "unknown"
        switch (a, b) {
        case ("search", "batch"):
            try ctx.needs("POST")
            return .ok(try searchBatch(name, ctx.body), ctx.route)
        case ("query", "batch"):
            try ctx.needs("POST")
            return .ok(try queryBatch(name, ctx.body), ctx.route)
        case ("payload", "delete"):
            try ctx.needs("POST")
            try ctx.writable()
            return .ok(try deletePayload(name, ctx.body, wait: ctx.wait), ctx.route)
        case ("payload", "clear"):
            try ctx.needs("POST")
            try ctx.writable()
            return .ok(try clearPayload(name, ctx.body, wait: ctx.wait), ctx.route)
        case ("vectors", "delete"):
            throw APIError.unsupported("deleting vectors alone (/points/vectors/delete)")
        case ("recommend", "batch"), ("discover", "batch"), ("recommend", "groups"), ("search", "groups"), ("query", "groups"):
            throw APIError.unsupported("/points/\(a)/\(b)")
        default:
            return nil
        }
    }

    // MARK: - Helpers

    /// Runs a store call, mapping its error to Qdrant's.
    func call<T>(_ body: () throws -> T) throws(APIError) -> T {
        do { return try body() } catch let e as StoreError { throw APIError.from(e) } catch {
            throw APIError(status: 500, "Service internal error: \(error)")
        }
    }

    /// The collection a name or alias resolves to (404 in Qdrant's words when neither exists).
    func resolve(_ name: String) throws(APIError) -> String {
        do { return try store.resolve(name) } catch {
            if error.code == .notFound || error.code == .invalidArgument { throw APIError.collectionNotFound(name) }
            throw APIError.from(error)
        }
    }

    /// The collection behind a name or alias with its dimension and distance (no point count).
    func shape(_ name: String) throws(APIError) -> CollectionShape {
        do { return try store.collectionShape(name) } catch {
            if error.code == .notFound || error.code == .invalidArgument { throw APIError.collectionNotFound(name) }
            throw APIError.from(error)
        }
    }

    func info(_ name: String) throws(APIError) -> CollectionInfo {
        do { return try store.collectionInfo(name) } catch {
            if error.code == .notFound || error.code == .invalidArgument { throw APIError.collectionNotFound(name) }
            throw APIError.from(error)
        }
    }

    private func waitFlag(_ query: [String: String]) throws(APIError) -> Bool {
        guard let w = query["wait"] else { return false }
        switch w.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError(status: 400, "Deserialize error in query parameters: wait: expected true or false, got '\(w)'")
        }
    }

    /// `UpdateResult` with the collection's next operation number.
    func updateResult(_ collection: String, wait: Bool) -> JSONValue {
        let n = operationCounters.withLock { c -> Int in
            let n = c[collection, default: 0]
            c[collection] = n + 1
            return n
        }
        return ["operation_id": .int(Int64(n)), "status": .string(wait ? "completed" : "acknowledged")]
    }

    static func aliasJSON(_ a: AliasInfo) -> JSONValue {
        ["alias_name": .string(a.alias), "collection_name": .string(a.collection)]
    }

    static func recordJSON(_ r: Record, payload: PayloadSelector, vectors: VectorSelector, spaces: [VectorSpace]?) -> JSONValue {
        var o: [String: JSONValue] = ["id": r.id.json]
        if let p = payload.apply(r.payload) { o["payload"] = .object(p) }
        if let v = vectors.render(r.vector, spaces: spaces) { o["vector"] = v }
        return .object(o)
    }

    static func scoredJSON(_ p: ScoredPoint, payload: PayloadSelector, vectors: VectorSelector, spaces: [VectorSpace]?) -> JSONValue {
        var o: [String: JSONValue] = ["id": p.id.json, "version": 0, "score": .double(Double(p.score))]
        if let pl = payload.apply(p.payload) { o["payload"] = .object(pl) }
        if let v = vectors.render(p.vector, spaces: spaces) { o["vector"] = v }
        return .object(o)
    }
}

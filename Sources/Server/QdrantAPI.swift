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

    private func dispatch(_ r: Request, route: inout String) throws(APIError) -> Reply {
        let s = r.segments
        let m = r.method
        func needs(_ methods: String...) throws(APIError) {
            guard methods.contains(m) else {
                throw APIError(status: 405, "Method not allowed: \(m) \(route) (allowed: \(methods.joined(separator: ", ")))")
            }
        }
        func writable() throws(APIError) {
            if readOnly { throw APIError(status: 403, "Forbidden: this server is read-only (--read-only)") }
        }
        let body = r.body
        let wait = try waitFlag(r.query)

        switch s.count {
        case 0:
            route = "/"
            try needs("GET")
            return Reply(status: 200, body: .bare(["title": "qdrant - vector search engine", "version": .string(version), "commit": "switchyard"]), route: route)
        case 1:
            switch s[0] {
            case "healthz", "livez":
                route = "/" + s[0]
                try needs("GET")
                return Reply(status: 200, body: .text("healthz check passed"), route: route)
            case "readyz":
                route = "/readyz"
                try needs("GET")
                return Reply(status: 200, body: .text("all shards are ready"), route: route)
            case "collections":
                route = "/collections"
                try needs("GET")
                return .ok(["collections": .array(try call { try store.collections() }.map { ["name": .string($0.name)] })], route)
            case "aliases":
                route = "/aliases"
                try needs("GET")
                return .ok(["aliases": .array(try call { try store.aliases() }.sorted { $0.alias < $1.alias }.map(Self.aliasJSON))], route)
            case "cluster", "snapshots", "telemetry", "locks", "issues":
                route = "/" + s[0]
                throw APIError.unsupported("/\(s[0])")
            default: break
            }
        default:
            break
        }
        guard s.first == "collections", s.count >= 2 else {
            throw APIError(status: 404, "Not found: no endpoint \(m) /\(s.joined(separator: "/"))")
        }
        let name = s[1]
        if s.count == 2 && name == "aliases" && m == "POST" {
            route = "/collections/aliases"
            try needs("POST")
            try writable()
            return .ok(try updateAliases(body), route)
        }
        switch s.count {
        case 2:
            route = "/collections/{name}"
            try needs("GET", "PUT", "DELETE", "PATCH")
            switch m {
            case "GET": return .ok(try collectionInfo(name), route)
            case "PUT":
                try writable()
                return .ok(try createCollection(name, body), route)
            case "DELETE":
                try writable()
                return .ok(try deleteCollection(name), route)
            default:
                try writable()
                _ = try resolve(name)
                try Fields(body).refuse(["sparse_vectors": "updating sparse vectors", "vectors": "changing vector parameters"])
                return .ok(true, route)
            }
        case 3:
            switch s[2] {
            case "exists":
                route = "/collections/{name}/exists"
                try needs("GET")
                do {
                    _ = try store.resolve(name)
                    return .ok(["exists": true], route)
                } catch where error.code == .notFound || error.code == .invalidArgument {
                    return .ok(["exists": false], route)
                } catch {
                    throw APIError.from(error)
                }
            case "aliases":
                route = "/collections/{name}/aliases"
                try needs("GET")
                let target = try resolve(name)
                let list = try call { try store.aliases() }.filter { $0.collection == target }.sorted { $0.alias < $1.alias }
                return .ok(["aliases": .array(list.map(Self.aliasJSON))], route)
            case "index":
                route = "/collections/{name}/index"
                try needs("PUT")
                try writable()
                return .ok(try createPayloadIndex(name, body, wait: wait), route)
            case "points":
                route = "/collections/{name}/points"
                try needs("PUT", "POST")
                if m == "PUT" {
                    try writable()
                    return .ok(try upsert(name, body, wait: wait), route)
                }
                return .ok(try retrieve(name, body), route)
            case "snapshots", "shards", "cluster", "facet":
                route = "/collections/{name}/\(s[2])"
                throw APIError.unsupported("/collections/{name}/\(s[2])")
            default: break
            }
        case 4 where s[2] == "points":
            let op = s[3]
            route = "/collections/{name}/points/\(op)"
            switch op {
            case "delete":
                try needs("POST")
                try writable()
                return .ok(try deletePoints(name, body, wait: wait), route)
            case "payload":
                try needs("POST", "PUT")
                try writable()
                return .ok(try setPayload(name, body, overwrite: m == "PUT", wait: wait), route)
            case "batch":
                try needs("POST")
                try writable()
                return .ok(try batch(name, body, wait: wait), route)
            case "scroll":
                try needs("POST")
                return .ok(try scroll(name, body), route)
            case "count":
                try needs("POST")
                return .ok(try count(name, body), route)
            case "search":
                try needs("POST")
                return .ok(.array(try search(name, try parseSearch(body, field: ""))), route)
            case "query":
                try needs("POST")
                return .ok(["points": .array(try query(name, body, field: ""))], route)
            case "vectors":
                throw APIError.unsupported("updating or deleting vectors alone (/points/vectors)")
            case "recommend", "discover", "groups":
                throw APIError.unsupported("/points/\(op)")
            default:
                route = "/collections/{name}/points/{id}"
                try needs("GET")
                return .ok(try point(name, id: op), route)
            }
        case 5 where s[2] == "points":
            // Route labels are fixed templates: a client's path segments never become metric labels.
            let known: Set<String> = ["search/batch", "query/batch", "payload/delete", "payload/clear", "vectors/delete",
                                      "recommend/batch", "discover/batch", "recommend/groups", "search/groups", "query/groups"]
            route = known.contains("\(s[3])/\(s[4])") ? "/collections/{name}/points/\(s[3])/\(s[4])" : "unknown"
            switch (s[3], s[4]) {
            case ("search", "batch"):
                try needs("POST")
                return .ok(try searchBatch(name, body), route)
            case ("query", "batch"):
                try needs("POST")
                return .ok(try queryBatch(name, body), route)
            case ("payload", "delete"):
                try needs("POST")
                try writable()
                return .ok(try deletePayload(name, body, wait: wait), route)
            case ("payload", "clear"):
                try needs("POST")
                try writable()
                return .ok(try clearPayload(name, body, wait: wait), route)
            case ("vectors", "delete"):
                throw APIError.unsupported("deleting vectors alone (/points/vectors/delete)")
            case ("recommend", "batch"), ("discover", "batch"), ("recommend", "groups"), ("search", "groups"), ("query", "groups"):
                throw APIError.unsupported("/points/\(s[3])/\(s[4])")
            default: break
            }
        case 4 where s[2] == "index":
            route = "/collections/{name}/index/{field}"
            try needs("DELETE")
            try writable()
            return .ok(try deletePayloadIndex(name, field: s[3], wait: wait), route)
        default:
            break
        }
        throw APIError(status: 404, "Not found: no endpoint \(m) /\(s.joined(separator: "/"))")
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

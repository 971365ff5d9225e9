import SwitchyardJSON
import VectorMath
import VectorStore

extension QdrantAPI {
    /// One parsed search: the store's request plus how to show payloads.
    struct ParsedSearch {
        var request: SearchRequest
        var payload: PayloadSelector
        /// No query at all: points in id order (query API only).
        var scrollOnly = false
    }

    // MARK: - Legacy search

    /// `SearchRequest` of `/points/search`: `vector` (a list, or `{"name": "", "vector": […]}`), `limit`
    /// (required), `offset`, `filter`, `score_threshold`, `with_payload`, `with_vector` (both default false).
    func parseSearch(_ body: JSONValue?, field: String) throws(APIError) -> ParsedSearch {
        let f = try Fields(body, path: field)
        try f.refuse(["shard_key": "shard_key (sharding)", "lookup_from": "lookup_from"])
        guard var vectorValue = f["vector"] else { throw APIError.format("\(f.name("vector")): missing field `vector`") }
        if case .object(let named) = vectorValue {
            let name = named["name"]?.stringValue
            guard let inner = named["vector"], name == nil || name == "" else {
                throw APIError.unsupported("\(f.name("vector")): named vectors")
            }
            vectorValue = inner
        }
        let vector = try APIError.vector(vectorValue, f.name("vector"))
        guard let limit = try f.uint("limit") else { throw APIError.format("\(f.name("limit")): missing field `limit`") }
        guard limit >= 1 else { throw APIError.validation("\(f.name("limit")): value 0 invalid, must be 1 or larger") }
        return ParsedSearch(
            request: SearchRequest(vector: vector, limit: limit, offset: try f.uint("offset") ?? 0, filter: try f.filter(),
                                   scoreThreshold: try f.float("score_threshold"),
                                   withPayload: false, withVector: try vectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: f.name("with_vector"))),
            payload: try PayloadSelector(f["with_payload"], default: .none, field: f.name("with_payload")))
    }

    func search(_ name: String, _ s: ParsedSearch) throws(APIError) -> [JSONValue] {
        try searchBatch(name, [s]).first ?? []
    }

    func searchBatch(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let f = try Fields(body)
        guard let list = try f.array("searches") else { throw APIError.format("searches: missing field `searches`") }
        var parsed: [ParsedSearch] = []
        for (i, item) in list.enumerated() { parsed.append(try parseSearch(item, field: "searches[\(i)].")) }
        return .array(try searchBatch(name, parsed).map { .array($0) })
    }

    /// Runs searches against one collection (one batch call to the store), checking dimensions first.
    func searchBatch(_ name: String, _ searches: [ParsedSearch]) throws(APIError) -> [[JSONValue]] {
        let i = try shape(name)
        var requests: [SearchRequest] = []
        for (k, s) in searches.enumerated() where !s.scrollOnly {
            guard s.request.vector.count == i.dimension else {
                let which = searches.count > 1 ? " (search \(k))" : ""
                throw APIError.wrongInput("Vector dimension error: expected dim: \(i.dimension), got \(s.request.vector.count)\(which)")
            }
            var r = s.request
            r.withPayload = s.payload.wantsPayload
            requests.append(r)
        }
        let found = requests.isEmpty ? [] : try call { try store.searchBatch(i.name, requests) }
        var out: [[JSONValue]] = []
        var next = 0
        for s in searches {
            if s.scrollOnly {
                out.append(try firstPoints(i.name, s))
                continue
            }
            out.append(found[next].map { Self.scoredJSON($0, payload: s.payload, withVector: s.request.withVector) })
            next += 1
        }
        return out
    }

    /// A query without a vector: points in id order after `offset`, score 0.
    private func firstPoints(_ collection: String, _ s: ParsedSearch) throws(APIError) -> [JSONValue] {
        let (want, overflow) = s.request.offset.addingReportingOverflow(s.request.limit)
        let page = try call {
            try store.scroll(collection, filter: s.request.filter, limit: overflow ? Int.max : want, offset: nil,
                             withVector: s.request.withVector, withPayload: s.payload.wantsPayload)
        }
        return page.points.dropFirst(s.request.offset).map {
            Self.scoredJSON(ScoredPoint(id: $0.id, score: 0, vector: $0.vector, payload: $0.payload), payload: s.payload, withVector: s.request.withVector)
        }
    }

    // MARK: - Universal query

    /// `QueryRequest` of `/points/query`: `query` as a vector, a point id, or `{"nearest": vector | id}`;
    /// `using` (only the unnamed vector), `filter`, `score_threshold`, `limit` (10), `offset` (0),
    /// `with_payload`, `with_vector` (both default false). Prefetch, fusion and the other query kinds are
    /// refused by name.
    func parseQuery(_ name: String, _ body: JSONValue?, field: String) throws(APIError) -> ParsedSearch {
        let f = try Fields(body, path: field)
        try f.refuse(["prefetch": "prefetch (multi-stage queries)", "lookup_from": "lookup_from", "shard_key": "shard_key (sharding)"])
        if let using = try f.string("using"), !using.isEmpty { throw APIError.unsupported("\(f.name("using")) \"\(using)\" (named vectors)") }
        let limit = try f.uint("limit") ?? 10
        guard limit >= 1 else { throw APIError.validation("\(f.name("limit")): value 0 invalid, must be 1 or larger") }
        var parsed = ParsedSearch(
            request: SearchRequest(vector: [], limit: limit, offset: try f.uint("offset") ?? 0, filter: try f.filter(),
                                   scoreThreshold: try f.float("score_threshold"), withPayload: false,
                                   withVector: try vectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: f.name("with_vector"))),
            payload: try PayloadSelector(f["with_payload"], default: .none, field: f.name("with_payload")))
        guard var q = f["query"] else {
            parsed.scrollOnly = true
            return parsed
        }
        if case .object(let o) = q {
            if o["mmr"] != nil { throw APIError.unsupported("\(f.name("query")): mmr") }
            guard o.count == 1, let kind = o.keys.first else { throw APIError.format("\(f.name("query")): expected one query kind, e.g. {\"nearest\": […]}") }
            guard kind == "nearest" else { throw APIError.unsupported("\(f.name("query")): \"\(kind)\" queries") }
            q = o[kind]!
        }
        switch q {
        case .array:
            parsed.request.vector = try APIError.vector(q, f.name("query"))
        case .int, .uint, .string:
            let id = try APIError.pointID(q, f.name("query"))
            let target = try resolve(name)
            guard let stored = try call({ try store.get(target, ids: [id], withVector: true, withPayload: false) }).first?.vector else {
                throw APIError.notFound("No point with id \(id) found")
            }
            parsed.request.vector = stored
            // The referenced point is no candidate (as in Qdrant): excluded by the filter, so offsets page
            // over the other points.
            var filter = parsed.request.filter ?? Filter()
            filter.mustNot.append(.hasID([id]))
            parsed.request.filter = filter
        case .object:
            throw APIError.unsupported("\(f.name("query")): sparse vectors or documents")
        default:
            throw APIError.format("\(f.name("query")): expected a vector, a point id or {\"nearest\": …}, got \(q.typeName)")
        }
        return parsed
    }

    func query(_ name: String, _ body: JSONValue?, field: String) throws(APIError) -> [JSONValue] {
        try searchBatch(name, [try parseQuery(name, body, field: field)]).first ?? []
    }

    func queryBatch(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let f = try Fields(body)
        guard let list = try f.array("searches") else { throw APIError.format("searches: missing field `searches`") }
        var parsed: [ParsedSearch] = []
        for (i, item) in list.enumerated() { parsed.append(try parseQuery(name, item, field: "searches[\(i)].")) }
        return .array(try searchBatch(name, parsed).map { ["points": .array($0)] })
    }
}

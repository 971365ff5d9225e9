import SwitchyardJSON
import VectorMath
import VectorStore

extension QdrantAPI {
    /// One parsed search: the store's request plus how to show payloads.
    struct ParsedSearch {
        var request: SearchRequest
        var payload: PayloadSelector
        var vectors: VectorSelector = .none
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
        var using: String?
        if case .object(let named) = vectorValue {
            guard let inner = named["vector"] else {
                throw APIError.format("\(f.name("vector")): expected a list of numbers or {\"name\": …, \"vector\": […]}")
            }
            if case .object = inner { throw APIError.unsupported("\(f.name("vector")): sparse vectors") }
            using = named["name"]?.stringValue
            vectorValue = inner
        }
        let vector = try APIError.vector(vectorValue, f.name("vector"))
        guard let limit = try f.uint("limit") else { throw APIError.format("\(f.name("limit")): missing field `limit`") }
        guard limit >= 1 else { throw APIError.validation("\(f.name("limit")): value 0 invalid, must be 1 or larger") }
        let vectors = try VectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: f.name("with_vector"))
        var request = SearchRequest(vector: vector, limit: limit, offset: try f.uint("offset") ?? 0, filter: try f.filter(),
                                    scoreThreshold: try f.float("score_threshold"),
                                    withPayload: false, withVector: vectors.wanted, using: using)
        request.quantization = try Self.searchParams(f)
        return ParsedSearch(request: request,
                            payload: try PayloadSelector(f["with_payload"], default: .none, field: f.name("with_payload")), vectors: vectors)
    }

    /// `params`: `quantization: {"ignore", "rescore", "oversampling"}` is honoured (on collections with scalar
    /// quantization); `hnsw_ef`, `exact` and `indexed_only` have no effect (every scan is a full scan).
    static func searchParams(_ f: Fields) throws(APIError) -> QuantizationParams? {
        guard let params = try f.object("params") else { return nil }
        var p = QuantizationParams()
        var given = false
        if let q = try params.object("quantization") {
            given = true
            p.ignore = try q.bool("ignore") ?? false
            p.rescore = try q.bool("rescore") ?? true
            if let o = q["oversampling"], !(o == .null) {
                guard let v = o.numberValue, v.isFinite, v >= 1 else {
                    throw APIError.validation("\(q.name("oversampling")): value \(Fields.describe(o)) invalid, must be 1.0 or larger")
                }
                p.oversampling = v
            }
        }
        return given ? p : nil
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
        for s in searches { try s.vectors.check(i.vectors) }
        for (k, s) in searches.enumerated() where !s.scrollOnly {
            let which = searches.count > 1 ? " (search \(k))" : ""
            var expected = i.dimension
            if let spaces = i.vectors {
                guard let using = s.request.using, !using.isEmpty else {
                    throw APIError.wrongInput("the collection has named vectors (\(spaces.map(\.name).joined(separator: ", "))): say which with `using` or {\"name\": …}\(which)")
                }
                guard let space = spaces.first(where: { $0.name == using }) else { throw APIError.wrongInput("Not existing vector name error: \(using)") }
                expected = space.dimension
            } else if let using = s.request.using, !using.isEmpty {
                throw APIError.wrongInput("Not existing vector name error: \(using)")
            }
            guard s.request.vector.count == expected else {
                throw APIError.wrongInput("Vector dimension error: expected dim: \(expected), got \(s.request.vector.count)\(which)")
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
                out.append(try firstPoints(i.name, s, spaces: i.vectors))
                continue
            }
            out.append(found[next].map { Self.scoredJSON($0, payload: s.payload, vectors: s.vectors, spaces: i.vectors) })
            next += 1
        }
        return out
    }

    /// A query without a vector: points in id order after `offset`, score 0.
    private func firstPoints(_ collection: String, _ s: ParsedSearch, spaces: [VectorSpace]?) throws(APIError) -> [JSONValue] {
        let (want, overflow) = s.request.offset.addingReportingOverflow(s.request.limit)
        let page = try call {
            try store.scroll(collection, filter: s.request.filter, limit: overflow ? Int.max : want, offset: nil,
                             withVector: s.request.withVector, withPayload: s.payload.wantsPayload)
        }
        return page.points.dropFirst(s.request.offset).map {
            Self.scoredJSON(ScoredPoint(id: $0.id, score: 0, vector: $0.vector, payload: $0.payload), payload: s.payload, vectors: s.vectors,
                            spaces: spaces)
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
        let using = try f.string("using")
        let limit = try f.uint("limit") ?? 10
        guard limit >= 1 else { throw APIError.validation("\(f.name("limit")): value 0 invalid, must be 1 or larger") }
        let vectors = try VectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: f.name("with_vector"))
        var parsed = ParsedSearch(
            request: SearchRequest(vector: [], limit: limit, offset: try f.uint("offset") ?? 0, filter: try f.filter(),
                                   scoreThreshold: try f.float("score_threshold"), withPayload: false,
                                   withVector: vectors.wanted, using: using),
            payload: try PayloadSelector(f["with_payload"], default: .none, field: f.name("with_payload")), vectors: vectors)
        parsed.request.quantization = try Self.searchParams(f)
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
            let shape = try self.shape(name)
            guard let stored = try call({ try store.get(shape.name, ids: [id], withVector: true, withPayload: false) }).first?.vector else {
                throw APIError.notFound("No point with id \(id) found")
            }
            parsed.request.vector = stored
            // For named vectors: the stored point's vector that the query uses.
            if let spaces = shape.vectors, let using, let k = spaces.firstIndex(where: { $0.name == using }) {
                let at = spaces[..<k].reduce(0) { $0 + $1.dimension }
                guard stored.count == spaces.reduce(0, { $0 + $1.dimension }) else {
                    throw APIError(status: 409, "Wrong input: collection `\(name)` changed during the request; retry")
                }
                parsed.request.vector = Array(stored[at..<(at + spaces[k].dimension)])
            }
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

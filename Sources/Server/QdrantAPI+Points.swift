import SwitchyardJSON
import VectorMath
import VectorStore

extension QdrantAPI {
    // MARK: - Upsert

    /// `PUT /collections/{name}/points`: a PointsList (`{"points": [...]}`) or a PointsBatch
    /// (`{"batch": {"ids", "vectors", "payloads"}}`), written in one transaction.
    func upsert(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        let shape = try self.shape(name)
        let op = try PointsOp.parse("upsert", try Fields(body), shape: shape)
        try apply(op, to: shape.name)
        return updateResult(shape.name, wait: wait)
    }

    /// The points of an upsert body: a PointsList or a PointsBatch, each vector checked against the collection.
    static func parsePoints(_ f: Fields, shape: CollectionShape) throws(APIError) -> [Point] {
        if let list = try f.array("points") {
            var points: [Point] = []
            points.reserveCapacity(list.count)
            for (i, item) in list.enumerated() {
                let p = try Fields(item, path: "points[\(i)].")
                guard let idValue = p["id"] else { throw APIError.format("points[\(i)]: missing field `id`") }
                let id = try APIError.pointID(idValue, "points[\(i)].id")
                guard let vectorValue = p["vector"] ?? p["vectors"] else { throw APIError.format("points[\(i)]: missing field `vector`") }
                points.append(Point(id: id, vector: try pointVector(vectorValue, "points[\(i)].vector", id: id, shape: shape),
                                    payload: try pointPayload(p["payload"], "points[\(i)].payload")))
            }
            return points
        }
        guard let batch = try f.object("batch") else { throw APIError.format("expected \"points\" (a list of points) or \"batch\"") }
        guard let ids = try batch.array("ids") else { throw APIError.format("batch.ids: missing field `ids`") }
        guard let vectorsValue = batch["vectors"] else { throw APIError.format("batch.vectors: missing field `vectors`") }
        let payloads = try batch.array("payloads")
        if let payloads, payloads.count != ids.count {
            throw APIError.wrongInput("batch: \(ids.count) ids but \(payloads.count) payloads")
        }
        let perPoint = try batchVectors(vectorsValue, count: ids.count, shape: shape)
        var points: [Point] = []
        points.reserveCapacity(ids.count)
        for k in ids.indices {
            let id = try APIError.pointID(ids[k], "batch.ids[\(k)]")
            points.append(Point(id: id, vector: try pointVector(perPoint[k], "batch.vectors[\(k)]", id: id, shape: shape),
                                payload: try pointPayload(payloads?[k], "batch.payloads[\(k)]")))
        }
        return points
    }

    /// A batch's vectors, per point as a list entry would give them: a list, or `{name: list}` for named vectors.
    private static func batchVectors(_ value: JSONValue, count: Int, shape: CollectionShape) throws(APIError) -> [JSONValue] {
        if shape.vectors != nil, case .object(let named) = value {
            for (name, lists) in named {
                guard case .array(let rows) = lists, rows.count == count else {
                    throw APIError.wrongInput("batch: \(count) ids but vectors.\(name) has \(lists.arrayValue?.count ?? 0) vectors")
                }
            }
            return (0..<count).map { k in .object(named.mapValues { $0.arrayValue![k] }) }
        }
        guard case .array(let vectors) = try unnamed(value, "batch.vectors") else {
            throw APIError.format("batch.vectors: expected a list of vectors")
        }
        guard vectors.count == count else { throw APIError.wrongInput("batch: \(count) ids but \(vectors.count) vectors") }
        return vectors
    }

    /// A point's payload: absent or null is empty; anything but an object is refused.
    private static func pointPayload(_ v: JSONValue?, _ what: String) throws(APIError) -> Payload {
        switch v {
        case nil, .null?: return [:]
        case .object(let o)?: return o
        case let other?: throw APIError.format("\(what): expected an object, got \(other.typeName)")
        }
    }

    /// A point's vector: the unnamed one, or its named vectors concatenated in the collection's order.
    private static func pointVector(_ v: JSONValue, _ what: String, id: PointID, shape: CollectionShape) throws(APIError) -> [Float] {
        guard let spaces = shape.vectors else {
            let vector = try APIError.vector(unnamed(v, what), what)
            guard vector.count == shape.dimension else {
                throw APIError.wrongInput("Vector dimension error: expected dim: \(shape.dimension), got \(vector.count) (point \(id))")
            }
            return vector
        }
        guard case .object(let named) = v else {
            throw APIError.wrongInput("Not existing vector name error: (the collection has named vectors; give {\"name\": [...]}) for point \(id)")
        }
        if let unknown = named.keys.sorted().first(where: { k in !spaces.contains { $0.name == k } }) {
            throw APIError.wrongInput("Not existing vector name error: \(unknown)")
        }
        var out: [Float] = []
        out.reserveCapacity(shape.dimension)
        for s in spaces {
            guard let value = named[s.name] else {
                throw APIError.unsupported("a point without every named vector (point \(id) has no \"\(s.name)\")")
            }
            let part = try APIError.vector(value, "\(what).\(s.name)")
            guard part.count == s.dimension else {
                throw APIError.wrongInput("Vector dimension error: expected dim: \(s.dimension), got \(part.count) (point \(id), vector \(s.name))")
            }
            out += part
        }
        return out
    }

    /// A vector given as `{"": v}` is the unnamed vector; other names are named vectors.
    private static func unnamed(_ v: JSONValue, _ what: String) throws(APIError) -> JSONValue {
        guard case .object(let named) = v else { return v }
        if named.isEmpty { throw APIError.wrongInput("\(what): the point has no vector (every point needs one)") }
        if named.count == 1, let only = named[""] { return only }
        throw APIError.wrongInput("Not existing vector name error: \(named.keys.sorted().first(where: { !$0.isEmpty }) ?? "")")
    }

    // MARK: - Reads

    /// `POST /collections/{name}/points`: the listed points that exist, in the order asked.
    func retrieve(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let shape = try self.shape(name)
        let target = shape.name
        let f = try Fields(body)
        try f.refuse(["shard_key": "shard_key (sharding)"])
        guard let idValues = try f.array("ids") else { throw APIError.format("ids: missing field `ids`") }
        var ids: [PointID] = []
        for (k, v) in idValues.enumerated() { ids.append(try APIError.pointID(v, "ids[\(k)]")) }
        let payload = try PayloadSelector(f["with_payload"], default: .all, field: "with_payload")
        let vectors = try VectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: "with_vector")
        try vectors.check(shape.vectors)
        let records = try call { try store.get(target, ids: ids, withVector: vectors.wanted, withPayload: payload.wantsPayload) }
        return .array(records.map { Self.recordJSON($0, payload: payload, vectors: vectors, spaces: shape.vectors) })
    }

    /// `GET /collections/{name}/points/{id}`, with payload and vector.
    func point(_ name: String, id text: String) throws(APIError) -> JSONValue {
        let shape = try self.shape(name)
        let target = shape.name
        guard let id = PointID(parsing: text) else {
            throw APIError(status: 400, "Bad request: Unable to parse point id \(text): expected an unsigned integer or a UUID")
        }
        guard let r = try call({ try store.get(target, ids: [id], withVector: true, withPayload: true) }).first else {
            throw APIError.notFound("Point with id \(id) does not exists!")
        }
        return Self.recordJSON(r, payload: .all, vectors: .all, spaces: shape.vectors)
    }

    /// `POST /collections/{name}/points/scroll`: `offset` is inclusive; `next_page_offset` starts the next page.
    func scroll(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let shape = try self.shape(name)
        let target = shape.name
        let f = try Fields(body)
        try f.refuse(["order_by": "order_by in scroll", "shard_key": "shard_key (sharding)"])
        let limit = try f.uint("limit") ?? 10
        guard limit >= 1 else { throw APIError.badRequest("Limit cannot be 0") }
        let offset: PointID? = try f["offset"].map { v throws(APIError) in try APIError.pointID(v, "offset") }
        let payload = try PayloadSelector(f["with_payload"], default: .all, field: "with_payload")
        let vectors = try VectorSelector(f["with_vector"] ?? f["with_vectors"], default: false, field: "with_vector")
        try vectors.check(shape.vectors)
        let filter = try f.filter()
        let page = try call {
            try store.scroll(target, filter: filter, limit: limit, offset: offset, withVector: vectors.wanted, withPayload: payload.wantsPayload)
        }
        return [
            "points": .array(page.points.map { Self.recordJSON($0, payload: payload, vectors: vectors, spaces: shape.vectors) }),
            "next_page_offset": page.nextPageOffset?.json ?? .null,
        ]
    }

    /// `POST /collections/{name}/points/count`: always exact.
    func count(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let target = try resolve(name)
        let f = try Fields(body)
        _ = try f.bool("exact")
        let filter = try f.filter()
        return ["count": .int(Int64(try call { try store.count(target, filter: filter) }))]
    }

    // MARK: - Deletes and payloads

    /// A `PointsSelector`: `{"points": [ids]}` or `{"filter": …}`.
    enum Selector {
        case ids([PointID])
        case filter(Filter)
    }

    static func selector(_ f: Fields) throws(APIError) -> Selector? {
        let filter = try f.filter()
        let idValues = try f.array("points")
        if idValues != nil && filter != nil {
            throw APIError.unsupported("selecting points by ids and a filter in one request")
        }
        if let idValues {
            var ids: [PointID] = []
            for (k, v) in idValues.enumerated() { ids.append(try APIError.pointID(v, "\(f.path)points[\(k)]")) }
            return .ids(ids)
        }
        return filter.map { .filter($0) }
    }

    /// `POST /collections/{name}/points/delete`: missing ids are not an error.
    func deletePoints(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        try single("delete", name, body, wait: wait)
    }

    /// `POST` (merge) and `PUT` (overwrite) `/collections/{name}/points/payload`.
    func setPayload(_ name: String, _ body: JSONValue?, overwrite: Bool, wait: Bool) throws(APIError) -> JSONValue {
        try single(overwrite ? "overwrite_payload" : "set_payload", name, body, wait: wait)
    }

    /// `POST /collections/{name}/points/payload/delete`: removes keys.
    func deletePayload(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        try single("delete_payload", name, body, wait: wait)
    }

    /// `POST /collections/{name}/points/payload/clear`.
    func clearPayload(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        try single("clear_payload", name, body, wait: wait)
    }

    private func single(_ kind: String, _ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        let target = try resolve(name)
        try apply(try PointsOp.parse(kind, try Fields(body), shape: nil), to: target)
        return updateResult(target, wait: wait)
    }

    /// `POST /collections/{name}/points/batch`: every operation is parsed and checked first, against one
    /// resolved collection, then they are applied in order (each one a transaction, as in Qdrant, where
    /// the batch is not atomic either).
    func batch(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        let shape = try self.shape(name)
        let f = try Fields(body)
        guard let list = try f.array("operations") else { throw APIError.format("operations: missing field `operations`") }
        var ops: [PointsOp] = []
        for (i, item) in list.enumerated() {
            guard case .object(let o) = item, o.count == 1, let kind = o.keys.first else {
                throw APIError.format("operations[\(i)]: expected one of upsert, delete, set_payload, overwrite_payload, delete_payload, clear_payload")
            }
            guard PointsOp.kinds.contains(kind) else { throw APIError.unsupported("operations[\(i)]: \(kind)") }
            ops.append(try PointsOp.parse(kind, try Fields(o[kind], path: "operations[\(i)].\(kind)."), shape: shape))
        }
        var results: [JSONValue] = []
        for op in ops {
            try apply(op, to: shape.name)
            results.append(updateResult(shape.name, wait: wait))
        }
        return .array(results)
    }

    /// Applies one parsed write as one store transaction.
    private func apply(_ op: PointsOp, to target: String) throws(APIError) {
        switch op {
        case .upsert(let points, let layout):
            if !points.isEmpty {
                if let layout {
                    _ = try call { try store.upsert(target, points: points, layout: layout) }
                } else {
                    _ = try call { try store.upsert(target, points: points) }
                }
            }
        case .delete(.ids(let ids)):
            if !ids.isEmpty { _ = try call { try store.delete(target, ids: ids) } }
        case .delete(.filter(let filter)):
            _ = try call { try store.delete(target, filter: filter) }
        case .payload(let update, let sel):
            do {
                switch sel {
                case .ids(let ids): if !ids.isEmpty { _ = try store.updatePayload(target, update, ids: ids) }
                case .filter(let filter): _ = try store.updatePayload(target, update, filter: filter)
                }
            } catch {
                if error.code == .notFound, case .ids(let ids) = sel,
                   let missing = ids.first(where: { id in ((try? store.get(target, ids: [id], withPayload: false)) ?? []).isEmpty }) {
                    throw APIError.notFound("No point with id \(missing) found")
                }
                throw APIError.from(error)
            }
        }
    }
}

/// A points write, parsed and checked whole before anything is written.
enum PointsOp {
    /// The points and the layout they were built for (checked again when written).
    case upsert([Point], CollectionShape?)
    case delete(QdrantAPI.Selector)
    case payload(PayloadUpdate, QdrantAPI.Selector)

    static let kinds: Set<String> = ["upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload"]

    /// Parses the body of one write (`dimension` is checked for upserts).
    static func parse(_ kind: String, _ f: Fields, shape: CollectionShape?) throws(APIError) -> PointsOp {
        try f.refuse(["shard_key": "shard_key (sharding)"])
        func selector() throws(APIError) -> QdrantAPI.Selector {
            guard let sel = try QdrantAPI.selector(f) else {
                throw APIError.format("\(f.path.isEmpty ? "" : f.path)expected \"points\" (a list of ids) or \"filter\"")
            }
            return sel
        }
        switch kind {
        case "upsert":
            try f.refuse(["update_filter": "update_filter (conditional upsert)"])
            if let mode = try f.string("update_mode"), mode != "upsert" { throw APIError.unsupported("update_mode \"\(mode)\"") }
            guard let shape else { return .upsert([], nil) }
            return .upsert(try QdrantAPI.parsePoints(f, shape: shape), shape)
        case "delete":
            return .delete(try selector())
        case "set_payload", "overwrite_payload":
            try f.refuse(["key": "setting a payload at a nested \"key\""])
            guard case .object(let payload)? = f["payload"] else {
                throw APIError.format("\(f.name("payload")): missing field `payload` (an object)")
            }
            return .payload(kind == "set_payload" ? .merge(payload) : .overwrite(payload), try selector())
        case "delete_payload":
            guard let keyValues = try f.array("keys") else { throw APIError.format("\(f.name("keys")): missing field `keys`") }
            var keys: [String] = []
            for (k, v) in keyValues.enumerated() {
                guard case .string(let s) = v else { throw APIError.format("\(f.name("keys"))[\(k)]: expected a string, got \(v.typeName)") }
                if s.contains(".") || s.contains("[") { throw APIError.unsupported("deleting a nested payload key (\(s))") }
                keys.append(s)
            }
            return .payload(.deleteKeys(keys), try selector())
        default:
            return .payload(.clear, try selector())
        }
    }
}

import Locks
import SwitchyardJSON
import VectorMath
import VectorStore

extension QdrantAPI {
    /// `PUT /collections/{name}`: one unnamed dense vector per point (`{"vectors": {"size": 4, "distance": "Cosine"}}`).
    /// `quantization_config: {"scalar": {"type": "int8", "quantile", "always_ram"}}` is honoured (searches scan an
    /// int8 copy and rescore); product and binary quantization, index, optimizer, WAL and sharding settings are
    /// accepted and have no effect (the scan is exact); what would change results (sparse or multi vectors,
    /// other datatypes) is refused.
    func createCollection(_ name: String, _ body: JSONValue?) throws(APIError) -> JSONValue {
        let f = try Fields(body)
        if let sparse = try f.object("sparse_vectors"), !sparse.members.isEmpty { throw APIError.unsupported("sparse_vectors") }
        guard let vectors = try f.object("vectors") else {
            throw APIError.wrongInput("collection `\(name)` needs \"vectors\": {\"size\": N, \"distance\": \"Cosine\"|\"Dot\"|\"Euclid\"|\"Manhattan\"}")
        }
        // Named vectors: every member is an object of parameters (a vector may even be called "size").
        let named = !vectors.members.isEmpty && vectors.members.values.allSatisfy { if case .object = $0 { true } else { false } }
        if named && Array(vectors.members.keys) != [""] {
            return try createNamed(name, vectors, quantization: try Self.quantization(f))
        }
        if Array(vectors.members.keys) == [""], let only = try vectors.object("") {
            var whole = f.members
            whole["vectors"] = .object(only.members)
            return try createCollection(name, .object(whole))
        }
        try vectors.refuse(["multivector_config": "multivector_config (multivectors)"])
        if let type = try vectors.string("datatype"), type.lowercased() != "float32" {
            throw APIError.unsupported("datatype \"\(type)\" (vectors are float32)")
        }
        guard let size = try vectors.uint("size") else { throw APIError.format("vectors.size: missing field `size`") }
        guard size >= 1 else { throw APIError.validation("vectors.size: value 0 invalid, must be 1 or larger") }
        guard let distanceName = try vectors.string("distance") else { throw APIError.format("vectors.distance: missing field `distance`") }
        guard let distance = Distance(rawValue: distanceName) else {
            throw APIError.format("vectors.distance: unknown variant `\(distanceName)`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`")
        }
        if (try? store.aliases())?.contains(where: { $0.alias == name }) == true {
            throw APIError.wrongInput("Can't create collection with name \(name). Alias with the same name already exists")
        }
        let quantization = try Self.quantization(f)
        do {
            try store.createCollection(name, dimension: size, distance: distance, quantization: quantization)
        } catch {
            if error.code == .alreadyExists { throw APIError(status: 409, "Wrong input: Collection `\(name)` already exists!") }
            throw APIError.from(error)
        }
        return true
    }

    /// Named vectors: `{"vectors": {"text": {"size": 384, "distance": "Cosine"}, "image": {…}}}`, stored in name order.
    /// Scalar int8 quantization from `quantization_config`; nil without one, or for product or binary
    /// quantization (accepted, no effect).
    static func quantization(_ f: Fields) throws(APIError) -> ScalarQuantization? {
        guard let config = f["quantization_config"] else { return nil }
        if case .object(let o) = config, o["scalar"] == nil { return nil }
        do { return try ScalarQuantization(json: config) } catch { throw APIError.format(error.message) }
    }

    private func createNamed(_ name: String, _ vectors: Fields, quantization: ScalarQuantization?) throws(APIError) -> JSONValue {
        var spaces: [VectorSpace] = []
        for key in vectors.members.keys.sorted() {
            guard let params = try vectors.object(key) else { throw APIError.format("vectors.\(key): expected {\"size\": N, \"distance\": …}") }
            try params.refuse(["multivector_config": "multivector_config (multivectors)"])
            if let type = try params.string("datatype"), type.lowercased() != "float32" { throw APIError.unsupported("datatype \"\(type)\" (vectors are float32)") }
            guard let size = try params.uint("size") else { throw APIError.format("vectors.\(key).size: missing field `size`") }
            guard size >= 1 else { throw APIError.validation("vectors.\(key).size: value 0 invalid, must be 1 or larger") }
            guard let d = try params.string("distance") else { throw APIError.format("vectors.\(key).distance: missing field `distance`") }
            guard let distance = Distance(rawValue: d) else {
                throw APIError.format("vectors.\(key).distance: unknown variant `\(d)`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`")
            }
            spaces.append(VectorSpace(name: key, dimension: size, distance: distance))
        }
        if (try? store.aliases())?.contains(where: { $0.alias == name }) == true {
            throw APIError.wrongInput("Can't create collection with name \(name). Alias with the same name already exists")
        }
        do {
            try store.createCollection(name, vectors: spaces, quantization: quantization)
        } catch {
            if error.code == .alreadyExists { throw APIError(status: 409, "Wrong input: Collection `\(name)` already exists!") }
            throw APIError.from(error)
        }
        return true
    }

    /// `GET /collections/{name}` (aliases resolve), in the shape qdrant-client 1.x parses.
    func collectionInfo(_ name: String) throws(APIError) -> JSONValue {
        let i = try info(name)
        let schema = payloadIndexes(of: i.name)
        var config: JSONValue = [
                "params": [
                    "vectors": Self.vectorsJSON(i),
                    "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": true,
                ],
                "hnsw_config": ["m": 16, "ef_construct": 100, "full_scan_threshold": 10000],
                "optimizer_config": ["deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0,
                                     "flush_interval_sec": 5],
                "wal_config": ["wal_capacity_mb": 32, "wal_segments_ahead": 0],
        ]
        if let q = i.quantization, case .object(var o) = config {
            o["quantization_config"] = q.json
            config = .object(o)
        }
        return [
            "status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
            "points_count": .int(Int64(i.pointCount)), "segments_count": 1,
            "config": config,
            "payload_schema": .object(schema),
        ]
    }

    /// `{"size", "distance"}` for one unnamed vector, `{name: {"size", "distance"}}` for named vectors (only
    /// these keys: qdrant-client's models refuse unknown ones).
    static func vectorsJSON(_ i: CollectionInfo) -> JSONValue {
        guard let spaces = i.vectors else { return ["size": .int(Int64(i.dimension)), "distance": .string(i.distance.rawValue)] }
        return .object(Dictionary(uniqueKeysWithValues: spaces.map {
            ($0.name, ["size": .int(Int64($0.dimension)), "distance": .string($0.distance.rawValue)] as JSONValue)
        }))
    }

    /// `DELETE /collections/{name}`: `true` when a collection was dropped (with its aliases), `false` when
    /// there was none by that name (an alias name deletes nothing, as in Qdrant).
    func deleteCollection(_ name: String) throws(APIError) -> JSONValue {
        guard try call({ try store.collectionExists(name) }) else { return false }
        do { try store.dropCollection(name) } catch {
            if error.code == .notFound { return false }
            throw APIError.from(error)
        }
        forgetPayloadIndexes(of: name)
        return true
    }

    /// `POST /collections/aliases`: the batch is checked whole and applied in one transaction.
    func updateAliases(_ body: JSONValue?) throws(APIError) -> JSONValue {
        let f = try Fields(body)
        guard let list = try f.array("actions") else { throw APIError.format("actions: missing field `actions`") }
        var actions: [AliasAction] = []
        for (i, item) in list.enumerated() {
            let a = try Fields(item, path: "actions[\(i)].")
            if let c = try a.object("create_alias") {
                guard let alias = try c.string("alias_name"), let collection = try c.string("collection_name") else {
                    throw APIError.format("actions[\(i)].create_alias: needs alias_name and collection_name")
                }
                actions.append(.create(alias: alias, collection: collection))
            } else if let d = try a.object("delete_alias") {
                guard let alias = try d.string("alias_name") else { throw APIError.format("actions[\(i)].delete_alias: needs alias_name") }
                actions.append(.delete(alias: alias))
            } else if let r = try a.object("rename_alias") {
                guard let from = try r.string("old_alias_name"), let to = try r.string("new_alias_name") else {
                    throw APIError.format("actions[\(i)].rename_alias: needs old_alias_name and new_alias_name")
                }
                actions.append(.rename(from: from, to: to))
            } else {
                throw APIError.format("actions[\(i)]: expected create_alias, delete_alias or rename_alias")
            }
        }
        guard !actions.isEmpty else { return true }
        do { try store.updateAliasesAsQdrant(actions) } catch {
            // Qdrant's words for the common failures, naming the action the store names (`actions[i]: …`).
            if error.code == .notFound, let i = Self.actionIndex(error.message), actions.indices.contains(i) {
                switch actions[i] {
                case .create(_, let collection): throw APIError.collectionNotFound(collection)
                case .rename(let from, _): throw APIError.notFound("Alias \(from) does not exists!")
                case .delete: break
                }
            }
            throw APIError.from(error)
        }
        return true
    }

    /// The `i` of a store message starting `actions[i]: `.
    static func actionIndex(_ message: String) -> Int? {
        guard message.hasPrefix("actions["), let close = message.firstIndex(of: "]") else { return nil }
        return Int(message[message.index(message.startIndex, offsetBy: 8)..<close])
    }

    // MARK: - Payload indexes (recorded; the scan is exact anyway)

    func createPayloadIndex(_ name: String, _ body: JSONValue?, wait: Bool) throws(APIError) -> JSONValue {
        let target = try resolve(name)
        let f = try Fields(body)
        guard let field = try f.string("field_name") else { throw APIError.format("field_name: missing field `field_name`") }
        let types: Set<String> = ["keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid"]
        let schema: JSONValue
        switch f["field_schema"] {
        case .string(let t)?:
            guard types.contains(t) else { throw APIError.format("field_schema: unknown variant `\(t)`, expected one of \(types.sorted().map { "`\($0)`" }.joined(separator: ", "))") }
            schema = ["data_type": .string(t), "points": 0]
        case .object(let o)?:
            guard let t = o["type"]?.stringValue, types.contains(t) else {
                throw APIError.format("field_schema.type: expected one of \(types.sorted().map { "`\($0)`" }.joined(separator: ", "))")
            }
            schema = ["data_type": .string(t), "params": .object(o), "points": 0]
        case nil:
            throw APIError.format("field_schema: missing field `field_schema`")
        case let other?:
            throw APIError.format("field_schema: expected a type name or an object, got \(other.typeName)")
        }
        payloadIndexes.withLock { $0[target, default: [:]][field] = schema }
        return updateResult(target, wait: wait)
    }

    func deletePayloadIndex(_ name: String, field: String, wait: Bool) throws(APIError) -> JSONValue {
        let target = try resolve(name)
        payloadIndexes.withLock { _ = $0[target]?.removeValue(forKey: field) }
        return updateResult(target, wait: wait)
    }

    func payloadIndexes(of collection: String) -> [String: JSONValue] {
        payloadIndexes.withLock { $0[collection] ?? [:] }
    }

    func forgetPayloadIndexes(of collection: String) {
        payloadIndexes.withLock { _ = $0.removeValue(forKey: collection) }
    }
}

import AsyncHTTPClient
import Foundation
import Locks
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SwitchyardJSON
import VectorMath
import VectorStore

/// A Qdrant server reached over its REST API, behind ``VectorBackend``: the managed layer (operations,
/// reindex, comparison) then keeps its records in the local store and its vectors in Qdrant.
///
/// ```swift
/// let qdrant = try QdrantBackend(QdrantBackend.Configuration(url: "http://127.0.0.1:6333"))
/// let manager = try CollectionManager(store: try Store.open(at: "/tmp/records"), vectors: qdrant)
/// ```
///
/// - Transport: AsyncHTTPClient with a connection pool; TLS (swift-nio-ssl) for `https://` URLs, with the
///   system's trust roots or ``Configuration/caFile``; the API key in the `api-key` header.
/// - Every call is synchronous (callers are worker threads and command-line code, never an event loop) and
///   has a deadline of ``Configuration/timeout``.
/// - Transient failures (no connection, a timeout, 429, 502, 503, 504) are retried with exponential
///   backoff and full jitter, up to ``Configuration/maxAttempts`` attempts; 4xx answers never are. Every
///   request the managed layer sends is idempotent (upserts carry their ids, deletes name their selection, alias
///   batches of `create`/`delete` name their end state), so a retry after a lost answer is safe; a create whose
///   first answer was lost is recognised by its 409. (`rename` is not: a retry after a lost answer finds the old
///   name gone, 404.)
/// - Errors map onto ``StoreError``: 404 `notFound`, 409 `alreadyExists`, 400/422 `invalidArgument`,
///   401/403 `invalidArgument` (naming the API key), and exhausted retries `io` (so the operations layer retries the
///   attempt later).
/// - What Qdrant cannot give: a collection's creation time (reported as `distantPast`), the searches running
///   on it (0), and a write checked in the same transaction as the records (see ``WritePrecondition``).
public final class QdrantBackend: VectorBackend {
    public struct Configuration: Sendable {
        /// `http://host:port` or `https://host:port` (a path prefix is kept).
        public var url: String
        public var apiKey: String?
        /// Deadline of one request (each attempt).
        public var timeout: Duration = .seconds(30)
        /// Time allowed to open a connection.
        public var connectTimeout: Duration = .seconds(5)
        /// Attempts per call, the first included.
        public var maxAttempts = 6
        /// First backoff; doubled per attempt up to ``maxBackoff``, then drawn uniformly below that (full jitter).
        public var baseBackoff: Duration = .milliseconds(100)
        public var maxBackoff: Duration = .seconds(5)
        /// Points per upsert request (Qdrant's default body limit is 32 MiB).
        public var upsertBatch = 256
        /// PEM file of certificate authorities to trust for `https://` (default: the system's).
        public var caFile: String?
        /// Passed through on collection creation: only `hnsw_config`, `optimizers_config`,
        /// `quantization_config` (top level) and `on_disk` (in the vector parameters).
        public var collectionOptions: [String: JSONValue] = [:]

        public init(url: String, apiKey: String? = nil) {
            self.url = url
            self.apiKey = apiKey
        }

        /// Keys accepted in ``collectionOptions``.
        public static let collectionOptionKeys: Set<String> = ["hnsw_config", "optimizers_config", "quantization_config", "on_disk"]
    }

    public let configuration: Configuration
    /// The URL without a trailing slash.
    public let baseURL: String
    public var backendIdentity: String { "qdrant \(baseURL)" }
    public var isLocal: Bool { false }
    /// Every attempt's deadline plus every backoff at its cap.
    public var longestCallSeconds: Double {
        var total = 0.0
        for attempt in 1...configuration.maxAttempts {
            total += configuration.timeout.seconds
            if attempt < configuration.maxAttempts {
                total += min(configuration.maxBackoff.seconds, configuration.baseBackoff.seconds * pow(2, Double(attempt - 1)))
            }
        }
        return total
    }

    public func collectionNames() throws(StoreError) -> [String] {
        let result = try call(.GET, "/collections", what: "listing collections")
        return (result["collections"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
    }
    private let client: HTTPClient
    private let logger: Logger
    private let closed = Locked(false)

    /// Checks the configuration and opens the connection pool (no request is made).
    ///
    /// - Throws: ``StoreError`` `invalidArgument` for a URL that is not `http(s)://host[:port]`, an unknown
    ///   collection option or an unreadable CA file.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "switchyard.qdrant")) throws(StoreError) {
        self.configuration = configuration
        self.logger = logger
        var url = configuration.url.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              parsed.host?.isEmpty == false, parsed.query == nil, parsed.user == nil, url.lowercased().hasPrefix(scheme + "://")
        else {
            throw .invalid("--qdrant-url '\(configuration.url)': expected http://HOST:PORT or https://HOST:PORT")
        }
        for key in configuration.collectionOptions.keys.sorted() where !Configuration.collectionOptionKeys.contains(key) {
            throw .invalid("Qdrant collection option '\(key)' is not passed through (allowed: \(Configuration.collectionOptionKeys.sorted().joined(separator: ", ")))")
        }
        guard configuration.maxAttempts >= 1, configuration.upsertBatch >= 1 else {
            throw .invalid("Qdrant client: maxAttempts and upsertBatch must be at least 1")
        }
        // Scheme and host are case-insensitive: one server has one identity (collections record it).
        let rest = url[url.index(url.startIndex, offsetBy: scheme.count + 3)...]
        let authority = rest.prefix { $0 != "/" }
        baseURL = scheme + "://" + authority.lowercased() + rest.dropFirst(authority.count)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch {
                throw .invalid("CA file '\(caFile)' could not be read as PEM certificates", cause: "\(error)")
            }
        }
        var c = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                         timeout: .init(connect: .init(configuration.connectTimeout), read: .init(configuration.timeout)))
        c.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        c.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
    }

    deinit { close() }

    /// Closes the connection pool; later calls fail.
    public func close() {
        guard closed.withLock({ let was = $0; $0 = true; return !was }) else { return }
        do { try client.syncShutdown() } catch { logger.warning("closing the Qdrant client failed", metadata: ["error": "\(error)"]) }
    }

    // MARK: - Service

    /// The server's `GET /` answer (`{"title", "version"}`); checks that it is reachable and speaks Qdrant.
    public func serverVersion() throws(StoreError) -> String {
        let reply = try call(.GET, "/", enveloped: false, what: "reaching Qdrant")
        guard let version = reply["version"]?.stringValue else {
            throw StoreError(.storage, "\(baseURL) does not answer as a Qdrant server (no version in GET /)")
        }
        return version
    }

    // MARK: - Collections

    @discardableResult
    public func createCollection(_ name: String, dimension: Int, distance: Distance) throws(StoreError) -> CollectionInfo {
        guard dimension >= 1 else { throw .invalid("collection '\(name)': dimension must be at least 1") }
        var params: [String: JSONValue] = ["size": .int(Int64(dimension)), "distance": .string(distance.rawValue)]
        if let onDisk = configuration.collectionOptions["on_disk"] { params["on_disk"] = onDisk }
        var body: [String: JSONValue] = ["vectors": .object(params)]
        for key in ["hnsw_config", "optimizers_config", "quantization_config"] {
            if let v = configuration.collectionOptions[key] { body[key] = v }
        }
        _ = try exchange(.PUT, "/collections/\(escaped(name))", rawBody: JSONValue.object(body).jsonText, what: "creating collection '\(name)'",
                             conflictAfterRetry: { () throws(StoreError) in
                                 // A retried create whose first answer was lost: the collection is there with this shape.
                                 let info = try self.collectionInfo(name)
                                 return info.name == name && info.dimension == dimension && info.distance == distance
                             })
        return try collectionInfo(name)
    }

    public func collections() throws(StoreError) -> [CollectionInfo] {
        let result = try call(.GET, "/collections", what: "listing collections")
        var out: [CollectionInfo] = []
        for entry in result["collections"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue else { continue }
            do { out.append(try collectionInfo(name)) } catch where error.code == .notFound { continue }  // dropped meanwhile
        }
        return out.sorted { $0.name < $1.name }
    }

    public func collectionInfo(_ nameOrAlias: String) throws(StoreError) -> CollectionInfo {
        let name = try resolve(nameOrAlias)
        let info = try call(.GET, "/collections/\(escaped(name))", what: "reading collection '\(name)'")
        let (dimension, distance) = try Self.shape(of: info, name: name)
        return CollectionInfo(name: name, dimension: dimension, distance: distance, createdAt: .distantPast,
                              pointCount: try count(name, filter: nil),
                              aliases: try aliases().filter { $0.collection == name }.map(\.alias).sorted())
    }

    public func collectionExists(_ name: String) throws(StoreError) -> Bool {
        // `/exists` is true for an alias too; the protocol asks about collections.
        let result = try call(.GET, "/collections", what: "listing collections")
        return (result["collections"]?.arrayValue ?? []).contains { $0["name"]?.stringValue == name }
    }

    public func dropCollection(_ name: String) throws(StoreError) {
        if try aliases().contains(where: { $0.alias == name }) {
            throw .invalid("'\(name)' is an alias; drop the collection it points to by its own name")
        }
        let (removed, retried) = try exchange(.DELETE, "/collections/\(escaped(name))", rawBody: nil, what: "dropping collection '\(name)'")
        // `false` after a retry may answer an earlier attempt that dropped it.
        if removed == .bool(false), !retried { throw .notFound("collection '\(name)' not found") }
    }

    // MARK: - Aliases

    public func aliases() throws(StoreError) -> [AliasInfo] {
        let result = try call(.GET, "/aliases", what: "listing aliases")
        return (result["aliases"]?.arrayValue ?? []).compactMap { a -> AliasInfo? in
            guard let alias = a["alias_name"]?.stringValue, let collection = a["collection_name"]?.stringValue else { return nil }
            return AliasInfo(alias: alias, collection: collection)
        }.sorted { $0.alias < $1.alias }
    }

    public func resolve(_ nameOrAlias: String) throws(StoreError) -> String {
        // Qdrant checks aliases first, then collections.
        if let a = try aliases().first(where: { $0.alias == nameOrAlias }) { return a.collection }
        guard try collectionExists(nameOrAlias) else { throw .notFound("collection or alias '\(nameOrAlias)' not found") }
        return nameOrAlias
    }

    /// Applies the batch with Qdrant's `POST /collections/aliases`: readers see the old mapping or the new one.
    /// Qdrant's own semantics apply (deleting a missing alias does nothing; a failing action leaves the earlier
    /// ones applied), so the batch is checked here first: every `create` must name an existing collection.
    public func updateAliases(_ actions: [AliasAction]) throws(StoreError) {
        guard !actions.isEmpty else { return }
        let names = Set(try call(.GET, "/collections", what: "listing collections")["collections"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        var body: [JSONValue] = []
        for action in actions {
            switch action {
            case .create(let alias, let collection):
                guard names.contains(collection) else { throw .notFound("alias '\(alias)': collection '\(collection)' not found") }
                guard !names.contains(alias) else { throw .alreadyExists("'\(alias)' is a collection; an alias cannot take its name") }
                body.append(["create_alias": ["collection_name": .string(collection), "alias_name": .string(alias)]])
            case .delete(let alias):
                body.append(["delete_alias": ["alias_name": .string(alias)]])
            case .rename(let from, let to):
                body.append(["rename_alias": ["old_alias_name": .string(from), "new_alias_name": .string(to)]])
            }
        }
        _ = try call(.POST, "/collections/aliases", body: ["actions": .array(body)], what: "updating aliases")
    }

    // MARK: - Points

    @discardableResult
    public func upsert(_ collection: String, points: [Point]) throws(StoreError) -> Int {
        var start = 0
        while start < points.count {
            let end = min(points.count, start + configuration.upsertBatch)
            var text = #"{"points":["#
            for i in start..<end {
                if i > start { text += "," }
                let p = points[i]
                for x in p.vector where !x.isFinite {
                    throw .invalid("upsert into '\(collection)': point \(p.id) has a non-finite component")
                }
                text += #"{"id":"# + p.id.json.jsonText + #","vector":["#
                text += p.vector.map { "\($0)" }.joined(separator: ",")
                text += #"],"payload":"# + JSONValue.object(p.payload).jsonText + "}"
            }
            text += "]}"
            _ = try call(.PUT, "/collections/\(escaped(collection))/points?wait=true", rawBody: text, what: "upserting into '\(collection)'")
            start = end
        }
        return points.count
    }

    /// Checks the precondition against the records, then upserts: not one transaction (see ``WritePrecondition``).
    @discardableResult
    public func upsert(_ collection: String, points: [Point], precondition: WritePrecondition) throws(StoreError) -> Int {
        try precondition.verifySeparately()
        return try upsert(collection, points: points)
    }

    public func get(_ collection: String, ids: [PointID], withVector: Bool, withPayload: Bool) throws(StoreError) -> [Record] {
        guard !ids.isEmpty else { return [] }
        let result = try call(.POST, "/collections/\(escaped(collection))/points", body: [
            "ids": .array(ids.map(\.json)), "with_vector": .bool(withVector), "with_payload": .bool(withPayload),
        ], what: "retrieving points of '\(collection)'")
        let records = try (result.arrayValue ?? []).map { (r) throws(StoreError) -> Record in try Self.record(r) }
        // In the order asked for, as the embedded store returns them.
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byID[$0] }
    }

    @discardableResult
    public func delete(_ collection: String, ids: [PointID]) throws(StoreError) -> Int {
        guard !ids.isEmpty else { return 0 }
        let present = try get(collection, ids: ids, withVector: false, withPayload: false).count
        _ = try call(.POST, "/collections/\(escaped(collection))/points/delete?wait=true", body: ["points": .array(ids.map(\.json))],
                     what: "deleting points of '\(collection)'")
        return present
    }

    /// Deletes the matching points; the count returned is the one counted just before (Qdrant reports none).
    @discardableResult
    public func delete(_ collection: String, filter: Filter) throws(StoreError) -> Int {
        let matching = try count(collection, filter: filter)
        guard matching > 0 else { return 0 }
        _ = try call(.POST, "/collections/\(escaped(collection))/points/delete?wait=true", body: ["filter": filter.json],
                     what: "deleting points of '\(collection)'")
        return matching
    }

    @discardableResult
    public func delete(_ collection: String, filter: Filter, precondition: WritePrecondition) throws(StoreError) -> Int {
        try precondition.verifySeparately()
        return try delete(collection, filter: filter)
    }

    @discardableResult
    public func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]?, filter: Filter?) throws(StoreError) -> Int {
        guard (ids == nil) != (filter == nil) else {
            throw .invalid("payload update of '\(collection)': give ids or a filter, not both (Qdrant would update their union)")
        }
        var selector: [String: JSONValue] = [:]
        if let ids { selector["points"] = .array(ids.map(\.json)) }
        if let filter { selector["filter"] = filter.json }
        let matching: Int
        if let ids { matching = try get(collection, ids: ids, withVector: false, withPayload: false).count } else {
            matching = try count(collection, filter: filter)
        }
        let path = "/collections/\(escaped(collection))/points/payload"
        var body = selector
        switch update {
        case .merge(let p):
            body["payload"] = .object(p)
            _ = try call(.POST, path + "?wait=true", body: .object(body), what: "setting payloads in '\(collection)'")
        case .overwrite(let p):
            body["payload"] = .object(p)
            _ = try call(.PUT, path + "?wait=true", body: .object(body), what: "overwriting payloads in '\(collection)'")
        case .deleteKeys(let keys):
            body["keys"] = .array(keys.map { .string($0) })
            _ = try call(.POST, path + "/delete?wait=true", body: .object(body), what: "deleting payload keys in '\(collection)'")
        case .clear:
            _ = try call(.POST, path + "/clear?wait=true", body: .object(body), what: "clearing payloads in '\(collection)'")
        }
        return matching
    }

    @discardableResult
    public func updatePayload(_ collection: String, _ update: PayloadUpdate, ids: [PointID]?, filter: Filter?,
                              precondition: WritePrecondition) throws(StoreError) -> Int {
        try precondition.verifySeparately()
        return try updatePayload(collection, update, ids: ids, filter: filter)
    }

    public func scroll(_ collection: String, filter: Filter?, limit: Int, offset: PointID?, withVector: Bool,
                       withPayload: Bool) throws(StoreError) -> ScrollPage {
        guard limit >= 1 else { throw .invalid("scroll of '\(collection)': limit must be at least 1") }
        var body: [String: JSONValue] = ["limit": .int(Int64(limit)), "with_vector": .bool(withVector), "with_payload": .bool(withPayload)]
        if let filter { body["filter"] = filter.json }
        if let offset { body["offset"] = offset.json }
        let result = try call(.POST, "/collections/\(escaped(collection))/points/scroll", body: .object(body), what: "scrolling '\(collection)'")
        let points = try (result["points"]?.arrayValue ?? []).map { (r) throws(StoreError) -> Record in try Self.record(r) }
        let next = result["next_page_offset"].flatMap { $0 == .null ? nil : PointID(json: $0) }
        return ScrollPage(points: points, nextPageOffset: next)
    }

    public func count(_ collection: String, filter: Filter?) throws(StoreError) -> Int {
        var body: [String: JSONValue] = ["exact": true]
        if let filter { body["filter"] = filter.json }
        let result = try call(.POST, "/collections/\(escaped(collection))/points/count", body: .object(body), what: "counting '\(collection)'")
        guard let n = result["count"]?.numberValue else { throw StoreError(.storage, "Qdrant answered a count of '\(collection)' without a count") }
        return Int(n)
    }

    // MARK: - Search

    public func search(_ collection: String, _ request: SearchRequest) throws(StoreError) -> [ScoredPoint] {
        let result = try call(.POST, "/collections/\(escaped(collection))/points/query", body: try Self.query(request),
                              what: "searching '\(collection)'")
        return try Self.scored(result, collection: collection)
    }

    public func searchBatch(_ collection: String, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]] {
        guard !requests.isEmpty else { return [] }
        let searches = try requests.map { (r) throws(StoreError) -> JSONValue in try Self.query(r) }
        let result = try call(.POST, "/collections/\(escaped(collection))/points/query/batch", body: ["searches": .array(searches)],
                              what: "searching '\(collection)'")
        guard let lists = result.arrayValue, lists.count == requests.count else {
            throw StoreError(.storage, "Qdrant answered a batch of \(requests.count) searches of '\(collection)' with another number of results")
        }
        return try lists.map { (l) throws(StoreError) -> [ScoredPoint] in try Self.scored(l, collection: collection) }
    }

    /// Qdrant does not report the searches running on a collection: always 0 (cleanup relies on the grace period).
    public func activeSearches(_ nameOrAlias: String) throws(StoreError) -> Int {
        _ = try resolve(nameOrAlias)
        return 0
    }

    // MARK: - Encoding and decoding

    static func query(_ r: SearchRequest) throws(StoreError) -> JSONValue {
        guard r.limit >= 1 else { throw .invalid("search: limit must be at least 1") }
        for x in r.vector where !x.isFinite { throw .invalid("search: the query vector has a non-finite component") }
        var o: [String: JSONValue] = [
            "query": ["nearest": .array(r.vector.map { .double(Double($0)) })],
            "limit": .int(Int64(r.limit)), "offset": .int(Int64(r.offset)),
            "with_payload": .bool(r.withPayload), "with_vector": .bool(r.withVector),
            "params": ["exact": true],
        ]
        if let f = r.filter { o["filter"] = f.json }
        if let t = r.scoreThreshold { o["score_threshold"] = .double(Double(t)) }
        if let using = r.using, !using.isEmpty { o["using"] = .string(using) }
        return .object(o)
    }

    static func scored(_ result: JSONValue, collection: String) throws(StoreError) -> [ScoredPoint] {
        guard let points = result["points"]?.arrayValue else {
            throw StoreError(.storage, "Qdrant answered a search of '\(collection)' without points")
        }
        return try points.map { (p) throws(StoreError) -> ScoredPoint in
            let r = try record(p)
            guard let score = p["score"]?.numberValue else { throw StoreError(.storage, "Qdrant answered a scored point without a score") }
            return ScoredPoint(id: r.id, score: Float(score), vector: r.vector, payload: r.payload)
        }
    }

    static func record(_ v: JSONValue) throws(StoreError) -> Record {
        guard let idValue = v["id"], let id = PointID(json: idValue) else {
            throw StoreError(.storage, "Qdrant answered a point without a valid id: \(v.jsonText.prefix(200))")
        }
        var vector: [Float]?
        if let raw = v["vector"], raw != .null {
            guard let a = raw.arrayValue else {
                throw StoreError(.invalidArgument, "point \(id) has named vectors, which the Qdrant backend does not support")
            }
            vector = try a.map { (x) throws(StoreError) -> Float in
                guard let d = x.numberValue else { throw StoreError(.storage, "Qdrant answered point \(id) with a non-number component") }
                return Float(d)
            }
        }
        let payload = v["payload"].flatMap { $0 == .null ? nil : $0.objectValue }
        return Record(id: id, vector: vector, payload: payload)
    }

    static func shape(of info: JSONValue, name: String) throws(StoreError) -> (Int, Distance) {
        guard let vectors = info["config"]?["params"]?["vectors"] else {
            throw StoreError(.storage, "Qdrant answered the info of '\(name)' without config.params.vectors")
        }
        if let size = vectors["size"]?.numberValue, let d = vectors["distance"]?.stringValue {
            guard let distance = Distance(rawValue: d) else { throw StoreError(.storage, "collection '\(name)' has an unknown distance '\(d)'") }
            return (Int(size), distance)
        }
        throw StoreError(.invalidArgument, "collection '\(name)' has named vectors, which the Qdrant backend does not support")
    }

    private func escaped(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }

    // MARK: - Transport

    private func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil, enveloped: Bool = true, what: String) throws(StoreError) -> JSONValue {
        try call(method, path, rawBody: body?.jsonText, enveloped: enveloped, what: what)
    }

    private func call(_ method: HTTPMethod, _ path: String, rawBody: String?, enveloped: Bool = true, what: String) throws(StoreError) -> JSONValue {
        try exchange(method, path, rawBody: rawBody, enveloped: enveloped, what: what).result
    }

    /// Sends the request, retrying transient failures. Returns the result and whether it took more than one attempt.
    /// - Parameter conflictAfterRetry: For a 409 after a retry: whether the state the call wanted is there (the
    ///   lost first answer did it); then the call succeeds with `true`.
    private func exchange(_ method: HTTPMethod, _ path: String, rawBody: String?, enveloped: Bool = true, what: String,
                          conflictAfterRetry: (() throws(StoreError) -> Bool)? = nil) throws(StoreError) -> (result: JSONValue, retried: Bool) {
        guard !closed.withLock({ $0 }) else { throw StoreError(.storage, "\(what): the Qdrant client is closed") }
        var attempt = 0
        while true {
            attempt += 1
            switch send(method, path, rawBody) {
            case .answer(let status, let bytes, let retryAfter):
                if (200..<300).contains(status) {
                    return (try decode(bytes, enveloped: enveloped, what: what), attempt > 1)
                }
                let message = Self.errorMessage(bytes) ?? "HTTP \(status)"
                if [429, 502, 503, 504].contains(status) {
                    if attempt < configuration.maxAttempts {
                        pause(attempt: attempt, retryAfter: retryAfter, reason: "HTTP \(status): \(message)", what: what)
                        continue
                    }
                    throw StoreError(.io, "\(what) failed: Qdrant at \(baseURL) still answered \(status) after \(attempt) attempts", cause: message)
                }
                if status == 409, attempt > 1, let conflictAfterRetry, try conflictAfterRetry() { return (.bool(true), true) }
                throw Self.error(status: status, message: message, what: what)
            case .transportFailure(let error, let retryable):
                guard retryable else { throw StoreError(.storage, "\(what) failed: \(baseURL): \(error)") }
                if attempt < configuration.maxAttempts {
                    pause(attempt: attempt, retryAfter: nil, reason: "\(error)", what: what)
                    continue
                }
                throw StoreError(.io, "\(what) failed: Qdrant at \(baseURL) unreachable after \(attempt) attempts", cause: "\(error)")
            }
        }
    }

    private enum Outcome {
        case answer(status: Int, body: ByteBuffer?, retryAfter: Double?)
        case transportFailure(any Error, retryable: Bool)
    }

    private func send(_ method: HTTPMethod, _ path: String, _ body: String?) -> Outcome {
        do {
            var headers = HTTPHeaders()
            headers.add(name: "accept", value: "application/json")
            if let key = configuration.apiKey { headers.add(name: "api-key", value: key) }
            if body != nil { headers.add(name: "content-type", value: "application/json") }
            let request = try HTTPClient.Request(url: baseURL + path, method: method, headers: headers,
                                                 body: body.map { .byteBuffer(ByteBuffer(string: $0)) })
            let response = try client.execute(request: request, deadline: .now() + .init(configuration.timeout)).wait()
            let retryAfter = response.headers.first(name: "retry-after").flatMap(Double.init)
            return .answer(status: Int(response.status.code), body: response.body, retryAfter: retryAfter)
        } catch {
            return .transportFailure(error, retryable: Self.isRetryable(error))
        }
    }

    /// Connection failures and timeouts are worth retrying; a bad URL, TLS failures and a closed client are not.
    static func isRetryable(_ error: any Error) -> Bool {
        if error is NIOSSLError || error is BoringSSLError { return false }
        if let e = error as? HTTPClientError {
            if e == .invalidURL || e == .emptyHost || e == .emptyScheme || e == .alreadyShutdown { return false }
            if "\(e)".contains("unsupportedScheme") { return false }
        }
        return true
    }

    private func pause(attempt: Int, retryAfter: Double?, reason: String, what: String) {
        let cap = configuration.maxBackoff.seconds
        let exponential = min(cap, configuration.baseBackoff.seconds * pow(2, Double(attempt - 1)))
        let delay = retryAfter.map { min(cap, max(0, $0)) } ?? Double.random(in: 0...exponential)
        logger.warning("Qdrant call failed; retrying", metadata: [
            "call": "\(what)", "attempt": "\(attempt)", "reason": "\(reason)", "delay_s": "\(String(format: "%.3f", delay))",
        ])
        Thread.sleep(forTimeInterval: delay)
    }

    private func decode(_ body: ByteBuffer?, enveloped: Bool, what: String) throws(StoreError) -> JSONValue {
        guard let body, body.readableBytes > 0 else { throw StoreError(.storage, "\(what): Qdrant answered with an empty body") }
        let value: JSONValue
        do {
            value = try body.withUnsafeReadableBytes { raw in
                try JSONParser.parse(bytes: UnsafeBufferPointer(start: raw.bindMemory(to: UInt8.self).baseAddress, count: raw.count))
            }
        } catch {
            throw StoreError(.storage, "\(what): Qdrant answered with malformed JSON", cause: "\(error)")
        }
        guard enveloped else { return value }
        guard let result = value["result"] else { throw StoreError(.storage, "\(what): Qdrant answered without a result") }
        return result
    }

    static func errorMessage(_ body: ByteBuffer?) -> String? {
        guard let body, let text = body.getString(at: body.readerIndex, length: body.readableBytes) else { return nil }
        if let v = try? JSONParser.parse(text), let m = v["status"]?["error"]?.stringValue { return m }
        return text.isEmpty ? nil : String(text.prefix(300))
    }

    static func error(status: Int, message: String, what: String) -> StoreError {
        switch status {
        case 404: StoreError(.notFound, "\(what): \(message)")
        case 409: StoreError(.alreadyExists, "\(what): \(message)")
        case 401, 403: StoreError(.invalidArgument, "\(what): Qdrant refused the request (\(status)); check the API key (--qdrant-api-key or SWITCHYARD_QDRANT_API_KEY)", cause: message)
        case 400, 413, 422: StoreError(.invalidArgument, "\(what): \(message)")
        default: StoreError(.storage, "\(what): Qdrant answered \(status)", cause: message)
        }
    }
}

extension TimeAmount {
    init(_ d: Duration) {
        let (s, atto) = d.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}

extension StoreError {
    static func invalid(_ message: String, cause: String? = nil) -> StoreError { StoreError(.invalidArgument, message, cause: cause) }
    static func notFound(_ message: String) -> StoreError { StoreError(.notFound, message) }
    static func alreadyExists(_ message: String) -> StoreError { StoreError(.alreadyExists, message) }
}

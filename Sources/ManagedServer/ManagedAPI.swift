import Foundation
import Locks
import Logging
import Server
import Switchyard
import SwitchyardJSON

/// The managed layer over HTTP, under `/switchyard/v1/…`: managed collections (create and index, append,
/// remove a source, reindex, rollback, delete), operations (list with progress, details with metrics, cancel),
/// the audit trail and quotas. Calls that queue work answer 202 with the operation at once; a worker (in
/// `serve --workers N`, or a separate `switchyard worker`) runs it. Answers use Qdrant's envelope.
public final class ManagedAPI: Sendable {
    public let manager: CollectionManager
    let reindex: ReindexService
    /// Refuse every call that is not a GET (403).
    public let readOnly: Bool
    /// Why writes are refused although the server is not read-only (nil: allowed), e.g. no API key on a
    /// non-loopback address: managed writes read and write files on the server's machine.
    public let writesRefused: String?

    public init(manager: CollectionManager, readOnly: Bool = false, writesRefused: String? = nil) throws(OperationsError) {
        self.manager = manager
        self.reindex = try ReindexService(manager: manager)
        self.readOnly = readOnly
        self.writesRefused = writesRefused
    }

    public static let prefix = "/switchyard/v1"

    /// Answers a request under ``prefix`` (nil for any other path).
    public func handle(_ r: QdrantAPI.Request) -> QdrantAPI.Reply? {
        guard r.segments.count >= 2, r.segments[0] == "switchyard", r.segments[1] == "v1" else { return nil }
        var route = "/switchyard/v1/unknown"
        // Decided on the parsed path, the one routing uses (`//switchyard/…` and `%73witchyard` included).
        if r.method != "GET" {
            if readOnly { return QdrantAPI.Reply(status: 403, body: .error("Forbidden: this server is read-only (--read-only)"), route: route) }
            if let why = writesRefused { return QdrantAPI.Reply(status: 403, body: .error("Forbidden: \(why)"), route: route) }
        }
        do {
            let (status, result) = try dispatch(r, Array(r.segments.dropFirst(2)), route: &route)
            return QdrantAPI.Reply(status: status, body: .result(result), route: route)
        } catch let e as ManagedError {
            return QdrantAPI.Reply(status: e.status, body: .error(e.message), route: route)
        } catch let e as APIError {
            return QdrantAPI.Reply(status: e.status, body: .error(e.message), route: route)
        } catch let e as OperationsError {
            return QdrantAPI.Reply(status: Self.status(of: e), body: .error(e.description), route: route)
        } catch {
            return QdrantAPI.Reply(status: 500, body: .error("Service internal error: \(error)"), route: route)
        }
    }

    struct ManagedError: Error {
        var status: Int
        var message: String
    }

    static func status(of e: OperationsError) -> Int {
        switch e.code {
        case .invalidInput: 400
        case .notFound: 404
        case .conflict: 409
        case .quotaExceeded: 403
        case .transient: 503
        default: 500
        }
    }

    // MARK: - Routing

    /// One request's method, body and user, its route label, and the method and body checks.
    private struct Routing {
        let method: String
        let body: Fields
        let user: String
        var route = "unknown"

        /// Refuses members the endpoint does not take (a misspelt option must not queue work).
        func takes(_ allowed: String...) throws {
            let extra = Set(body.members.keys).subtracting(allowed + ["user"])
            if let first = extra.sorted().first {
                throw ManagedError(status: 400, message: "Format error in JSON body: unknown field `\(first)` (this endpoint takes \((allowed + ["user"]).map { "`\($0)`" }.joined(separator: ", ")))")
            }
        }

        func needs(_ methods: String...) throws {
            guard methods.contains(method) else {
                throw ManagedError(status: 405, message: "Method not allowed: \(method) \(route) (allowed: \(methods.joined(separator: ", ")))")
            }
        }
    }

    private func dispatch(_ r: QdrantAPI.Request, _ s: [String], route: inout String) throws -> (Int, JSONValue) {
        let body = try Fields(r.body)
        var ctx = Routing(method: r.method, body: body, user: try body.string("user") ?? r.query["user"] ?? CollectionSpec.defaultOwner, route: route)
        defer { route = ctx.route }
        let reply: (Int, JSONValue)?
        switch (s.first, s.count) {
        case ("collections", 1): reply = try collections(&ctx)
        case ("collections", 2): reply = try collection(s[1], &ctx)
        case ("collections", 3): reply = try collectionAction(s[1], s[2], &ctx)
        case ("operations", 1): reply = try operations(r.query, &ctx)
        case ("operations", 2):
            ctx.route = "/switchyard/v1/operations/{id}"
            try ctx.needs("GET")
            let op = try manager.operation(s[1])
            reply = (200, ["operation": op.json, "metrics": metricsJSON(try manager.metrics(of: op.id))])
        case ("operations", 3) where s[2] == "cancel":
            ctx.route = "/switchyard/v1/operations/{id}/cancel"
            try ctx.needs("POST")
            try ctx.takes()
            reply = (200, ["operation": try manager.cancel(s[1], user: ctx.user).json])
        case ("compare", 1):
            ctx.route = "/switchyard/v1/compare"
            try ctx.needs("POST")
            try ctx.takes("old", "new", "old_embedder", "new_embedder", "queries", "qrels", "k", "thresholds")
            reply = (200, try compare(body))
        case ("limits", 2): reply = try limits(s[1], &ctx)
        default: reply = nil
        }
        guard let reply else { throw ManagedError(status: 404, message: "Not found: no endpoint \(r.method) /switchyard/v1/\(s.joined(separator: "/"))") }
        return reply
    }

    /// `GET` lists the collections; `POST` creates one and queues its INDEX.
    private func collections(_ ctx: inout Routing) throws -> (Int, JSONValue) {
        ctx.route = "/switchyard/v1/collections"
        try ctx.needs("GET", "POST")
        if ctx.method == "GET" { return (200, ["collections": .array(try manager.collections().map(\.json))]) }
        try ctx.takes("name", "sources", "owner", "description", "embedder", "chunk_size", "chunk_overlap", "distance")
        return (202, try create(ctx.body, user: ctx.user))
    }

    /// `GET` shows a collection with its sources and latest operations; `DELETE` queues its deletion.
    private func collection(_ name: String, _ ctx: inout Routing) throws -> (Int, JSONValue) {
        ctx.route = "/switchyard/v1/collections/{name}"
        try ctx.needs("GET", "DELETE")
        if ctx.method == "GET" {
            let c = try manager.collection(named: name)
            return (200, ["collection": c.json, "sources": .array(try manager.sources(of: name).map(\.json)),
                          "operations": .array(try manager.operations(collection: name, limit: 10).map(\.json))])
        }
        try ctx.takes()
        return (202, ["operation": try manager.deleteCollection(name, user: ctx.user).json])
    }

    /// `append`, `remove-source`, `reindex`, `rollback` and `audit` of one collection.
    private func collectionAction(_ name: String, _ action: String, _ ctx: inout Routing) throws -> (Int, JSONValue)? {
        let user = ctx.user
        switch action {
        case "append", "remove-source":
            ctx.route = "/switchyard/v1/collections/{name}/\(action)"
            try ctx.needs("POST")
            try ctx.takes("source")
            guard let source = try ctx.body.string("source"), !source.isEmpty else {
                throw ManagedError(status: 400, message: "Format error in JSON body: source: missing field `source` (a path on the server)")
            }
            try Self.absolute(source, "source")
            let op = action == "append" ? try manager.append(name, source: source, user: user) : try manager.removeSource(name, source: source, user: user)
            return (202, ["operation": op.json])
        case "reindex":
            ctx.route = "/switchyard/v1/collections/{name}/reindex"
            try ctx.needs("POST")
            try ctx.takes("embedder", "chunk_size", "chunk_overlap", "distance", "queries", "qrels", "thresholds", "report")
            return (202, ["operation": try manager.requestReindex(name, try reindexRequest(ctx.body), user: user).json])
        case "rollback":
            ctx.route = "/switchyard/v1/collections/{name}/rollback"
            try ctx.needs("POST")
            try ctx.takes()
            // The answer comes from the rollback itself: nothing may fail after it committed (a client
            // retrying a rollback would flip back).
            let g = try reindex.rollback(name, user: user)
            return (200, ["collection": .string(name), "serving": .string(g.vectorStoreName), "embedder": .string(g.embedder),
                          "chunk_size": .int(Int64(g.chunkSize)), "chunk_overlap": .int(Int64(g.chunkOverlap))])
        case "audit":
            ctx.route = "/switchyard/v1/collections/{name}/audit"
            try ctx.needs("GET")
            return (200, ["entries": .array(try manager.audit(collection: name).map(\.json))])
        default:
            return nil
        }
    }

    /// The operations, filtered by `collection` and `status`, newest first, at most `limit`.
    private func operations(_ query: [String: String], _ ctx: inout Routing) throws -> (Int, JSONValue) {
        ctx.route = "/switchyard/v1/operations"
        try ctx.needs("GET")
        let status = try query["status"].map { text throws in
            guard let s = OperationStatus(rawValue: text) else {
                throw ManagedError(status: 400, message: "Bad request: status '\(text)' is not one of pending, processing, completed, failed, cancelled")
            }
            return s
        }
        var limit = 100
        if let text = query["limit"] {
            guard let n = Int(text) else { throw ManagedError(status: 400, message: "Bad request: limit must be a number from 1 to 10000, got '\(text)'") }
            limit = n
        }
        guard (1...10_000).contains(limit) else { throw ManagedError(status: 400, message: "Bad request: limit must be from 1 to 10000") }
        return (200, ["operations": .array(try manager.operations(collection: query["collection"], status: status, limit: limit).map(\.json))])
    }

    /// An owner's limits, usage and reservations; `PUT` changes the limits given.
    private func limits(_ owner: String, _ ctx: inout Routing) throws -> (Int, JSONValue) {
        ctx.route = "/switchyard/v1/limits/{owner}"
        try ctx.needs("GET", "PUT")
        let body = ctx.body
        if ctx.method == "PUT" {
            try ctx.takes("max_collections", "max_documents", "max_storage_bytes", "max_operations_per_hour")
            guard body.members.keys.contains(where: { $0 != "user" }) else {
                throw ManagedError(status: 400, message: "Format error in JSON body: give at least one of `max_collections`, `max_documents`, `max_storage_bytes`, `max_operations_per_hour`")
            }
            let current = try manager.limits(owner: owner)
            try manager.setLimits(ResourceLimits(
                owner: owner, maxCollections: try body.uint("max_collections") ?? current.maxCollections,
                maxDocuments: try body.uint("max_documents") ?? current.maxDocuments,
                maxStorageBytes: try body.uint("max_storage_bytes") ?? current.maxStorageBytes,
                maxOperationsPerHour: try body.uint("max_operations_per_hour") ?? current.maxOperationsPerHour))
        }
        let reservations = try manager.reservations().filter { $0.owner == owner }
        return (200, ["limits": try manager.limits(owner: owner).json, "usage": try manager.usage(owner: owner).json,
                      "reservations": .array(reservations.map(\.json))])
    }

    // MARK: - Requests

    private func create(_ b: Fields, user: String) throws -> JSONValue {
        guard let name = try b.string("name") else { throw ManagedError(status: 400, message: "Format error in JSON body: name: missing field `name`") }
        guard let sources = try b.strings("sources"), !sources.isEmpty else {
            throw ManagedError(status: 400, message: "Format error in JSON body: sources: missing field `sources` (paths on the server)")
        }
        for source in sources { try Self.absolute(source, "sources") }
        var spec = CollectionSpec(name: name, owner: try b.string("owner") ?? user)
        if let d = try b.string("description") { spec.description = d }
        if let e = try b.string("embedder") { spec.embedder = e }
        if let n = try b.uint("chunk_size") { spec.chunkSize = n }
        if let n = try b.uint("chunk_overlap") { spec.chunkOverlap = n }
        if let d = try b.string("distance") {
            guard let distance = Distance(parsing: d) else { throw ManagedError(status: 400, message: "Format error in JSON body: distance: expected Cosine, Dot, Euclid or Manhattan, got '\(d)'") }
            spec.distance = distance
        }
        let (collection, op) = try manager.createCollection(spec, sources: sources, user: user)
        return ["collection": collection.json, "operation": op.json]
    }

    /// Compares two collections (managed, aliases or physical), each searched with its own embedder; the
    /// answer is the comparison report (as `switchyard compare --json`). Reads only.
    private func compare(_ b: Fields) throws -> JSONValue {
        guard let old = try b.string("old"), let new = try b.string("new") else {
            throw ManagedError(status: 400, message: "Format error in JSON body: give `old` and `new` (collections or aliases)")
        }
        let k = try b.uint("k") ?? 10
        guard k >= 1 else { throw ManagedError(status: 400, message: "Format error in JSON body: k must be at least 1") }
        let queries = try b.string("queries"), qrels = try b.string("qrels")
        if qrels != nil && queries == nil { throw ManagedError(status: 400, message: "Bad request: qrels needs queries") }
        for (path, what) in [(queries, "queries"), (qrels, "qrels")] { if let path { try Self.absolute(path, what) } }
        if let queries { _ = try ValidationInputs.loadQueries(queries, qrels: qrels) }
        var o = Comparison.Options()
        o.k = k
        o.queriesPath = queries
        o.qrelsPath = qrels
        o.thresholds = try Thresholds.make(try b.numbers("thresholds") ?? [:])
        let a = try reindex.side("old", old, embedder: try b.string("old_embedder"))
        let c = try reindex.side("new", new, embedder: try b.string("new_embedder"))
        if let x = try? reindex.generationConfig(of: a.collection), let y = try? reindex.generationConfig(of: c.collection) {
            o.sameChunking = x.chunkSize == y.chunkSize && x.chunkOverlap == y.chunkOverlap
        }
        return try Comparison(manager: manager, old: a, new: c, options: o).run().json
    }

    private func reindexRequest(_ b: Fields) throws -> ReindexRequest {
        var r = ReindexRequest(embedder: try b.string("embedder"), chunkSize: try b.uint("chunk_size"), chunkOverlap: try b.uint("chunk_overlap"),
                               queriesPath: try b.string("queries"), qrelsPath: try b.string("qrels"), reportPath: try b.string("report"))
        if let d = try b.string("distance") {
            guard let distance = Distance(parsing: d) else { throw ManagedError(status: 400, message: "Format error in JSON body: distance: expected Cosine, Dot, Euclid or Manhattan, got '\(d)'") }
            r.distance = distance
        }
        r.thresholds = try b.numbers("thresholds") ?? [:]
        _ = try Thresholds.make(r.thresholds)  // unknown names are refused now, not when the reindex runs
        for (path, what) in [(r.queriesPath, "queries"), (r.qrelsPath, "qrels"), (r.reportPath, "report")] {
            if let path { try Self.absolute(path, what) }
        }
        // Over HTTP a report never replaces a file that exists.
        if let report = r.reportPath, FileManager.default.fileExists(atPath: report) {
            throw ManagedError(status: 400, message: "Bad request: report: \(report) exists; name a new file")
        }
        return r
    }

    /// Paths in bodies are paths on the server's machine, and must be absolute (the server's working
    /// directory means nothing to a client).
    static func absolute(_ path: String, _ what: String) throws {
        guard path.hasPrefix("/") else {
            throw ManagedError(status: 400, message: "Bad request: \(what): '\(path)' must be an absolute path on the server")
        }
    }
}

/// `serve --workers N`: one worker running up to N operations at once on a thread of its own, until
/// ``stop(within:)``. A failure of the worker loop itself (the database busy for long) is logged and the
/// loop starts again a second later, so queued operations are never left without a worker.
public final class InProcessWorkers: Sendable {
    private let stopping = Locked(false)
    private let stopped = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(manager: CollectionManager, concurrency: Int, handlers: [OperationType: any OperationHandler], telemetry: Telemetry) {
        var options = Worker.Options()
        options.concurrency = concurrency
        options.telemetry = telemetry
        let worker = Worker(manager: manager, options: options, handlers: handlers)
        let stopping = self.stopping
        let finished = self.finished
        Thread {
            while !stopping.withLock({ $0 }) {
                do {
                    _ = try worker.run(until: { stopping.withLock { $0 } })
                } catch {
                    Logger(label: "switchyard.server").error("in-process worker failed; starting again in 1 s", metadata: ["error": "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            finished.signal()
        }.start()
    }

    /// Asks the worker to stop claiming and waits up to `seconds` for its running attempts.
    ///
    /// - Returns: Whether it stopped in time. An attempt still running when the process exits keeps its
    ///   lease until the lease lapses; then the next worker on the store takes it over (at least once).
    @discardableResult
    public func stop(within seconds: Double) -> Bool {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        stopping.withLock { $0 = true }
        guard first else { return true }
        return finished.wait(timeout: .now() + seconds) == .success
    }
}

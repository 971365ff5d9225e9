import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Locks
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SwitchyardJSON
import Telemetry
import VectorStore

/// `switchyard serve`: ``QdrantAPI`` over HTTP/1.1 with Hummingbird.
///
/// - API key: when set, every endpoint but `/`, `/healthz`, `/livez` and `/readyz` needs the `api-key` header
///   or `Authorization: Bearer <key>` (compared in constant time); otherwise 401. Keys are never logged.
/// - Bodies above ``Configuration/maxRequestBytes`` get 413; malformed JSON 400 naming the byte offset.
/// - Store calls run on a thread pool, never on the event loops; each write is one transaction, so a
///   client that goes away mid-request leaves the write whole or absent.
/// - `GET /metrics`: the store's Prometheus metrics plus `switchyard_http_requests_total` and
///   `switchyard_http_request_duration_seconds` by route.
public enum QdrantServer {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 6333
        public var apiKey: String?
        /// Qdrant's default: 32 MiB.
        public var maxRequestBytes = 32 * 1_048_576
        /// A connection with nothing read or written for this long is closed (half-sent requests).
        public var idleTimeout: Duration = .seconds(60)
        /// Injected faults, for testing clients (nothing by default).
        public var faults = Faults()
        public init() {}
    }

    /// Faults a test server injects into the Qdrant API's calls (never into `/`, health probes or `/metrics`),
    /// so clients' retries, timeouts and idempotency can be tested against a real server.
    public struct Faults: Sendable, Equatable {
        /// Share of calls answered 503 without running them.
        public var unavailable = 0.0
        /// Share of calls that run and whose answer is then replaced by a 503 (the client cannot tell they ran).
        public var lostAnswer = 0.0
        /// Added before every call is answered.
        public var delay: Duration = .zero
        /// Only calls whose path contains this (all calls when nil).
        public var path: String?
        public init(unavailable: Double = 0, lostAnswer: Double = 0, delay: Duration = .zero, path: String? = nil) {
            self.unavailable = unavailable
            self.lostAnswer = lostAnswer
            self.delay = delay
            self.path = path
        }
        public var isEmpty: Bool { unavailable == 0 && lostAnswer == 0 && delay == .zero }
    }

    /// Builds the application; `onRunning` receives the bound port (useful with port 0).
    ///
    /// - Parameter extra: answers the requests it knows (it returns nil for the others), before the Qdrant
    ///   API; `switchyard serve` passes the managed layer's `/switchyard/v1` API here.
    public static func application(
        api: QdrantAPI, configuration c: Configuration, registry: PrometheusCollectorRegistry?,
        logger: Logger = Logger(label: "switchyard.server"),
        extra: (@Sendable (QdrantAPI.Request) -> QdrantAPI.Reply?)? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var responder = QdrantResponder(api: api, apiKey: c.apiKey.map { Array($0.utf8) }, maxRequestBytes: c.maxRequestBytes,
                                        registry: registry, logger: logger, extra: extra)
        responder.faults = c.faults
        let seconds = min(max(c.idleTimeout.components.seconds, 0), 1_000_000_000)  // no overflow below
        let idle = TimeAmount.nanoseconds(seconds * 1_000_000_000 + c.idleTimeout.components.attoseconds / 1_000_000_000)
        return Application(
            responder: responder,
            server: .http1(configuration: .init(idleTimeout: idle)),
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? c.port) },
            logger: logger)
    }
}

/// Checks the key, reads and parses the body, runs the API call off the event loop, writes the envelope.
struct QdrantResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let api: QdrantAPI
    let apiKey: [UInt8]?
    let maxRequestBytes: Int
    let registry: PrometheusCollectorRegistry?
    let logger: Logger
    let metrics: HTTPMetrics
    let extra: (@Sendable (QdrantAPI.Request) -> QdrantAPI.Reply?)?
    var faults = QdrantServer.Faults()

    init(api: QdrantAPI, apiKey: [UInt8]?, maxRequestBytes: Int, registry: PrometheusCollectorRegistry?, logger: Logger,
         extra: (@Sendable (QdrantAPI.Request) -> QdrantAPI.Reply?)? = nil) {
        self.extra = extra
        self.api = api
        self.apiKey = apiKey
        self.maxRequestBytes = maxRequestBytes
        self.registry = registry
        self.logger = logger
        self.metrics = HTTPMetrics(factory: registry.map { Telemetry.makePrometheusFactory(registry: $0) })
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let path = request.uri.path
        let method = request.method.rawValue
        var reply: QdrantAPI.Reply
        if let denied = authorize(request, path: path) {
            reply = denied
        } else if path == "/metrics" {
            reply = QdrantAPI.Reply(status: method == "GET" ? 200 : 405,
                                    body: method == "GET" ? .text(metricsText()) : .error("Method not allowed: \(method) /metrics"),
                                    route: "/metrics")
        } else if !faults.isEmpty, !["/", "/healthz", "/livez", "/readyz"].contains(path), faults.path.map({ path.contains($0) }) ?? true {
            if faults.delay > .zero { try? await Task.sleep(for: faults.delay) }
            if Double.random(in: 0..<1) < faults.unavailable {
                reply = QdrantAPI.Reply(status: 503, body: .error("Service unavailable (injected fault)"), route: "fault")
            } else {
                reply = await answer(request, path: path, method: method)
                if Double.random(in: 0..<1) < faults.lostAnswer {
                    reply = QdrantAPI.Reply(status: 503, body: .error("Service unavailable (injected fault after the call ran)"), route: "fault")
                }
            }
        } else {
            reply = await answer(request, path: path, method: method)
        }
        let seconds = (ContinuousClock.now - start).seconds
        metrics.record(method: method, route: reply.route, status: reply.status, seconds: seconds)
        logger.info("\(method) \(path) \(reply.status)", metadata: [
            "route": "\(reply.route)", "status": "\(reply.status)", "ms": "\(String(format: "%.3f", seconds * 1000))",
        ])
        return Self.response(reply, seconds: seconds)
    }

    private func answer(_ request: Request, path: String, method: String) async -> QdrantAPI.Reply {
        var body: JSONValue?
        do {
            let buffer = try await request.body.collect(upTo: maxRequestBytes)
            if buffer.readableBytes > 0 {
                body = try buffer.withUnsafeReadableBytes { raw throws(JSONParser.Failure) in
                    try JSONParser.parse(bytes: raw.bindMemory(to: UInt8.self))
                }
            }
        } catch let e as JSONParser.Failure {
            return QdrantAPI.Reply(status: 400, body: .error("Format error in JSON body: \(e.reason) at byte \(e.offset)"), route: "unparsed")
        } catch is NIOTooManyBytesError {
            return QdrantAPI.Reply(status: 413, body: .error("Payload error: JSON payload is larger than allowed (limit: \(maxRequestBytes) bytes)"),
                                   route: "unparsed")
        } catch {
            return QdrantAPI.Reply(status: 400, body: .error("Bad request: the body could not be read: \(error)"), route: "unparsed")
        }
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        let call = QdrantAPI.Request(method: method, path: path, query: query, body: body)
        let api = self.api
        let extra = self.extra
        do {
            // Calls to the `extra` API (the managed layer: file reads, waits for the write lock) run on a
            // pool of their own, so they never hold the threads that searches need.
            if let extra, call.segments.first == "switchyard" {
                return try await Self.extraPool.runIfActive { extra(call) ?? api.handle(call) }
            }
            return try await NIOThreadPool.singleton.runIfActive { api.handle(call) }
        } catch {
            return QdrantAPI.Reply(status: 503, body: .error("Service internal error: the server is shutting down"), route: "unavailable")
        }
    }

    /// Two threads for the `extra` API's calls, started once for the process.
    static let extraPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    /// 401 unless the request carries the key (health probes are open).
    private func authorize(_ request: Request, path: String) -> QdrantAPI.Reply? {
        guard let apiKey else { return nil }
        // As Qdrant: the version and health probes are open.
        if ["/", "/healthz", "/livez", "/readyz"].contains(path) { return nil }
        var given: [UInt8]?
        if let h = request.headers[HTTPField.Name("api-key")!] {
            given = Array(h.utf8)
        } else if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            given = Array(auth.dropFirst(7).utf8)
        }
        guard let given else {
            return QdrantAPI.Reply(status: 401, body: .error("Must provide an API key or an Authorization bearer token"), route: "unauthorized")
        }
        guard Self.constantTimeEqual(given, apiKey) else {
            return QdrantAPI.Reply(status: 401, body: .error("Invalid API key or JWT"), route: "unauthorized")
        }
        return nil
    }

    /// Compares without an early exit, so timing does not reveal how much of the key matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }

    private func metricsText() -> String {
        registry?.emitToString() ?? ""
    }

    static func response(_ reply: QdrantAPI.Reply, seconds: Double) -> Response {
        let text: String
        var type = "application/json"
        switch reply.body {
        case .result(let r): text = JSONValue.object(["result": r, "status": "ok", "time": .double(seconds)]).jsonText
        case .error(let m): text = JSONValue.object(["status": ["error": .string(m)], "time": .double(seconds)]).jsonText
        case .bare(let v): text = v.jsonText
        case .text(let t):
            text = t
            type = t.hasPrefix("#") || t.contains("# TYPE") ? "text/plain; version=0.0.4" : "text/plain"
        }
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: .init(code: reply.status), headers: [.contentType: type], body: .init(byteBuffer: buffer))
    }
}

/// HTTP request counts and latencies by method, route template and status.
final class HTTPMetrics: Sendable {
    static let requests = "switchyard_http_requests_total"
    static let duration = "switchyard_http_request_duration_seconds"
    private let factory: (any MetricsFactory)?
    private let counters = Locked<[String: CoreMetrics.Counter]>([:])
    private let timers = Locked<[String: CoreMetrics.Recorder]>([:])

    init(factory: (any MetricsFactory)?) {
        self.factory = factory
    }

    func record(method: String, route: String, status: Int, seconds: Double) {
        guard let factory else { return }
        let key = "\(method) \(route) \(status)"
        let counter = counters.withLock { c in
            if let h = c[key] { return h }
            let h = CoreMetrics.Counter(label: Self.requests, dimensions: [("method", method), ("route", route), ("status", "\(status)")],
                                        factory: factory)
            c[key] = h
            return h
        }
        counter.increment()
        let timer = timers.withLock { t in
            if let h = t[route] { return h }
            let h = CoreMetrics.Recorder(label: Self.duration, dimensions: [("route", route)], aggregate: true, factory: factory)
            t[route] = h
            return h
        }
        timer.record(seconds)
    }
}

/// A server started in this process on a port of its own (`port: 0` picks a free one), for tests,
/// benchmarks and embedding apps: ``start(api:configuration:registry:logger:extra:)`` returns once it listens;
/// ``stop()`` shuts it down gracefully.
public final class RunningServer: Sendable {
    /// The bound port.
    public let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.running = running
    }

    public static func start(
        api: QdrantAPI, configuration: QdrantServer.Configuration, registry: PrometheusCollectorRegistry? = nil,
        logger: Logger = Logger(label: "switchyard.server"), extra: (@Sendable (QdrantAPI.Request) -> QdrantAPI.Reply?)? = nil
    ) async throws -> RunningServer {
        try await start(logger: logger) { onRunning in
            QdrantServer.application(api: api, configuration: configuration, registry: registry, logger: logger, extra: extra,
                                     onRunning: onRunning)
        }
    }

    /// Runs the service `make` builds (it passes the bound port to the callback it is given) until
    /// ``stop()``; returns once the port is bound. A failure after that is logged.
    package static func start<App: Service>(
        logger: Logger, _ make: (@escaping @Sendable (Int) async -> Void) -> App
    ) async throws -> RunningServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = make { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let bound = Locked(false)
        let running = Task {
            defer { continuation.finish() }
            do { try await group.run() } catch {
                if bound.withLock({ $0 }) { logger.error("the server stopped", metadata: ["error": "\(error)"]) }
                throw error
            }
        }
        for await port in ports {
            bound.withLock { $0 = true }
            return RunningServer(port: port, group: group, running: running)
        }
        // The stream ended without a port: the server failed to start (for example, the port is taken).
        try await running.value
        throw CancellationError()
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

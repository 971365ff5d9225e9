import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import ManagedServer
import NIOCore
import NIOHTTP1
import Prometheus
import Server
import ServiceLifecycle
import SwitchyardJSON
import Telemetry
import Switchyard
import VectorStore
import _SwitchyardTestSupport

/// A real server on a random loopback port over a fresh store, driven with AsyncHTTPClient.
final class ServerHarness: Sendable {
    let dir: TemporaryDirectory
    let store: Store
    let base: String
    let apiKey: String?
    let managed: ManagedAPI
    private let server: RunningServer

    struct Reply {
        var status: Int
        var json: JSONValue
        var text: String
        var result: JSONValue { json["result"] ?? .null }
        var error: String { json["status"]?["error"]?.stringValue ?? "" }
    }

    static func start(apiKey: String? = nil, readOnly: Bool = false, maxRequestBytes: Int = 32 * 1_048_576) async throws -> ServerHarness {
        let dir = try TemporaryDirectory(prefix: "switchyard-serve")
        let registry = PrometheusCollectorRegistry()
        var options = Store.Options()
        options.searchThreads = 1
        options.telemetry = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
        let store = try Store.open(at: dir.path, options: options)
        var c = QdrantServer.Configuration()
        c.port = 0
        c.apiKey = apiKey
        c.maxRequestBytes = maxRequestBytes
        c.idleTimeout = .seconds(2)
        var logger = Logger(label: "switchyard.server.test")
        logger.logLevel = .warning
        let managed = try ManagedAPI(manager: try CollectionManager(store: store), readOnly: readOnly)
        let server = try await RunningServer.start(api: QdrantAPI(store: store, readOnly: readOnly), configuration: c, registry: registry,
                                                   logger: logger, extra: { managed.handle($0) })
        return ServerHarness(dir: dir, store: store, base: "http://127.0.0.1:\(server.port)", apiKey: apiKey, managed: managed, server: server)
    }

    private init(dir: TemporaryDirectory, store: Store, base: String, apiKey: String?, managed: ManagedAPI, server: RunningServer) {
        self.managed = managed
        self.server = server
        self.dir = dir
        self.store = store
        self.base = base
        self.apiKey = apiKey
    }

    func stop() async throws {
        try await server.stop()
        try store.close()
    }

    /// Sends a request; `body` is JSON text (sent as is, so malformed bodies can be tested).
    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, _ body: String? = nil, headers: [(String, String)]? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let headers {
            for (k, v) in headers { request.headers.add(name: k, value: v) }
        } else if let apiKey {
            request.headers.add(name: "api-key", value: apiKey)
        }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 * 1_048_576)
        let text = String(buffer: bytes)
        let json = (try? JSONParser.parse(text)) ?? .null
        return Reply(status: Int(response.status.code), json: json, text: text)
    }

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, json: JSONValue) async throws -> Reply {
        try await call(method, path, json.jsonText)
    }
}

extension JSONValue {
    subscript(_ index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
    var count: Int { arrayValue?.count ?? objectValue?.count ?? 0 }
}

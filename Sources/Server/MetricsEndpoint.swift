import Foundation
import Hummingbird
import Locks
import Logging
import NIOCore
import NIOPosix

/// `GET /metrics` (Prometheus text format 0.0.4) and `GET /healthz` on one address, for
/// `switchyard worker --metrics-port`: the same Hummingbird stack as `switchyard serve`, started and stopped
/// by a synchronous caller. The text comes from `body`, called on a thread pool for each scrape.
///
/// ```swift
/// let endpoint = try MetricsEndpoint.start(port: 0) { registry.emitToString() }
/// print(endpoint.port)
/// endpoint.stop()
/// ```
public final class MetricsEndpoint: Sendable {
    private let server: RunningServer

    /// The bound port (the one chosen when 0 was asked for).
    public var port: Int { server.port }

    private init(server: RunningServer) {
        self.server = server
    }

    /// Binds `host:port` and serves until ``stop()``; returns once the port is bound.
    ///
    /// - Throws: the bind failure (port in use, bad address).
    @available(*, noasync, message: "blocks until the port is bound; start it from synchronous code")
    public static func start(host: String = "127.0.0.1", port: Int, body: @escaping @Sendable () -> String) throws -> MetricsEndpoint {
        var quiet = Logger(label: "switchyard.metrics")
        quiet.logLevel = .error
        let logger = quiet
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            let path = request.uri.path
            guard request.method == .get, path == "/metrics" || path == "/healthz" else {
                return Self.text("not found\n", status: .notFound)
            }
            if path == "/healthz" { return Self.text("ok\n", status: .ok) }
            let text = try await NIOThreadPool.singleton.runIfActive { body() }
            return Self.text(text, status: .ok, type: "text/plain; version=0.0.4")
        }
        let server = try blocking {
            try await RunningServer.start(logger: logger) { onRunning in
                Application(
                    responder: responder, server: .http1(configuration: .init(idleTimeout: .seconds(10))),
                    configuration: .init(address: .hostname(host, port: port)),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
                    logger: logger)
            }
        }
        return MetricsEndpoint(server: server)
    }

    /// Stops serving and waits until the port is released.
    @available(*, noasync, message: "blocks until the server has stopped; call it from synchronous code")
    public func stop() {
        let server = self.server
        try? Self.blocking { try await server.stop() }
    }

    /// Runs `body` as a task and waits for it on this (non-async) thread.
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Locked<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { let value = try await body(); result.withLock { $0 = .success(value) } } catch { result.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0 }!.get()
    }

    private static func text(_ s: String, status: HTTPResponse.Status, type: String = "text/plain") -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(s)
        return Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: buffer))
    }
}

import Foundation
import Hummingbird
import Locks
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

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
    /// The bound port (the one chosen when 0 was asked for).
    public let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.running = running
    }

    /// Binds `host:port` and serves until ``stop()``; returns once the port is bound.
    ///
    /// - Throws: the bind failure (port in use, bad address).
    @available(*, noasync, message: "blocks until the port is bound; start it from synchronous code")
    public static func start(host: String = "127.0.0.1", port: Int, body: @escaping @Sendable () -> String) throws -> MetricsEndpoint {
        var logger = Logger(label: "switchyard.metrics")
        logger.logLevel = .error
        let bound = Locked<Result<Int, any Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            let path = request.uri.path
            guard request.method == .get, path == "/metrics" || path == "/healthz" else {
                return Self.text("not found\n", status: .notFound)
            }
            if path == "/healthz" { return Self.text("ok\n", status: .ok) }
            let text = try await NIOThreadPool.singleton.runIfActive { body() }
            return Self.text(text, status: .ok, type: "text/plain; version=0.0.4")
        }
        let app = Application(
            responder: responder, server: .http1(configuration: .init(idleTimeout: .seconds(10))),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                bound.withLock { $0 = .success(channel.localAddress?.port ?? port) }
                ready.signal()
            },
            logger: logger)
        // No signal handling here: the caller decides when to stop.
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let running = Task {
            do { try await group.run() } catch {
                let beforeBinding = bound.withLock { b -> Bool in
                    guard b == nil else { return false }
                    b = .failure(error)
                    return true
                }
                if beforeBinding { ready.signal() } else { logger.error("the metrics endpoint stopped", metadata: ["error": "\(error)"]) }
                throw error
            }
        }
        ready.wait()
        switch bound.withLock({ $0 }) {
        case .success(let p)?: return MetricsEndpoint(port: p, group: group, running: running)
        case .failure(let error)?: throw error
        case nil: throw CancellationError()
        }
    }

    /// Stops serving and waits until the port is released.
    @available(*, noasync, message: "blocks until the server has stopped; call it from synchronous code")
    public func stop() {
        let done = DispatchSemaphore(value: 0)
        let group = self.group
        let running = self.running
        Task {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            done.signal()
        }
        done.wait()
    }

    private static func text(_ s: String, status: HTTPResponse.Status, type: String = "text/plain") -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(s)
        return Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: buffer))
    }
}

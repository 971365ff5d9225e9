import Foundation
import Locks

/// Which vector backend a managed test runs against: `SWITCHYARD_TEST_BACKEND=qdrant` runs the suites
/// against a `switchyard serve` process over HTTP (the Qdrant backend); anything else, the embedded store.
public enum TestBackend: String, Sendable {
    case embedded
    case qdrant

    public static var current: TestBackend {
        ProcessInfo.processInfo.environment["SWITCHYARD_TEST_BACKEND"].flatMap(TestBackend.init(rawValue:)) ?? .embedded
    }
}

/// A real `switchyard serve` process on a loopback port, with its own store: what the Qdrant backend's
/// tests talk to. It can be stopped, killed, paused (SIGSTOP: connections hang) and started again on
/// the same port.
public final class ServeProcess: Sendable {
    public let directory: TemporaryDirectory
    public let extraArguments: [String]
    private let state: Locked<(process: Process?, port: Int)>

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    public var port: Int { state.withLock { $0.port } }
    public var pid: Int32 { state.withLock { $0.process?.processIdentifier ?? 0 } }

    /// Starts a server on a free port. `arguments` are added to `serve` (for example `--fault-unavailable 0.2`).
    public init(arguments: [String] = []) throws {
        directory = try TemporaryDirectory(prefix: "switchyard-qdrant")
        extraArguments = arguments
        state = Locked((nil, 0))
        try start(port: 0)
    }

    deinit {
        if let p = state.withLock({ $0.process }), p.isRunning {
            kill(p.processIdentifier, SIGCONT)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// Starts the server (again), on `port` (0: a free one, the first time).
    public func start(port: Int? = nil) throws {
        let port = port ?? self.port
        let log = directory.appending("serve-\(UUID().uuidString).log")
        let p = try CLI.start(["serve", "--store", directory.appending("store"), "--port", "\(port)", "--workers", "0",
                               "--log-level", "warning"] + extraArguments,
                              outputFile: directory.appending("serve.out"), errorFile: log)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = readGrowingFile(log)
            if let r = text.range(of: "on http://127.0.0.1:") {
                let digits = text[r.upperBound...].prefix { $0.isNumber }
                if let bound = Int(digits) {
                    state.withLock { $0 = (p, bound) }
                    return
                }
            }
            if !p.isRunning { throw ServeProcessError(message: "switchyard serve exited \(p.terminationStatus): \(text)") }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        throw ServeProcessError(message: "switchyard serve did not start within 60 s: \(readGrowingFile(log))")
    }

    /// SIGTERM, then waits for it to exit.
    public func stop() {
        guard let p = state.withLock({ $0.process }), p.isRunning else { return }
        kill(p.processIdentifier, SIGCONT)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }

    /// SIGKILL, then waits.
    public func killNow() {
        guard let p = state.withLock({ $0.process }), p.isRunning else { return }
        kill(p.processIdentifier, SIGCONT)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// SIGSTOP: connections are accepted by the kernel but never answered.
    public func pause() {
        if let p = state.withLock({ $0.process }) { kill(p.processIdentifier, SIGSTOP) }
    }

    /// SIGCONT.
    public func resume() {
        if let p = state.withLock({ $0.process }) { kill(p.processIdentifier, SIGCONT) }
    }
}

public struct ServeProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

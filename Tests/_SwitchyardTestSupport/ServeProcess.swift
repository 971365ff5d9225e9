import Foundation
import Locks
import Logging
import QdrantBackend
import VectorStore

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

    /// Starts the server (again), on `port` (0: a free one, the first time), with `arguments` instead of the
    /// ones given at creation when they are given.
    public func start(port: Int? = nil, arguments: [String]? = nil) throws {
        let port = port ?? self.port
        let log = directory.appending("serve-\(UUID().uuidString).log")
        let p = try CLI.start(["serve", "--store", directory.appending("store"), "--port", "\(port)", "--workers", "0",
                               "--log-level", "warning"] + (arguments ?? extraArguments),
                              outputFile: directory.appending("serve.out"), errorFile: log)
        if let bound = loopbackPort(announcedIn: log, by: p) {
            state.withLock { $0 = (p, bound) }
            return
        }
        if !p.isRunning { throw ServeProcessError(message: "switchyard serve exited \(p.terminationStatus): \(readGrowingFile(log))") }
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

/// The port a server process prints in `http://127.0.0.1:PORT` to `file`, once it does; `nil` when the process
/// exits first or `seconds` pass.
public func loopbackPort(announcedIn file: String, by process: Process, within seconds: TimeInterval = 60) -> Int? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let text = readGrowingFile(file)
        if let r = text.range(of: "http://127.0.0.1:"), let port = Int(text[r.upperBound...].prefix { $0.isNumber }) {
            return port
        }
        if !process.isRunning { return nil }
        usleep(20_000)
    }
    return nil
}

public struct ServeProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Runs the command-line suites against either backend without changing them: with
/// `SWITCHYARD_TEST_BACKEND=qdrant`, every store directory a test names (`--store DIR`, `--dir DIR`) gets a
/// `switchyard serve` process of its own, started on first use, and the commands run with
/// `SWITCHYARD_QDRANT_URL` pointing at it (so their vectors live there). The servers stop when the test
/// process exits.
public enum BackendMatrix {
    private static let servers = Locked<[String: ServeProcess]>([:])
    private static let exitHook: Void = { atexit { BackendMatrix.stopAll() } }()

    /// Extra environment for `switchyard args…` under the current backend.
    public static func environment(for args: [String]) throws -> [String: String] {
        guard TestBackend.current == .qdrant, let command = args.first, command != "serve" else { return [:] }
        guard let i = args.firstIndex(where: { $0 == "--store" || $0 == "--dir" }), i + 1 < args.count else { return [:] }
        return ["SWITCHYARD_QDRANT_URL": try server(for: args[i + 1]).url]
    }

    /// The server that keeps the vectors of the store at `directory` (started on first use).
    public static func server(for directory: String) throws -> ServeProcess {
        _ = exitHook
        let key = URL(fileURLWithPath: directory).standardizedFileURL.path
        if let s = servers.withLock({ $0[key] }) { return s }
        let s = try ServeProcess()
        return servers.withLock { all in
            if let existing = all[key] { return existing }
            all[key] = s
            return s
        }
    }

    /// The Qdrant URL of the store at `directory` under the current backend, or `nil` for the embedded one.
    public static func qdrantURL(for directory: String) throws -> String? {
        TestBackend.current == .qdrant ? try server(for: directory).url : nil
    }

    /// The vector backend for a manager over the store at `directory`: `nil` (the store itself) or a Qdrant
    /// client of that store's server.
    public static func vectors(for directory: String) throws -> (any VectorBackend)? {
        guard let url = try qdrantURL(for: directory) else { return nil }
        var c = QdrantBackend.Configuration(url: url)
        c.baseBackoff = .milliseconds(10)
        c.maxBackoff = .milliseconds(200)
        var quiet = Logger(label: "switchyard.qdrant.test")
        quiet.logLevel = .error
        return try QdrantBackend(c, logger: quiet)
    }

    static func stopAll() {
        for s in servers.withLock({ Array($0.values) }) {
            s.killNow()
            s.directory.remove()
        }
    }
}

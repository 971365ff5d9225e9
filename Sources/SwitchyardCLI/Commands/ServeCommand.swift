import ArgumentParser
import Foundation
import Hummingbird
import Locks
import Logging
import Prometheus
import Server
import ServiceLifecycle
import Switchyard

/// `switchyard serve`: Qdrant's REST API over a store, so apps' integration tests run against it unchanged.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Qdrant's REST API over a store (stops cleanly on SIGINT or SIGTERM).",
        discussion: "Point QdrantClient(url=\"http://127.0.0.1:6333\") at it. Endpoints and their support: docs/server.md.")

    @Option(help: "The store directory (created when missing).") var store: String
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port: Int = 6333
    @Option(help: "Require this key in the api-key header or as a bearer token (default: $SWITCHYARD_API_KEY; none when unset).")
    var apiKey: String?
    @Option(help: "Largest request body, in MiB.") var maxRequestMb: Double = 32
    @Option(help: "Seconds a connection may stay idle (or a request half-sent) before it is closed.") var idleTimeout: Double = 60
    @Option(help: "The Qdrant version GET / reports.") var qdrantVersion: String = QdrantAPI.defaultVersion
    @Flag(help: "Refuse every write with 403.") var readOnly = false
    @Option(name: .customLong("log-level"), help: "Log level (access logs are info). Default: $SWITCHYARD_LOG_LEVEL, else info.")
    var level: String?

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, got \(port)") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
        guard maxRequestMb.isFinite, maxRequestMb > 0 else { throw ValidationError("--max-request-mb must be a positive number, got \(maxRequestMb)") }
        guard idleTimeout.isFinite, idleTimeout > 0 else { throw ValidationError("--idle-timeout must be a positive number of seconds, got \(idleTimeout)") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
        if let level, Log.level(named: level) == nil {
            throw ValidationError("--log-level must be one of \(Log.levelNames.joined(separator: ", ")), got '\(level)'")
        }
        guard !store.isEmpty else { throw ValidationError("--store must not be empty") }
    }

    func run() throws {
        let registry = PrometheusCollectorRegistry()
        var options = Store.Options()
        options.create = !readOnly
        options.telemetry = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
        let opened = try Store.open(at: store, options: options)
        BLASRuntime.warnIfSlowOnce()
        let api = QdrantAPI(store: opened, version: qdrantVersion, readOnly: readOnly)
        var c = QdrantServer.Configuration()
        c.host = host
        c.port = port
        c.apiKey = apiKey ?? ProcessInfo.processInfo.environment["SWITCHYARD_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        c.maxRequestBytes = Int(maxRequestMb * 1_048_576)
        c.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        let host = self.host
        let keyed = c.apiKey != nil
        let app = QdrantServer.application(api: api, configuration: c, registry: registry, logger: Logger(label: "switchyard.server")) { bound in
            note("serving Qdrant's REST API for \(opened.directory) on http://\(host):\(bound)\(keyed ? " (api key required)" : "")")
        }
        let done = DispatchSemaphore(value: 0)
        let failure = Locked<(any Error)?>(nil)
        Task {
            do { try await app.runService() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        do { try opened.close() } catch { note("warning: closing the store failed: \(error)") }
        if let error = failure.withLock({ $0 }) { throw CLIFailure(message: "the server stopped: \(error)", exitCode: 1) }
    }
}

extension ServeCommand: ChoosesLogLevel {
    /// Access logs are info: shown unless a level is chosen on the command line or in the environment.
    var logLevel: String? {
        if let level { return level }
        let env = ProcessInfo.processInfo.environment["SWITCHYARD_LOG_LEVEL"] ?? ""
        return env.isEmpty ? "info" : nil
    }
}

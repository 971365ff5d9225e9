import ArgumentParser
import Foundation
import Hummingbird
import Locks
import Logging
import Prometheus
import ManagedServer
import Server
import ServeBenchmark
import ServiceLifecycle
import Switchyard
import SwitchyardBench

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
    @Option(help: .hidden) var faultUnavailable: Double = 0
    @Option(help: .hidden) var faultLostAnswer: Double = 0
    @Option(help: .hidden) var faultDelayMs: Int = 0
    @Option(help: .hidden) var faultPath: String?
    @Option(help: "Operations run at once by the in-process worker (0: leave the queue to `switchyard worker` processes).")
    var workers: Int = 1
    @Option(name: .customLong("log-level"), help: "Log level (access logs are info). Default: $SWITCHYARD_LOG_LEVEL, else info.")
    var level: String?

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, got \(port)") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
        guard maxRequestMb.isFinite, maxRequestMb > 0, maxRequestMb <= 4096 else {
            throw ValidationError("--max-request-mb must be a number above 0 and at most 4096, got \(maxRequestMb)")
        }
        guard idleTimeout.isFinite, idleTimeout > 0, idleTimeout <= 86_400 else {
            throw ValidationError("--idle-timeout must be a number of seconds above 0 and at most 86400, got \(idleTimeout)")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
        if let level, Log.level(named: level) == nil {
            throw ValidationError("--log-level must be one of \(Log.levelNames.joined(separator: ", ")), got '\(level)'")
        }
        guard !store.isEmpty else { throw ValidationError("--store must not be empty") }
        for (name, p) in [("--fault-unavailable", faultUnavailable), ("--fault-lost-answer", faultLostAnswer)] where !(p >= 0 && p <= 1) {
            throw ValidationError("\(name) must be a share from 0 to 1, got \(p)")
        }
        guard (0...600_000).contains(faultDelayMs) else { throw ValidationError("--fault-delay-ms must be from 0 to 600000, got \(faultDelayMs)") }
        guard (0...64).contains(workers) else { throw ValidationError("--workers must be from 0 to 64, got \(workers)") }
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
        c.faults = QdrantServer.Faults(unavailable: faultUnavailable, lostAnswer: faultLostAnswer, delay: .milliseconds(faultDelayMs), path: faultPath)
        if !c.faults.isEmpty { note("injecting faults: \(faultUnavailable) of calls answered 503, \(faultLostAnswer) run and answered 503, \(faultDelayMs) ms delay") }
        let host = self.host
        let keyed = c.apiKey != nil
        // The managed layer (`/switchyard/v1`): not on a read-only server (it would create its tables); its
        // writes read and write files on this machine, so they need a key when others can connect.
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host)
        let managed: ManagedAPI? = readOnly ? nil : try ManagedAPI(
            manager: try CollectionManager(store: opened),
            writesRefused: keyed || loopback ? nil : "managed writes over \(host) need an API key (--api-key): they read and write files on this machine")
        let extra: @Sendable (QdrantAPI.Request) -> QdrantAPI.Reply? = { request in
            if let managed { return managed.handle(request) }
            guard request.segments.first == "switchyard" else { return nil }
            return QdrantAPI.Reply(status: 403, body: .error("Forbidden: a read-only server does not serve the managed layer"), route: "read-only")
        }
        // Workers start once the port is bound (a server that cannot start claims nothing).
        let workers = Locked<InProcessWorkers?>(nil)
        let workerCount = readOnly ? 0 : self.workers
        let telemetry = options.telemetry
        let app = QdrantServer.application(api: api, configuration: c, registry: registry, logger: Logger(label: "switchyard.server"),
                                           extra: extra, onRunning: { bound in
            if let managed, workerCount > 0 {
                let w = InProcessWorkers(manager: managed.manager, concurrency: workerCount, handlers: standardHandlers(ReindexSettings()),
                                         telemetry: telemetry)
                workers.withLock { $0 = w }
            }
            note("serving Qdrant's REST API for \(opened.directory) on http://\(host):\(bound)\(keyed ? " (api key required)" : "")")
        })
        let done = DispatchSemaphore(value: 0)
        let failure = Locked<(any Error)?>(nil)
        Task {
            do { try await app.runService() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        // Running operations get a grace period; one still running keeps its lease, and the next worker on
        // this store takes it over when the lease lapses.
        if let w = workers.withLock({ $0 }), !w.stop(within: 10) {
            note("warning: operations still running after 10 s are left to the next worker (their leases lapse)")
            if let error = failure.withLock({ $0 }) { throw CLIFailure(message: "the server stopped: \(error)", exitCode: 1) }
            return
        }
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

extension BenchCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Single-query search and single-point upsert in-process and through `serve`'s HTTP API, at several concurrencies, and `serve`'s time to its first answer.")
        @Option(help: "Points in the collection.") var points: Int = 100_000
        @Option(help: "Vector dimension.") var dimension: Int = 384
        @Option(help: "Concurrent callers (repeatable).") var concurrency: [Int] = [1, 8, 32]
        @Option(help: "Seconds per measurement.") var seconds: Double = 3
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard points >= 1 else { throw ValidationError("--points must be at least 1, got \(points)") }
            guard (1...65_536).contains(dimension) else { throw ValidationError("--dimension must be from 1 to 65536, got \(dimension)") }
            guard !concurrency.isEmpty, concurrency.allSatisfy({ (1...1024).contains($0) }) else {
                throw ValidationError("--concurrency must be from 1 to 1024")
            }
            guard seconds.isFinite, seconds > 0 else { throw ValidationError("--seconds must be a positive number, got \(seconds)") }
        }

        func run() throws {
            var c = ServeBenchmark.Configuration()
            c.points = points
            c.dimension = dimension
            c.concurrency = concurrency
            c.seconds = seconds
            c.executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
            let display = StepDisplay(enabled: !json)
            let outcome = Locked<Result<ServeBenchmark.Result, any Error>?>(nil)
            let done = DispatchSemaphore(value: 0)
            Task {
                do {
                    let r = try await ServeBenchmark.run(c) { display.update(BenchProgress($0)) }
                    outcome.withLock { $0 = .success(r) }
                } catch { outcome.withLock { $0 = .failure(error) } }
                done.signal()
            }
            done.wait()
            display.finish()
            let r: ServeBenchmark.Result
            switch outcome.withLock({ $0 }) {
            case .success(let value)?: r = value
            case .failure(let error)?: throw CLIFailure(message: "bench serve failed: \(error)", exitCode: 1)
            case nil: throw CLIFailure(message: "bench serve did not finish", exitCode: 1)
            }
            if json {
                emit(r.json.jsonText)
                return
            }
            if let ready = r.readyMs { emit(String(format: "serve ready %.1f ms after launch (empty store)", ready)) }
            emit("\(r.points) x \(r.dimension) points, cosine, k = 10")
            emit("operation  concurrency  in-process q/s  p50 ms  p99 ms   http q/s  p50 ms  p99 ms  http/in-process  errors")
            for op in ["search", "upsert"] {
                for n in concurrency {
                    guard let a = r.cells.first(where: { $0.operation == op && $0.concurrency == n && $0.mode == "in-process" }),
                          let b = r.cells.first(where: { $0.operation == op && $0.concurrency == n && $0.mode == "http" }) else { continue }
                    emit(String(format: "%-9@  %11d  %14.0f  %6.2f  %6.2f  %9.0f  %6.2f  %6.2f  %15.2f  %d",
                                op as NSString, n, a.qps, a.p50Ms, a.p99Ms, b.qps, b.p50Ms, b.p99Ms, a.qps > 0 ? b.qps / a.qps : 0, a.errors + b.errors))
                }
            }
        }
    }
}

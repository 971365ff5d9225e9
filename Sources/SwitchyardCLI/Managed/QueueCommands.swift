import ArgumentParser
import Foundation
import Prometheus
import Server
import Switchyard
import Synchronization

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run queued operations (resuming interrupted ones) until stopped, or until the queue is empty with --until-idle.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "Operations run at once (on different collections).") var concurrency: Int = 1
    @Flag(help: "Exit when no operation is pending or processing.") var untilIdle = false
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(help: "Serve GET /metrics (Prometheus text) on 127.0.0.1:PORT while the worker runs.") var metricsPort: Int?
    @OptionGroup var settings: WorkerSettings

    func run() throws {
        guard concurrency >= 1 else { throw CLIFailure(message: "--concurrency must be at least 1, got \(concurrency)") }
        var options = try settings.options()
        options.concurrency = concurrency
        if let p = metricsPort, !(0...65_535).contains(p) { throw CLIFailure(message: "--metrics-port must be from 0 to 65535, got \(p)") }
        var server: MetricsEndpoint?
        let registry = PrometheusCollectorRegistry()
        let telemetry = Telemetry(factory: Telemetry.makePrometheusFactory(registry: registry))
        options.telemetry = telemetry
        let manager = try location.open(telemetry: telemetry)
        if let p = metricsPort {
            do {
                server = try MetricsEndpoint.start(port: p) {
                    // The process's live counters and histograms, then the database's gauges made fresh
                    // for each scrape (a deleted collection's gauges go with it).
                    let gauges = PrometheusCollectorRegistry()
                    try? StoreMetrics.recordGauges(manager, into: Telemetry(factory: Telemetry.makePrometheusFactory(registry: gauges)))
                    return registry.emitToString() + gauges.emitToString()
                }
            } catch { throw CLIFailure(message: "cannot serve metrics on 127.0.0.1:\(p): \(error)") }
            note("metrics on http://127.0.0.1:\(server!.port)/metrics")
        }
        defer { server?.stop() }
        let worker = Worker(manager: manager, options: options, handlers: standardHandlers(settings.reindexSettings()))
        note("worker \(options.name) on \(location.store) (concurrency \(concurrency))")
        // Progress of what it runs on stderr (none with --json), as the foreground commands show it.
        let progress = json ? nil : WorkerProgress(manager: manager, workerName: options.name)
        progress?.start()
        let summary: Worker.Summary
        do {
            defer { progress?.stop() }
            if untilIdle {
                summary = try worker.runUntilIdle()
            } else {
                SignalFlag.install()
                summary = try worker.run(until: { SignalFlag.raised })
            }
        }
        if json {
            let r = summary.recovered
            emit(JSONValue.object([
                "worker": .string(options.name),
                "finished": .object(Dictionary(uniqueKeysWithValues: summary.finished.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) })),
                "retries": .int(Int64(summary.retries)),
                "recovered_failed": .array(r.failedWorkerLost.map { .string($0) }),
                "recovered_cancelled": .array(r.cancelled.map { .string($0) }),
                "reservations_released": .int(Int64(r.releasedReservations)),
            ]).jsonText)
            return
        }
        let finished = OperationStatus.allCases.compactMap { s in summary.finished[s].map { "\(s.rawValue) \($0)" } }
        var line = "worker done: " + (finished.isEmpty ? "no operations run" : finished.joined(separator: ", "))
        if summary.retries > 0 { line += ", \(summary.retries) retries" }
        let r = summary.recovered
        if !r.failedWorkerLost.isEmpty { line += ", \(r.failedWorkerLost.count) failed (worker lost)" }
        if !r.cancelled.isEmpty { line += ", \(r.cancelled.count) cancelled by recovery" }
        if r.releasedReservations > 0 { line += ", \(r.releasedReservations) reservations released" }
        emit(line)
    }
}

/// SIGINT / SIGTERM ask a long-running worker to stop after its running attempts.
enum SignalFlag {
    /// Set by the handler (a lock-free atomic store is async-signal-safe).
    private static let flag = Atomic<Bool>(false)
    static var raised: Bool { flag.load(ordering: .acquiring) }
    static func install() {
        _ = raised  // initialise the global here, never for the first time inside a handler
        signal(SIGINT) { _ in SignalFlag.flag.store(true, ordering: .releasing) }
        signal(SIGTERM) { _ in SignalFlag.flag.store(true, ordering: .releasing) }
        // A parent may have started this process with these signals blocked (threads of a dispatch
        // pool block them, and a child inherits the mask): unblock them, or they would never arrive.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the store's metrics in the Prometheus text format (gauges and history from the database).")
    @OptionGroup var location: ManagedLocation

    func run() throws {
        FileHandle.standardOutput.write(Data(try StoreMetrics.exposition(try location.open()).utf8))
    }
}

struct OpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "List, show, follow and cancel operations.", subcommands: [List.self, Show.self, Watch.self, Cancel.self])

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow an operation, run by any worker in any process, until it ends: progress on stderr, then its summary; exit 1 when it failed or was cancelled.")
        @OptionGroup var location: ManagedLocation
        @Argument(help: "The operation id (or a unique prefix of 8+ characters).") var id: String
        @Option(help: "Seconds between two reads of the operation's record.") var interval: Double = 0.1
        @Option(help: "Give up (exit 1) after this many seconds; default: until the operation ends.") var timeout: Double?
        @Flag(help: "Print only the final record, as JSON (no progress).") var json = false

        func validate() throws {
            guard interval.isFinite, interval >= 0.01, interval <= 60 else {
                throw ValidationError("--interval must be from 0.01 to 60 seconds, got \(interval)")
            }
            if let t = timeout, !(t.isFinite && t > 0 && t <= 1e8) { throw ValidationError("--timeout must be a number of seconds above 0, got \(t)") }
        }

        func run() throws {
            let manager = try location.open()
            var op = try manager.operation(id)
            let display = ProgressDisplay(enabled: !json)
            let deadline = timeout.map { Date().addingTimeInterval($0) }
            while !op.status.isFinal {
                display.update(op)
                if let deadline, Date() >= deadline {
                    display.finish()
                    throw CLIFailure(message: "operation \(op.id) is still \(op.status.rawValue) after \(Int(timeout ?? 0)) s", exitCode: 1)
                }
                Thread.sleep(forTimeInterval: interval)
                op = try manager.operation(op.id)
            }
            display.update(op)
            display.finish()
            try reportOutcome(op, manager: manager, json: json)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List operations, newest first.")
        @OptionGroup var location: ManagedLocation
        @Option(help: "Only this collection's.") var collection: String?
        @Option(help: "Only this status (pending, processing, completed, failed, cancelled).") var status: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            var s: OperationStatus?
            if let status {
                guard let parsed = OperationStatus(rawValue: status) else {
                    throw CLIFailure(message: "unknown status '\(status)': use \(OperationStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                s = parsed
            }
            guard limit >= 0 else { throw CLIFailure(message: "--limit must not be negative, got \(limit)") }
            let ops = try location.open().operations(collection: collection, status: s, limit: limit)
            if json { emit(JSONValue.object(["operations": .array(ops.map(\.json))]).jsonText); return }
            if ops.isEmpty { emit("no operations") }
            for op in ops { emit(op.line) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one operation with its progress, result and metrics.")
        @OptionGroup var location: ManagedLocation
        @Argument(help: "The operation id (or a unique prefix of 8+ characters).") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let manager = try location.open()
            let op = try manager.operation(id)
            let metrics = try manager.metrics(of: op.id)
            if json {
                var o = op.json.objectValue ?? [:]
                o["metrics"] = metricsJSON(metrics)
                emit(JSONValue.object(o).jsonText)
                return
            }
            emit(op.line)
            emit("  config: \(JSONValue.object(op.config).jsonText)")
            if let cp = op.checkpoint { emit("  checkpoint: \(JSONValue.object(cp).jsonText)") }
            emit(summary(of: op, metrics: metrics))
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending or processing operation.")
        @OptionGroup var location: ManagedLocation
        @Argument(help: "The operation id (or a unique prefix of 8+ characters).") var id: String
        @Option(help: "Who asks.") var user: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let op = try location.open().cancel(id, user: currentUser(user))
            if json { emit(op.json.jsonText); return }
            emit(op.status == .cancelled ? "cancelled \(op.id)" : "asked \(op.id) to stop; its worker ends it at the next batch")
        }
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show a collection's audit trail, oldest first.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name (deleted collections' trails stay readable).") var collection: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let entries = try location.open().audit(collection: collection)
        if json { emit(JSONValue.object(["entries": .array(entries.map(\.json))]).jsonText); return }
        if entries.isEmpty { emit("no audit entries for '\(collection)'") }
        let f = ISO8601DateFormatter()
        for e in entries {
            emit("\(f.string(from: e.createdAt))  \(e.action)  by \(e.user)\(e.operationID.map { "  op \($0)" } ?? "")  \(JSONValue.object(e.details).jsonText)")
        }
    }
}

struct LimitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Show or set an owner's quotas.", subcommands: [Show.self, Set.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an owner's limits, usage and active reservations.")
        @OptionGroup var location: ManagedLocation
        @Option(help: "The owner (default: the user).") var owner: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let manager = try location.open()
            let who = currentUser(owner)
            let limits = try manager.limits(owner: who)
            let usage = try manager.usage(owner: who)
            let reservations = try manager.reservations().filter { $0.owner == who }
            if json {
                emit(JSONValue.object(["limits": limits.json, "usage": usage.json, "reservations": .array(reservations.map(\.json))]).jsonText)
                return
            }
            emit("owner \(who)")
            emit("  collections  \(usage.collections) of \(limits.maxCollections)")
            emit("  documents    \(usage.documents) of \(limits.maxDocuments)")
            emit("  storage      \(usage.storageBytes) of \(limits.maxStorageBytes) bytes (\(usage.reservedBytes) reserved)")
            emit("  operations   \(usage.operationsLastHour) in the last hour, of \(limits.maxOperationsPerHour)")
            for r in reservations { emit("  reservation \(r.id): \(r.bytes) bytes for \(r.purpose)") }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an owner's limits (the others keep their values).")
        @OptionGroup var location: ManagedLocation
        @Option(help: "The owner (default: the user).") var owner: String?
        @Option var maxCollections: Int?
        @Option var maxDocuments: Int?
        @Option var maxStorageBytes: Int?
        @Option var maxOperationsPerHour: Int?

        func run() throws {
            guard maxCollections != nil || maxDocuments != nil || maxStorageBytes != nil || maxOperationsPerHour != nil else {
                throw CLIFailure(message: "limits set needs at least one of --max-collections, --max-documents, --max-storage-bytes, --max-operations-per-hour")
            }
            for (name, v) in [("max_collections", maxCollections), ("max_documents", maxDocuments), ("max_storage_bytes", maxStorageBytes),
                              ("max_operations_per_hour", maxOperationsPerHour)] {
                if let v, v < 0 { throw CLIFailure(message: "\(name) must not be negative, got \(v)") }
            }
            let manager = try location.open(create: true)
            let who = currentUser(owner)
            var l = try manager.limits(owner: who)
            if let v = maxCollections { l.maxCollections = v }
            if let v = maxDocuments { l.maxDocuments = v }
            if let v = maxStorageBytes { l.maxStorageBytes = v }
            if let v = maxOperationsPerHour { l.maxOperationsPerHour = v }
            try manager.setLimits(l)
            emit("limits of \(who): \(l.json.jsonText)")
        }
    }
}

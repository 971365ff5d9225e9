import ArgumentParser
import Foundation
import Locks
import Switchyard
import SwitchyardBench

/// Worker settings shared by `worker` and the commands that run their operation in the foreground.
struct WorkerSettings: ParsableArguments {
    @Option(help: "Lease length in seconds; renewed every third of it. Another worker takes over an operation whose lease expired.")
    var leaseSeconds: Double = 60
    @Option(help: "Retries after transient failures.") var maxRetries: Int = 3
    @Option(help: "Seconds between a transient failure and its retry.") var retryDelay: Double = 60
    @Option(help: "Seconds after which an attempt is cancelled cooperatively and the operation fails.") var softTimeLimit: Double = 3600
    @Option(help: "Seconds after which an attempt is abandoned and the operation fails.") var hardTimeLimit: Double = 7200
    @Option(help: "Seconds a reindex waits before dropping a retired generation (default: min(300 + 60·⌊vectors/10,000⌋, 1800)).")
    var graceSeconds: Double?
    @Option(help: "Retired generations a reindex keeps for rollback.") var keepGenerations: Int = 1
    @Option(help: "Orphaned staging collections younger than this (seconds) are left alone.") var stagingMinAge: Double = 3600
    @Option(help: "Alias changes left half done (a crash, or Qdrant unreachable) younger than this (seconds) are left to the process making them, unless it is gone (default: twice the vector backend's longest call, retries included, plus 5 s).")
    var intentMinAge: Double?
    @Option(help: "Log messages from this level on, to standard error: trace, debug, info, notice, warning, error or critical (default: $SWITCHYARD_LOG_LEVEL, else warning).")
    var logLevel: String?

    /// Checks every setting while the command line is parsed, so a command refuses a bad one before it
    /// opens the store, let alone enqueues anything (ArgumentParser validates option groups first).
    func validate() throws {
        for (name, v) in [("--lease-seconds", leaseSeconds), ("--retry-delay", retryDelay), ("--soft-time-limit", softTimeLimit),
                          ("--hard-time-limit", hardTimeLimit)] where !(v.isFinite && v >= 0 && v <= 1e8) || (name == "--lease-seconds" && v < 0.1) {
            throw ValidationError("\(name) must be a number of seconds from \(name == "--lease-seconds" ? "0.1" : "0") to 100000000, got \(v)")
        }
        guard (0...1000).contains(maxRetries) else { throw ValidationError("--max-retries must be from 0 to 1000, got \(maxRetries)") }
        if let g = graceSeconds, !(g.isFinite && g >= 0 && g <= 1e8) {
            throw ValidationError("--grace-seconds must be a number of seconds from 0 to 100000000, got \(g)")
        }
        guard (0...1000).contains(keepGenerations) else { throw ValidationError("--keep-generations must be from 0 to 1000, got \(keepGenerations)") }
        guard stagingMinAge.isFinite, stagingMinAge >= 0, stagingMinAge <= 1e8 else {
            throw ValidationError("--staging-min-age must be a number of seconds from 0 to 100000000, got \(stagingMinAge)")
        }
        if let a = intentMinAge, !(a.isFinite && a >= 0 && a <= 1e8) {
            throw ValidationError("--intent-min-age must be a number of seconds from 0 to 100000000, got \(a)")
        }
        do { _ = try FaultInjector.fromEnvironment() } catch { throw ValidationError(error.description) }
        if let logLevel, Log.level(named: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Log.levelNames.joined(separator: ", ")), got '\(logLevel)'")
        }
    }

    /// The reindex settings (checked by ``validate()``).
    func reindexSettings() -> ReindexSettings {
        var r = ReindexSettings()
        if let g = graceSeconds { r.gracePeriod = g }
        r.keepGenerations = keepGenerations
        r.stagingMinimumAge = stagingMinAge
        r.intentMinimumAge = intentMinAge
        return r
    }

    /// The worker options (checked by ``validate()``).
    func options() throws -> Worker.Options {
        var o = Worker.Options()
        o.lease = .milliseconds(Int64(leaseSeconds * 1000))
        o.maxRetries = maxRetries
        o.retryDelay = .milliseconds(Int64(retryDelay * 1000))
        o.softTimeLimit = .milliseconds(Int64(softTimeLimit * 1000))
        o.hardTimeLimit = .milliseconds(Int64(hardTimeLimit * 1000))
        o.pollInterval = .milliseconds(Int64(min(200, max(20, leaseSeconds * 1000 / 10))))
        o.faults = try FaultInjector.fromEnvironment()
        return o
    }
}

/// Options of commands that open the managed layer.
struct ManagedLocation: ParsableArguments {
    @Option(name: .long, help: "The store directory (the records; also the vectors, without --qdrant-url).") var store: String
    @OptionGroup var qdrant: QdrantOptions

    func open(create: Bool = false, telemetry: Telemetry? = nil) throws -> CollectionManager {
        if !create, !FileManager.default.fileExists(atPath: (store as NSString).appendingPathComponent(Store.databaseFileName)) {
            throw CLIFailure(message: "no store at '\(store)'")
        }
        var o = Store.Options()
        o.create = create
        o.preload = false
        if let telemetry { o.telemetry = telemetry }
        let vectors = try qdrant.backend()
        let s = try Store.open(at: store, options: o)
        BLASRuntime.warnIfSlowOnce()
        return try CollectionManager(store: s, vectors: vectors)
    }
}

/// Who runs a command: `--user`, else `$SWITCHYARD_USER`, `$USER`, or `default`.
func currentUser(_ given: String?) -> String {
    if let given { return given }
    let env = ProcessInfo.processInfo.environment
    return env["SWITCHYARD_USER"] ?? env["USER"] ?? CollectionSpec.defaultOwner
}

/// Progress of a running operation, from its own record (so `ops watch` shows another process's operation the
/// same way), on standard error only:
/// - on a terminal, one line updated in place at most 10 times a second: the step, done/total, the rate and an
///   estimate of the time left;
/// - otherwise (a pipe, a file, CI logs), one line per step: the reindex's checkpoints, or an operation starting
///   and ending;
/// - nothing at all with `--json` (`enabled: false`).
final class ProgressDisplay {
    private let enabled: Bool
    private let tty: Bool
    private var lastDraw = Date.distantPast
    private var lastText = ""
    private var drew = false
    private var lastStep: String?
    /// The last reindex checkpoint a line was printed for (off a terminal).
    private var printedThrough = -1
    /// Where the rate is measured from: the step and its first progress sample.
    private var rateBase: (step: String, done: Int, at: Date)?
    private let start = Date()

    init(enabled: Bool = true, terminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.enabled = enabled
        self.tty = terminal
    }

    func update(_ op: OperationRecord) {
        guard enabled else { return }
        let step = Self.step(of: op)
        let now = Date()
        if rateBase?.step != step.name { rateBase = (step.name, op.progressDone, now) }
        if tty {
            let text = describe(op, step: step, now: now)
            // At most 10 redraws a second; a new step or a final status always shows.
            guard text != lastText, step.name != lastStep || op.status.isFinal || now.timeIntervalSince(lastDraw) >= 0.1 else {
                lastStep = step.name
                return
            }
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
            drew = true
            lastDraw = now
            lastText = text
        } else if op.type == .reindex {
            // One line per checkpoint begun, in order, also for those a poll skipped; then the final status.
            let order = ReindexStage.allCases.map(\.rawValue)
            let recorded = op.checkpoint?["stage"]?.stringValue.flatMap { order.firstIndex(of: $0) } ?? -1
            let through = op.status == .processing ? min(recorded + 1, order.count - 1) : op.status.isFinal ? recorded : -1
            if printedThrough < through {
                for i in (printedThrough + 1)...through {
                    var running = op
                    running.status = .processing
                    running.checkpoint = (op.checkpoint ?? [:]).merging(["stage": i > 0 ? .string(order[i - 1]) : .null]) { $1 }
                    note(Step(name: order[i], counted: false).line(running, elapsed: now.timeIntervalSince(start)))
                }
                printedThrough = through
            }
            if (op.status.isFinal || op.status == .pending) && step.name != lastStep {
                note(step.line(op, elapsed: now.timeIntervalSince(start)))
            }
        } else if step.name != lastStep {
            note(step.line(op, elapsed: now.timeIntervalSince(start)))
        }
        lastStep = step.name
    }

    func finish() {
        if enabled && tty && drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// What the operation is doing: a reindex's next checkpoint, else its status.
    struct Step {
        var name: String
        /// Whether done/total count this step's work.
        var counted: Bool

        func line(_ op: OperationRecord, elapsed: Double) -> String {
            let t = String(format: "%.1fs", elapsed)
            if op.type == .reindex, op.status == .processing, name != "processing" {
                let done = op.checkpoint?["stage"]?.stringValue ?? "-"
                return "reindex \(op.collectionName): checkpoint \(done) done, running \(name) (\(t))"
            }
            return "\(op.type.rawValue) \(op.collectionName): \(name) (\(t))"
        }
    }

    static func step(of op: OperationRecord) -> Step {
        guard op.status == .processing else { return Step(name: op.status.rawValue, counted: false) }
        guard op.type == .reindex else { return Step(name: "processing", counted: true) }
        let stages = ReindexStage.allCases.map(\.rawValue)
        let done = op.checkpoint?["stage"]?.stringValue
        let next = done.flatMap { d in stages.firstIndex(of: d).map { $0 + 1 < stages.count ? stages[$0 + 1] : "finishing" } } ?? "preflight"
        return Step(name: next, counted: next == "reprocessing")
    }

    private func describe(_ op: OperationRecord, step: Step, now: Date) -> String {
        let text = step.line(op, elapsed: now.timeIntervalSince(start))
        guard step.counted, op.progressTotal > 0 else { return text }
        return text + Self.counted(done: op.progressDone, total: op.progressTotal, since: rateBase.map { ($0.done, $0.at) }, now: now)
    }

    /// " done/total pct%", and the rate and time left once more than 0.2 s of counted work is behind.
    static func counted(done: Int, total: Int, since base: (done: Int, at: Date)?, now: Date) -> String {
        var text = String(format: " %d/%d %d%%", done, total, Int(min(1, Double(done) / Double(total)) * 100))
        if let base, done > base.done, now.timeIntervalSince(base.at) > 0.2 {
            let rate = Double(done - base.done) / now.timeIntervalSince(base.at)
            text += String(format: ", %.0f/s, ETA %@", rate, duration(Double(total - done) / rate))
        }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded(.up))
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// Runs an enqueued operation in this process (unless `noWait`), shows progress, prints the outcome.
/// A failed or cancelled operation exits with 1.
func runInForeground(_ op: OperationRecord, manager: CollectionManager, options: Worker.Options, reindex: ReindexSettings,
                     noWait: Bool, json: Bool) throws {
    if noWait {
        emit(json ? op.json.jsonText : "queued \(op.type.rawValue) operation \(op.id) on '\(op.collectionName)'; `switchyard worker --store DIR` runs it")
        return
    }
    let worker = Worker(manager: manager, options: options, handlers: standardHandlers(reindex))
    let display = ProgressDisplay(enabled: !json)
    let final = try worker.runOperation(op.id) { display.update($0) }
    display.finish()
    try reportOutcome(final, manager: manager, json: json)
}

/// Prints a finished operation (JSON with its metrics, or a person's summary); a failed or cancelled one is exit 1.
func reportOutcome(_ final: OperationRecord, manager: CollectionManager, json: Bool) throws {
    let metrics = try manager.metrics(of: final.id)
    if json {
        var o = final.json.objectValue ?? [:]
        o["metrics"] = metricsJSON(metrics)
        emit(JSONValue.object(o).jsonText)
    } else {
        emit(summary(of: final, metrics: metrics))
    }
    if final.status != .completed {
        throw CLIFailure(message: "operation \(final.id) \(final.status.rawValue): \(final.error ?? "no error recorded")", exitCode: 1)
    }
}

/// A person's summary of a finished operation.
func summary(of op: OperationRecord, metrics: [OperationMetric]) -> String {
    var lines = ["\(op.type.rawValue) \(op.collectionName): \(op.status.rawValue) (operation \(op.id), attempts \(op.attempts))"]
    if let r = op.result {
        let parts = r.keys.sorted().compactMap { k -> String? in
            guard let v = r[k], case .int(let n) = v else { return nil }
            return "\(k.replacingOccurrences(of: "_", with: " ")) \(n)"
        }
        if !parts.isEmpty { lines.append("  " + parts.joined(separator: ", ")) }
        if let issues = r["source_issues"]?.arrayValue, !issues.isEmpty {
            lines.append("  source problems (\(issues.count) shown):")
            for i in issues { lines.append("    \(i.stringValue ?? "")") }
        }
    }
    let last = metrics.filter { $0.attempt == op.attempts }
    let byName = Dictionary(last.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    if let d = byName["duration_seconds"] {
        var t = String(format: "  %.2f s", d)
        if let v = byName["vectors_written"], v > 0, d > 0 { t += String(format: ", %.0f chunks/s", v / d) }
        let stages = byName.keys.filter { $0.hasPrefix("stage_") }.sorted().map {
            String(format: "%@ %.2f s", String($0.dropFirst(6).dropLast(8)), byName[$0]!)
        }
        if !stages.isEmpty { t += " (" + stages.joined(separator: ", ") + ")" }
        lines.append(t)
    }
    if let checks = op.checkpoint?["validation"]?.objectValue?["checks"]?.arrayValue, !checks.isEmpty {
        lines.append("  validation:")
        for c in checks {
            guard let o = c.objectValue else { continue }
            let value = o["value"]?.numberValue.map { String(format: "%.4f", $0) } ?? "–"
            lines.append("    \((o["verdict"]?.stringValue ?? "").uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) \(o["name"]?.stringValue ?? "") = \(value) (\(o["threshold"]?.stringValue ?? ""))")
        }
    }
    if let e = op.error, op.status != .completed { lines.append("  error: \(e)") }
    return lines.joined(separator: "\n")
}

/// The handlers a worker started by the CLI has beside the built-in ones: REINDEX.
func standardHandlers(_ settings: ReindexSettings) -> [OperationType: any OperationHandler] {
    [.reindex: ReindexHandler(settings: settings)]
}

/// Progress of the operations a `worker` process runs, read from their records every 100 ms on a thread of
/// its own: each operation this worker holds the lease of gets a ``ProgressDisplay``, which shows its final
/// status when it leaves `processing` (in place on a terminal, one line per step otherwise).
final class WorkerProgress: Sendable {
    private struct State {
        var displays: [String: ProgressDisplay] = [:]
        var stopped = false
        var thread: Thread?
    }
    private let manager: CollectionManager
    private let workerName: String
    // The poll runs under the lock, so a last poll from stop() never interleaves with the thread's.
    private let state = Locked(State())

    init(manager: CollectionManager, workerName: String) {
        self.manager = manager
        self.workerName = workerName
    }

    func start() {
        let t = Thread { [self] in
            while !state.withLock({ $0.stopped }) {
                poll()
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        t.name = "switchyard-progress"
        state.withLock { $0.thread = t }
        t.start()
    }

    /// Stops polling after one last look, so operations that ended meanwhile show their final status.
    func stop() {
        let t = state.withLock { s -> Thread? in
            s.stopped = true
            return s.thread
        }
        while let t, !t.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        poll()
    }

    private func poll() {
        state.withLock { s in
            let running = ((try? manager.operations(status: .processing, limit: 1000)) ?? []).filter { $0.leaseOwner == workerName }
            let runningIDs = Set(running.map(\.id))
            // Those that left `processing` (finished, or back to pending for a retry): their last state, then a line break.
            for (id, display) in s.displays where !runningIDs.contains(id) {
                if let op = try? manager.operation(id) { display.update(op) }
                display.finish()
                s.displays[id] = nil
            }
            for op in running.sorted(by: { $0.sequence < $1.sequence }) {
                let display = s.displays[op.id] ?? ProgressDisplay()
                s.displays[op.id] = display
                display.update(op)
            }
        }
    }
}

/// A benchmark's progress on standard error, drawn like ``ProgressDisplay``: on a terminal one line in place,
/// at most 10 times a second (step, done/total, rate, time left); otherwise one line per step; nothing when
/// disabled (`--json`). Safe to call from several threads (`bench serve` reports from tasks).
final class StepDisplay: Sendable {
    private struct State {
        var step: String?
        /// The rate is measured from the step's first counted sample (work before counting starts is not in it).
        var rateBase: (done: Int, at: Date)?
        var lastDraw = Date.distantPast
        var drew = false
    }
    private let enabled: Bool
    private let tty: Bool
    private let start = Date()
    private let state = Locked(State())

    init(enabled: Bool = true, terminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.enabled = enabled
        self.tty = terminal
    }

    func update(_ p: BenchProgress) {
        guard enabled else { return }
        state.withLock { s in
            let now = Date()
            let newStep = p.step != s.step
            if newStep {
                s.step = p.step
                s.rateBase = nil
            }
            if s.rateBase == nil, p.total > 0 { s.rateBase = (p.done, now) }
            guard tty else {
                if newStep { note(String(format: "%@ (%.1fs)", p.step, now.timeIntervalSince(start))) }
                return
            }
            let finished = p.total > 0 && p.done >= p.total
            guard newStep || finished || now.timeIntervalSince(s.lastDraw) >= 0.1 else { return }
            var text = String(format: "%@ (%.1fs)", p.step, now.timeIntervalSince(start))
            if p.total > 0 { text += ProgressDisplay.counted(done: p.done, total: p.total, since: s.rateBase, now: now) }
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
            s.drew = true
            s.lastDraw = now
        }
    }

    func finish() {
        state.withLock { s in
            if enabled && tty && s.drew { FileHandle.standardError.write(Data("\n".utf8)) }
            s.drew = false
        }
    }
}

import Locks
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Faults that tests inject at named points of the workers and handlers. Read from the environment
/// variable `SWITCHYARD_FAULTS` and honoured only when it is set (production runs never set it).
///
/// Grammar: entries separated by `,`; each `point=action[@hits]`:
/// - points: `operation.start`, `ingest.read` (before a document's text is read again from its
///   source), `ingest.embed`, `ingest.batch` (after a batch's points are written, before its documents
///   are marked done), `ingest.finish`, `remove.batch`; the reindex's checkpoints (`reindex.preflight` …
///   `reindex.cleanup`), the steps of its switch (`reindex.switch.intent` after the intent is recorded,
///   `reindex.switch.flip` after the alias moved, before the records commit) and of a rollback
///   (`rollback.intent`, `rollback.flip`);
/// - actions: `transient` (a retryable error), `invalid` (a permanent error), `crash` (the process
///   kills itself with SIGKILL), `sleep:<seconds>`;
/// - hits (1-based, counted per process): `@3` only the third, `@1-2` the first two, `@4-` from the
///   fourth on; without it, every hit.
///
/// Example: `SWITCHYARD_FAULTS='ingest.batch=sleep:0.05,ingest.embed=transient@1-2'`.
public final class FaultInjector: Sendable {
    public static let environmentVariable = "SWITCHYARD_FAULTS"

    enum Action: Sendable, Equatable {
        case transient, invalid, crash
        case sleep(Double)
    }

    struct Rule: Sendable {
        var point: String
        var action: Action
        var first: Int
        var last: Int
    }

    private let rules: [Rule]
    private let hits = Locked<[String: Int]>([:])

    /// No faults.
    public static let none = FaultInjector(rules: [])

    init(rules: [Rule]) { self.rules = rules }

    /// The faults `SWITCHYARD_FAULTS` describes (none when unset).
    ///
    /// - Throws: ``OperationsError`` (`invalidInput`) naming a malformed entry.
    public static func fromEnvironment() throws(OperationsError) -> FaultInjector {
        guard let spec = ProcessInfo.processInfo.environment[environmentVariable], !spec.isEmpty else { return .none }
        return try parse(spec)
    }

    /// Parses a fault specification (grammar above).
    public static func parse(_ spec: String) throws(OperationsError) -> FaultInjector {
        var rules: [Rule] = []
        for entry in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let bad = OperationsError(.invalidInput, "\(environmentVariable): malformed entry '\(entry)' (expected point=action[@hits])")
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw bad }
            var actionText = parts[1]
            var first = 1
            var last = Int.max
            if let at = actionText.lastIndex(of: "@") {
                let range = actionText[actionText.index(after: at)...]
                actionText = String(actionText[..<at])
                let bounds = range.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                guard let a = Int(bounds[0]), a >= 1 else { throw bad }
                first = a
                if bounds.count == 1 { last = a } else if bounds[1].isEmpty { last = Int.max } else {
                    guard let b = Int(bounds[1]), b >= a else { throw bad }
                    last = b
                }
            }
            let action: Action
            switch actionText {
            case "transient": action = .transient
            case "invalid": action = .invalid
            case "crash": action = .crash
            default:
                guard actionText.hasPrefix("sleep:"), let s = Double(actionText.dropFirst(6)), s >= 0 else { throw bad }
                action = .sleep(s)
            }
            rules.append(Rule(point: parts[0], action: action, first: first, last: last))
        }
        return FaultInjector(rules: rules)
    }

    /// Counts a hit of `point` and acts when a rule says so.
    ///
    /// - Throws: ``OperationsError`` `transient` or `invalidInput` for those actions.
    public func hit(_ point: String) throws(OperationsError) {
        guard !rules.isEmpty else { return }
        let n = hits.withLock { h in
            h[point, default: 0] += 1
            return h[point]!
        }
        for r in rules where r.point == point && n >= r.first && n <= r.last {
            switch r.action {
            case .transient: throw OperationsError(.transient, "injected transient fault at \(point) (hit \(n))")
            case .invalid: throw OperationsError(.invalidInput, "injected permanent fault at \(point) (hit \(n))")
            case .crash:
                kill(getpid(), SIGKILL)
                Thread.sleep(forTimeInterval: 60)
            case .sleep(let s): Thread.sleep(forTimeInterval: s)
            }
        }
    }
}

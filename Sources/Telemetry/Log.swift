import Logging

/// Switchyard's loggers (swift-log): one per subsystem, labelled `switchyard.<subsystem>`.
///
/// ```swift
/// Log.worker.error("rollback failed", metadata: ["operation": "\(id)", "error": "\(error)"])
/// ```
///
/// Where the messages go and from which level is the program's choice (`LoggingSystem.bootstrap`): the
/// CLI writes them to standard error from `--log-level` / `SWITCHYARD_LOG_LEVEL` (default `warning`).
/// A library user who bootstraps nothing gets swift-log's default handler.
public enum Log {
    /// The store: catalog refreshes, trash purges.
    public static let store = Logger(label: "switchyard.store")
    /// Workers: claims, heartbeats, final statuses, retries, rollbacks.
    public static let worker = Logger(label: "switchyard.worker")
    /// The reindex pipeline and its housekeeping (generations, staging collections).
    public static let reindex = Logger(label: "switchyard.reindex")

    /// The levels `--log-level` accepts, quietest last.
    public static let levelNames = Logger.Level.allCases.map(\.rawValue)

    /// The level named `name` (`trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`).
    public static func level(named name: String) -> Logger.Level? {
        Logger.Level(rawValue: name.lowercased())
    }
}

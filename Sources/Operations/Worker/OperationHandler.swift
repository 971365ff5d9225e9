import GRDB
import SwitchyardJSON

/// Runs one type of operation. Handlers must be idempotent: an attempt may be repeated after a crash
/// or a transient failure, and must then reach the same end state without duplicating anything.
public protocol OperationHandler: Sendable {
    /// Runs one attempt on the worker's thread, checking ``OperationContext/ensureActive()`` between
    /// batches.
    ///
    /// - Returns: What the operation did (stored as its result) and, optionally, record changes to
    ///   commit in the same transaction as the final status.
    /// - Throws: ``OperationsError`` (`transient` is retried; `cancelled`, `timeLimit` and the rest end
    ///   the operation) or any error, classified by the worker.
    func run(_ context: OperationContext) throws -> HandlerOutcome

    /// Undoes partial work after the operation failed or was cancelled (not before a retry). Best effort.
    func rollBack(_ context: OperationContext)

    /// Housekeeping a worker runs at start and once per lease period, after the queue's own recovery
    /// (e.g. removing orphaned staging collections). Best effort; errors are ignored.
    func recover(_ manager: CollectionManager)
}

extension OperationHandler {
    public func rollBack(_ context: OperationContext) {}
    public func recover(_ manager: CollectionManager) {}
}

/// What an attempt produced.
public struct HandlerOutcome: Sendable {
    /// Stored as the operation's `result`.
    public var result: [String: JSONValue]
    /// Record changes committed with the final status.
    public var commit: (@Sendable (Database) throws -> Void)?

    public init(result: [String: JSONValue], commit: (@Sendable (Database) throws -> Void)? = nil) {
        self.result = result
        self.commit = commit
    }
}

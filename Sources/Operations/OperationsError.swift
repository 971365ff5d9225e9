/// What went wrong in the managed layer. The message names the object and the problem (and, for a
/// quota, the limit and the usage); secrets and vectors never appear in it.
public struct OperationsError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Code: String, Sendable, Equatable {
        /// Bad input: a name, a path, a spec, a chunking, an unreadable source. Never retried.
        case invalidInput
        /// A collection or operation does not exist.
        case notFound
        /// The request is not allowed in the current state (another operation active, collection in
        /// `error` …).
        case conflict
        /// A quota would be exceeded.
        case quotaExceeded
        /// Worth retrying later (I/O, busy database, an embedder's transient failure).
        case transient
        /// The database failed in a way retrying will not fix.
        case storage
        /// The operation was cancelled.
        case cancelled
        /// A time limit ran out.
        case timeLimit
        /// A check refused the result (a reindex's validation); never retried.
        case rejected
        /// This attempt no longer owns the operation (its lease was taken over or it was abandoned).
        case leaseLost
    }

    public let code: Code
    public let message: String
    /// The underlying error's description, when there was one.
    public let cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    /// Whether the failure comes from the request (exit code 2 at the CLI) rather than from running it.
    public var isUsageError: Bool {
        switch code {
        case .invalidInput, .notFound, .conflict, .quotaExceeded: true
        default: false
        }
    }
}

/// What went wrong in a store call. The message names the object and the problem; vectors and
/// secrets never appear in it. Nothing stored changes when a call throws.
public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of failure, for programs that branch on it.
    public enum Code: String, Sendable, Equatable {
        /// The caller passed something invalid (name, dimension, vector, filter, limit …).
        case invalidArgument
        /// A collection or alias does not exist.
        case notFound
        /// A collection or alias of that name exists already.
        case alreadyExists
        /// A file could not be read or is malformed.
        case invalidFile
        /// The database failed in a way retrying will not fix (corruption, a schema problem …).
        case storage
        /// Another connection held a lock past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`): worth retrying.
        case busy
        /// The disk failed or is full, or the file could not be opened (`SQLITE_IOERR`, `SQLITE_FULL`,
        /// `SQLITE_CANTOPEN`): worth retrying once the cause is fixed.
        case io
        /// A database constraint refused the write (`SQLITE_CONSTRAINT`): another writer got there first.
        case constraint
        /// The caller's ``WritePrecondition`` did not hold inside the write's transaction, so nothing was
        /// written (a fenced writer no longer owns what it writes for).
        case preconditionFailed
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

    /// Whether the failure is in running the call rather than in its input (the CLI exits 1, not 2).
    public var isRuntimeFailure: Bool {
        switch code {
        case .storage, .busy, .io, .constraint, .preconditionFailed: true
        case .invalidArgument, .notFound, .alreadyExists, .invalidFile: false
        }
    }

    package static func invalid(_ message: String) -> StoreError { StoreError(.invalidArgument, message) }
    static func notFound(_ message: String) -> StoreError { StoreError(.notFound, message) }
}

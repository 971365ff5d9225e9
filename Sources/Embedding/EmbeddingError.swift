/// What went wrong while making an embedder, reading its inputs or embedding texts.
///
/// The message names the object and the problem (a spec, a key, a file); texts and vectors never
/// appear in it.
///
/// ```swift
/// do {
///     _ = try Embedders.make(spec: "hash:dims=3")
/// } catch {
///     print(error)  // unknown key 'dims' in embedder spec 'hash:dims=3' (known: chars, dim, …)
/// }
/// ```
public struct EmbeddingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of failure, for programs that branch on it.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// An embedder spec is malformed: unknown scheme or key, bad value, inconsistent parameters.
        case invalidSpec
        /// An input (text, document, file content, IDF table) is invalid; retrying will not help.
        case invalidInput
        /// A failure worth retrying later (a model server that timed out, a busy resource).
        case transient
        /// A file could not be read or written.
        case io
    }

    /// The kind of failure.
    public let code: Code
    /// What failed, on which object, and why — written for an operator.
    public let message: String
    /// The underlying error's description, when there was one.
    public let cause: String?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What failed, on which object, and why.
    ///   - cause: The underlying error's description, if any.
    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, followed by the cause in parentheses when there is one.
    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    /// Whether retrying the same call later may succeed (`code == .transient`).
    public var isTransient: Bool { code == .transient }

    /// A malformed embedder spec.
    public static func invalidSpec(_ message: String) -> EmbeddingError { EmbeddingError(.invalidSpec, message) }

    /// An invalid input that retrying will not fix.
    public static func invalidInput(_ message: String, cause: String? = nil) -> EmbeddingError {
        EmbeddingError(.invalidInput, message, cause: cause)
    }

    /// A failure worth retrying.
    public static func transient(_ message: String, cause: String? = nil) -> EmbeddingError {
        EmbeddingError(.transient, message, cause: cause)
    }

    /// A file that could not be read or written.
    public static func io(_ message: String, cause: String? = nil) -> EmbeddingError {
        EmbeddingError(.io, message, cause: cause)
    }
}

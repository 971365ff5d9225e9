/// A problem with one file or one line of a source, reported instead of aborting the scan.
///
/// ```swift
/// for issue in scan.issues { print(issue) }   // corpus.jsonl:7: malformed JSON …
/// ```
public struct SourceIssue: Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in.
    public var path: String
    /// The 1-based line number, for line-oriented files.
    public var line: Int?
    /// What is wrong, for an operator.
    public var message: String

    /// Creates an issue.
    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `path:line: message` (or `path: message`).
    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

/// What ``TextSource/scan()`` found: the documents it could read and the problems with the rest.
public struct SourceScan: Sendable, Equatable {
    /// The documents, sorted by id.
    public var documents: [SourceDocument]
    /// Per-file and per-line problems, in the order they were met (files in path order, lines in file order).
    public var issues: [SourceIssue]

    /// Creates a scan result.
    public init(documents: [SourceDocument] = [], issues: [SourceIssue] = []) {
        self.documents = documents
        self.issues = issues
    }
}

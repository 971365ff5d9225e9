/// A document found by ``TextSource/catalog()``: everything about it but its text, which
/// ``TextSource/read(_:)`` reads again when it is needed. A catalog of 100,000 documents holds their
/// ids, paths and hashes, not their text.
///
/// ```swift
/// let source = try TextSource.detect(path: "Datasets/scifact-mini")
/// let catalog = try source.catalog()
/// for entry in catalog.entries {
///     let document = try source.read(entry)   // checked against entry.contentHash
///     print(document.id, document.text.count)
/// }
/// ```
public struct SourceEntry: Sendable, Equatable {
    /// As ``SourceDocument/id``.
    public var id: String
    /// As ``SourceDocument/path``.
    public var path: String
    /// As ``SourceDocument/size``.
    public var size: Int
    /// As ``SourceDocument/contentHash``.
    public var contentHash: String
    /// Where the text is.
    let location: Location

    enum Location: Sendable, Equatable {
        /// A whole file, read as `format` (`txt`, `md`, `html`, `json`).
        case file(format: String)
        /// One line of a JSON Lines file.
        case record(LineReader.Span)
    }

    init(_ document: SourceDocument, location: Location) {
        id = document.id
        path = document.path
        size = document.size
        contentHash = document.contentHash
        self.location = location
    }
}

/// What ``TextSource/catalog()`` found: the documents it could read, without their text, and the
/// problems with the rest (the same documents and issues as ``TextSource/scan()``).
public struct SourceCatalog: Sendable, Equatable {
    /// The entries, sorted by id.
    public var entries: [SourceEntry]
    /// Per-file and per-line problems, in the order they were met.
    public var issues: [SourceIssue]

    /// Creates a catalog.
    public init(entries: [SourceEntry] = [], issues: [SourceIssue] = []) {
        self.entries = entries
        self.issues = issues
    }
}

extension SourceEntry {
    /// The 1-based line of a record; nil for a file.
    public var line: Int? {
        if case .record(let span) = location { return span.number }
        return nil
    }
}

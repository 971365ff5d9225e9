import Foundation

/// A place documents come from: a directory tree, one text file, a JSON Lines file or a BEIR corpus.
///
/// ```swift
/// let source = try TextSource.detect(path: "Datasets/scifact-mini")   // a BEIR corpus
/// let scan = try source.scan()
/// print(scan.documents.count, "documents;", scan.issues.count, "problems")
/// ```
///
/// A scan never stops at a bad file or line: each becomes a ``SourceIssue`` and the scan goes on.
/// Documents come back sorted by id, so a scan of unchanged data always gives the same result.
///
/// - **directory**: recursive; files named `*.txt`, `*.md`, `*.markdown`, `*.html`, `*.htm`, `*.json`
///   (any case) are read, other files are skipped, and so are hidden entries (names starting with `.`)
///   and symbolic links to directories (no cycles). A file above ``maxFileBytes`` is reported and not
///   read at all; a file that cannot be read, holds a NUL byte (binary) or is not UTF-8 is reported.
///   HTML keeps its text (see the document's `text`); JSON gives its string values, depth first, object
///   members in key order, one per line. The id is the path relative to the directory.
/// - **file**: the same for one file; the id is the file name.
/// - **jsonl**: one object per line with `id` (or `_id`; a string or an integer) and `text` (a string);
///   `title` becomes the title, other fields the metadata. Blank lines are skipped; a malformed line, a
///   line without id or text, or a repeated id is reported with its line number and skipped.
/// - **beir**: `corpus.jsonl` of a BEIR dataset, read as JSON Lines with `_id`, `title`, `text`.
///
/// For files, ``SourceDocument/contentHash`` is the SHA-256 of the file's bytes, computed while the file
/// is read in 1 MiB pieces; for records, of the record's ``SourceDocument/fullText``.
public struct TextSource: Sendable {
    /// The default per-file size limit: 500 MB.
    public static let defaultMaxFileBytes = 500_000_000

    /// What kind of source this is.
    public let kind: SourceKind
    /// The directory or file.
    public let path: String
    /// Files in a directory (or the single file) above this many bytes are reported, not read.
    public let maxFileBytes: Int

    /// Creates a source; nothing is read until ``scan()``.
    ///
    /// - Parameters:
    ///   - kind: The kind of source.
    ///   - path: The directory or file (relative paths are resolved against the current directory).
    ///   - maxFileBytes: Per-file size limit for `directory` and `file` sources. Default 500 MB.
    public init(kind: SourceKind, path: String, maxFileBytes: Int = TextSource.defaultMaxFileBytes) {
        self.kind = kind
        self.path = path
        self.maxFileBytes = maxFileBytes
    }

    /// The source at `path`, its kind found from what is there: a directory holding `corpus.jsonl` is
    /// `beir`, another directory `directory`, a file named `*.jsonl` `jsonl`, any other file `file`.
    ///
    /// ```swift
    /// try TextSource.detect(path: "docs").kind         // .directory
    /// try TextSource.detect(path: "dump.jsonl").kind   // .jsonl
    /// ```
    ///
    /// - Throws: ``EmbeddingError`` (`invalidInput`) when nothing is at `path`.
    public static func detect(path: String, maxFileBytes: Int = TextSource.defaultMaxFileBytes)
        throws(EmbeddingError) -> TextSource
    {
        switch FileReader.status(path) {
        case .missing(let reason):
            throw EmbeddingError(.invalidInput, "source path \(path) cannot be used: \(reason)")
        case .directory:
            let corpus = (path as NSString).appendingPathComponent("corpus.jsonl")
            if case .regular = FileReader.status(corpus) {
                return TextSource(kind: .beir, path: path, maxFileBytes: maxFileBytes)
            }
            return TextSource(kind: .directory, path: path, maxFileBytes: maxFileBytes)
        case .other:
            throw EmbeddingError(.invalidInput, "source path \(path) cannot be used: it is neither a regular file nor a directory")
        case .regular, .symbolicLink:
            let isJSONL = (path as NSString).pathExtension.lowercased() == "jsonl"
            return TextSource(kind: isJSONL ? .jsonl : .file, path: path, maxFileBytes: maxFileBytes)
        }
    }

    /// Reads every document of the source.
    ///
    /// - Returns: The documents, sorted by id, and the problems met on the way.
    /// - Throws: ``EmbeddingError`` (`invalidInput`) when the source path is missing or is not of the
    ///   source's kind (a file where a directory is expected, or the reverse). Problems with single files
    ///   or lines are reported in ``SourceScan/issues``, never thrown.
    public func scan() throws(EmbeddingError) -> SourceScan {
        var documents: [SourceDocument] = []
        let issues = try forEachDocument { document, _ in documents.append(document) }
        documents.sort { $0.id < $1.id }
        return SourceScan(documents: documents, issues: issues)
    }

    /// Reads every document of the source as ``scan()`` does, but keeps only what identifies each one
    /// (id, path, size, content hash and where its text is), so memory grows with the number of
    /// documents, not with their text. ``read(_:)`` gives an entry's text when it is needed.
    ///
    /// - Returns: The entries, sorted by id, and the problems met on the way (as ``scan()``'s).
    /// - Throws: As ``scan()``.
    public func catalog() throws(EmbeddingError) -> SourceCatalog {
        var entries: [SourceEntry] = []
        let issues = try forEachDocument { document, location in entries.append(SourceEntry(document, location: location)) }
        entries.sort { $0.id < $1.id }
        return SourceCatalog(entries: entries, issues: issues)
    }

    /// Reads the document of a ``catalog()`` entry again, with its text.
    ///
    /// - Throws: ``EmbeddingError`` naming the file (and line): `invalidInput` when the document is gone
    ///   or its content changed since the catalog was made (its SHA-256 differs); `io` when the file
    ///   cannot be opened or read for a reason that may pass (permissions, too many open files, a read
    ///   error).
    public func read(_ entry: SourceEntry) throws(EmbeddingError) -> SourceDocument {
        let result: Result<SourceDocument, RecordReader.Problem>
        switch entry.location {
        case .file(let format):
            switch FileReader.status(entry.path) {
            case .regular(let size): result = readFile(path: entry.path, id: entry.id, size: size, format: format)
            case .missing(let reason): result = .failure(RecordReader.Problem(issue: SourceIssue(path: entry.path, message: "cannot read: \(reason)")))
            default: result = .failure(RecordReader.Problem(issue: SourceIssue(path: entry.path, message: "not a regular file")))
            }
        case .record(let span):
            result = RecordReader.reread(path: entry.path, span: span, idKeys: idKeys)
        }
        switch result {
        case .failure(let problem):
            throw EmbeddingError(problem.isIO ? .io : .invalidInput, problem.issue.description)
        case .success(let document):
            guard document.id == entry.id, document.contentHash == entry.contentHash else {
                let place = entry.line.map { "\(entry.path):\($0)" } ?? entry.path
                throw EmbeddingError(.invalidInput, "\(place): document \(entry.id) changed since the source was scanned")
            }
            return document
        }
    }

    /// The id members of records: `id` first for JSON Lines, `_id` first for BEIR.
    private var idKeys: [String] { kind == .beir ? ["_id", "id"] : ["id", "_id"] }

    /// Calls `body` with each document the source holds and where it is; returns the problems met.
    private func forEachDocument(_ body: (SourceDocument, SourceEntry.Location) -> Void) throws(EmbeddingError) -> [SourceIssue] {
        let root = Self.absolute(path)
        let status = FileReader.status(root)
        if case .missing(let reason) = status {
            throw EmbeddingError(.invalidInput, "source path \(path) cannot be used: \(reason)")
        }
        switch kind {
        case .directory:
            guard status == .directory else {
                throw EmbeddingError(.invalidInput, "source \(path) is not a directory")
            }
            return forEachFileDocument(root: root, directory: true) { d, format in body(d, .file(format: format)) }
        case .file:
            guard status != .directory else {
                throw EmbeddingError(.invalidInput, "source \(path) is a directory, not a file")
            }
            return forEachFileDocument(root: root, directory: false) { d, format in body(d, .file(format: format)) }
        case .jsonl:
            guard case .regular = status else {
                throw EmbeddingError(.invalidInput, "source \(path) is not a regular file, so not a JSON Lines file")
            }
            return RecordReader.forEachDocument(path: root, idKeys: idKeys) { d, span in body(d, .record(span)) }
        case .beir:
            let corpus = status == .directory ? (root as NSString).appendingPathComponent("corpus.jsonl") : root
            guard case .regular = FileReader.status(corpus) else {
                throw EmbeddingError(.invalidInput, "BEIR source \(path) has no corpus.jsonl file")
            }
            return RecordReader.forEachDocument(path: corpus, idKeys: idKeys) { d, span in body(d, .record(span)) }
        }
    }

    /// `path` made absolute and standardised (no `.`/`..` parts, no trailing `/`).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

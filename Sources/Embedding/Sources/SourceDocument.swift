/// One document read from a ``TextSource``.
///
/// ```swift
/// let scan = try TextSource.detect(path: "notes").scan()
/// for doc in scan.documents { print(doc.id, doc.size, doc.contentHash.prefix(8)) }
/// ```
public struct SourceDocument: Sendable, Equatable {
    /// A stable id: the path relative to the source directory (with `/` separators) for directory
    /// sources, the file name for a single file, the record's id for JSON Lines and BEIR.
    public var id: String
    /// The file the document came from (for JSON Lines and BEIR, the `.jsonl` file).
    public var path: String
    /// Bytes: the file's size for files, the UTF-8 size of ``fullText`` for JSON Lines and BEIR records.
    public var size: Int
    /// SHA-256 as 64 lowercase hex digits: of the file's bytes for files, of ``fullText`` for JSON Lines
    /// and BEIR records.
    public var contentHash: String
    /// The document's text (for HTML, with tags, scripts and styles stripped; for JSON files, the string
    /// values; for records, the `text` field).
    public var text: String
    /// A title when the source has one (a record's `title`, an HTML page's `<title>`); never empty.
    public var title: String?
    /// Further fields of a JSON Lines or BEIR record (strings as they are, other values as compact JSON),
    /// or the `format` of a file (`txt`, `md`, `html`, `json`).
    public var metadata: [String: String]

    /// Creates a document.
    public init(
        id: String, path: String, size: Int, contentHash: String, text: String, title: String? = nil,
        metadata: [String: String] = [:]
    ) {
        self.id = id
        self.path = path
        self.size = size
        self.contentHash = contentHash
        self.text = text
        self.title = title
        self.metadata = metadata
    }

    /// The text to embed: ``title`` and a line break before ``text`` when there is a title, else ``text``.
    public var fullText: String {
        guard let title, !title.isEmpty else { return text }
        return "\(title)\n\(text)"
    }
}

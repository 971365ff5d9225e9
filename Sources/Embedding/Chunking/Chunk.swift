/// One piece of a document, as produced by ``Chunker``.
///
/// ```swift
/// let chunks = try Chunker(size: 4, overlap: 1).chunks(documentID: "doc", text: "one two three four five")
/// chunks[0].id        // "doc_0000"
/// chunks[0].text      // "one two three four"
/// chunks[1].tokenStart // 3
/// ```
public struct Chunk: Sendable, Equatable {
    /// `<documentID>_<nnnn>`: the document id, an underscore and ``index`` zero-padded to four digits.
    public var id: String
    /// Position of the chunk in its document, from 0.
    public var index: Int
    /// The original text spanning the chunk's tokens, spacing and line breaks kept.
    public var text: String
    /// Index of the chunk's first token in the document's token sequence.
    public var tokenStart: Int
    /// Index one past the chunk's last token (exclusive).
    public var tokenEnd: Int
    /// The chunk's span in the document as UTF-8 byte offsets (`text` is exactly those bytes).
    /// ``Chunker`` always sets it; `nil` only for chunks made by other means.
    public var characterRange: Range<Int>?

    /// Creates a chunk.
    ///
    /// - Parameters:
    ///   - id: `<documentID>_<nnnn>`.
    ///   - index: Position in the document, from 0.
    ///   - text: The chunk's text.
    ///   - tokenStart: First token index.
    ///   - tokenEnd: One past the last token index.
    ///   - characterRange: UTF-8 byte offsets of `text` in the document, if known.
    public init(
        id: String, index: Int, text: String, tokenStart: Int, tokenEnd: Int,
        characterRange: Range<Int>? = nil
    ) {
        self.id = id
        self.index = index
        self.text = text
        self.tokenStart = tokenStart
        self.tokenEnd = tokenEnd
        self.characterRange = characterRange
    }

    /// Number of tokens in the chunk.
    public var tokenCount: Int { tokenEnd - tokenStart }

    /// The id of chunk `index` of document `documentID`: `<documentID>_<nnnn>`, `nnnn` zero-padded to at least
    /// four digits.
    ///
    /// ```swift
    /// Chunk.makeID(documentID: "a/b.txt", index: 7)   // "a/b.txt_0007"
    /// ```
    public static func makeID(documentID: String, index: Int) -> String {
        let digits = String(index)
        let padding = String(repeating: "0", count: max(0, 4 - digits.count))
        return "\(documentID)_\(padding)\(digits)"
    }
}

/// Splits a document into overlapping windows of tokens, preferring to cut at a sentence end.
///
/// **Tokens** are maximal runs of non-whitespace Unicode scalars (whitespace is Unicode's `White_Space`
/// property: spaces, tabs, line breaks, no-break spaces…). A chunk's ``Chunk/text`` is the original
/// substring from its first token's first byte to its last token's last byte, so spacing and line
/// breaks inside a chunk are kept.
///
/// **Windows.** A window holds at most ``size`` tokens starting at token `s`. When the rest of the
/// document fits (`s + size >= tokenCount`) the window takes all of it and is the last chunk. Otherwise,
/// if a *sentence end* lies in the window's last `ceil(size / 10)` tokens — a token whose last scalar is
/// `.`, `!` or `?`, or a token followed by a blank line (whitespace holding two or more line breaks) —
/// the window is cut after the **last** such token; else it holds exactly `size` tokens. The next window
/// starts at `end - overlap`, but always at least one token after `s`.
///
/// **Limits.** At most ``maxChunksPerDocument`` chunks per document; the rest of a longer document is
/// dropped and ``ChunkingResult/isTruncated`` says so. Chunking is deterministic: the same text always
/// gives the same chunks.
///
/// ```swift
/// let chunker = try Chunker(size: 600, overlap: 200)
/// for chunk in chunker.chunks(documentID: "notes/a.md", text: text) {
///     print(chunk.id, chunk.tokenStart..<chunk.tokenEnd)   // notes/a.md_0000 0..<600 …
/// }
/// ```
///
/// Complexity: O(n) in the length of the text, plus the size of the chunks produced.
public struct Chunker: Sendable {
    /// The most chunks one document may produce; the rest is dropped (see ``ChunkingResult/isTruncated``).
    public static let maxChunksPerDocument = 10_000

    /// Tokens per window (at least 1).
    public let size: Int
    /// Tokens shared by consecutive windows, always less than ``size``.
    public let overlap: Int

    /// Creates a chunker.
    ///
    /// An `overlap` of `size` or more becomes `size / 2`.
    ///
    /// ```swift
    /// try Chunker().overlap                       // 200
    /// try Chunker(size: 100, overlap: 100).overlap // 50
    /// ```
    ///
    /// - Parameters:
    ///   - size: Tokens per window; must be positive. Default 600.
    ///   - overlap: Tokens shared by consecutive windows; must not be negative. Default 200.
    /// - Throws: ``EmbeddingError`` with code `invalidInput` when `size <= 0` or `overlap < 0`.
    public init(size: Int = 600, overlap: Int = 200) throws(EmbeddingError) {
        guard size > 0 else {
            throw EmbeddingError(.invalidInput, "chunk size must be positive, got \(size)")
        }
        guard overlap >= 0 else {
            throw EmbeddingError(.invalidInput, "chunk overlap must not be negative, got \(overlap)")
        }
        self.size = size
        self.overlap = overlap >= size ? size / 2 : overlap
    }

    /// The chunks of one document (at most ``maxChunksPerDocument``; use
    /// ``chunkingResult(documentID:text:)`` to learn whether some were dropped).
    ///
    /// - Parameters:
    ///   - documentID: Prefix of every chunk id.
    ///   - text: The document's text. Empty or whitespace-only text gives no chunks.
    /// - Returns: The chunks in document order.
    public func chunks(documentID: String, text: String) -> [Chunk] {
        chunkingResult(documentID: documentID, text: text).chunks
    }

    /// The chunks of one document, its token count and whether it was truncated at
    /// ``maxChunksPerDocument`` chunks.
    ///
    /// - Parameters:
    ///   - documentID: Prefix of every chunk id.
    ///   - text: The document's text.
    /// - Returns: The chunks with the facts about them.
    public func chunkingResult(documentID: String, text: String) -> ChunkingResult {
        let tokens = Self.tokens(in: text)
        let n = tokens.count
        guard n > 0 else { return ChunkingResult(chunks: [], tokenCount: 0, isTruncated: false) }
        let bytes = Array(text.utf8)
        let lookback = (size + 9) / 10  // ceil(size / 10), at least 1
        let step = max(1, size - overlap)
        var chunks: [Chunk] = []
        chunks.reserveCapacity(min(Self.maxChunksPerDocument, n / step + 1))
        var start = 0
        while true {
            var end: Int
            if size >= n - start {
                end = n
            } else {
                end = start + size
                var j = end - 1
                while j >= end - lookback {
                    if tokens[j].endsSentence {
                        end = j + 1
                        break
                    }
                    j -= 1
                }
            }
            let lower = tokens[start].start, upper = tokens[end - 1].end
            let index = chunks.count
            chunks.append(
                Chunk(
                    id: Chunk.makeID(documentID: documentID, index: index),
                    index: index,
                    text: String(decoding: bytes[lower..<upper], as: UTF8.self),
                    tokenStart: start,
                    tokenEnd: end,
                    characterRange: lower..<upper
                ))
            if end == n { return ChunkingResult(chunks: chunks, tokenCount: n, isTruncated: false) }
            if chunks.count == Self.maxChunksPerDocument {
                return ChunkingResult(chunks: chunks, tokenCount: n, isTruncated: true)
            }
            start = max(end - overlap, start + 1)
        }
    }
}

/// Everything ``Chunker/chunkingResult(documentID:text:)`` found in one document.
public struct ChunkingResult: Sendable, Equatable {
    /// The chunks, in document order; at most ``Chunker/maxChunksPerDocument``.
    public var chunks: [Chunk]
    /// Number of whitespace-separated tokens in the whole document.
    public var tokenCount: Int
    /// `true` when the document needed more than ``Chunker/maxChunksPerDocument`` chunks and the
    /// tokens from `chunks.last!.tokenEnd` on were dropped.
    public var isTruncated: Bool

    /// Creates a result.
    public init(chunks: [Chunk], tokenCount: Int, isTruncated: Bool) {
        self.chunks = chunks
        self.tokenCount = tokenCount
        self.isTruncated = isTruncated
    }
}

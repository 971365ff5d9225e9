import VectorMath

/// Turns texts into vectors. Operations and reindex depend only on this protocol, so a real model can
/// be plugged in later.
///
/// ```swift
/// let e = try HashingEmbedder(spec: "hash-v2")
/// let vectors = try await e.embed(["a cat sat", "dogs bark"])
/// ```
public protocol Embedder: Sendable {
    /// A stable identifier including version and parameters, e.g.
    /// `hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1`:
    /// two embedders with the same identifier give bit-identical vectors.
    var identifier: String { get }
    /// Components per vector.
    var dimension: Int { get }
    /// The distance the vectors are meant to be compared with.
    var preferredDistance: Distance { get }
    /// Embeds a batch of texts, one vector per text, in order.
    ///
    /// - Throws: ``EmbeddingError`` (`transient` for failures worth retrying).
    func embed(_ texts: [String]) async throws -> [[Float]]
}

/// An embedder that can also run on the calling thread, without a task: what a worker thread uses, so
/// the CPU time it measures for an operation is the operation's own.
public protocol SynchronousEmbedder: Embedder {
    /// Embeds a batch of texts on the calling thread; the same vectors as ``Embedder/embed(_:)``.
    ///
    /// - Throws: ``EmbeddingError`` (`transient` for failures worth retrying).
    func embedSynchronously(_ texts: [String]) throws -> [[Float]]
}

extension Embedder {
    /// Embeds `texts` on the calling thread: directly for a ``SynchronousEmbedder`` (so the CPU time is
    /// the caller's thread's), otherwise by waiting for ``embed(_:)``. For worker threads and the CLI,
    /// never for code running on Swift's cooperative pool.
    ///
    /// - Throws: What the embedder throws.
    public func embedBlocking(_ texts: [String]) throws -> [[Float]] {
        if let sync = self as? any SynchronousEmbedder { return try sync.embedSynchronously(texts) }
        return try runBlocking { [self] in try await self.embed(texts) }
    }
}

import Embedding

extension EmbeddingError: TransientClassifiable {
    /// `transient` and `io` failures may succeed when retried; bad specs and input never do.
    var isTransientFailure: Bool { code == .transient || code == .io }
}

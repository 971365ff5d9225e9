import Embedding

extension EmbeddingError: TransientClassifiable {
    /// `transient` and `io` failures may succeed when retried; bad specs and input never do.
    var isTransientFailure: Bool { code == .transient || code == .io }

    /// This error as an operations error: `transient` when retrying may help (a service that is down,
    /// a file that cannot be read now), else `invalidInput`; the message is `context` and this error.
    package func operationsError(_ context: String) -> OperationsError {
        OperationsError(isTransientFailure ? .transient : .invalidInput, "\(context): \(description)")
    }
}

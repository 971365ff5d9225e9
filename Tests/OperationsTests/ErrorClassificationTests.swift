import Operations
import Testing
import VectorStore

/// Whether an attempt is retried follows the store's error code, not words in its message.
@Suite("Error classification")
struct ErrorClassificationTests {
    @Test(arguments: [
        (StoreError.Code.busy, OperationsError.Code.transient), (.io, .transient), (.constraint, .conflict), (.storage, .storage),
        (.invalidArgument, .invalidInput), (.invalidFile, .invalidInput), (.alreadyExists, .invalidInput), (.notFound, .notFound),
    ])
    func storeCodes(_ store: StoreError.Code, _ expected: OperationsError.Code) {
        #expect(CollectionManager.classify(StoreError(store, "writing"), doing: "a test").code == expected)
    }

    @Test("a storage failure that mentions 'busy' or 'I/O' in its text is not retried for that")
    func messagesDoNotDecide() {
        let e = StoreError(.storage, "collection 'busy-I/O-locked' is corrupt")
        #expect(CollectionManager.classify(e, doing: "a test").code == .storage)
    }
}

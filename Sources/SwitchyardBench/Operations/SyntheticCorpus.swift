import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorMath
import VectorStore

/// A deterministic JSON Lines corpus of made-up words, for measuring ingestion at sizes the bundled
/// datasets do not reach: record `i` is `{"id": "d<i>", "text": …}` with `words` words drawn from
/// `w0` … `w<vocabulary-1>` by a seeded SplitMix64 generator, so the same arguments always give the
/// same bytes.
///
/// ```swift
/// try SyntheticCorpus(documents: 100_000, words: 300).write(to: "/tmp/corpus.jsonl")   // ≈ 196 MB
/// ```
public struct SyntheticCorpus: Sendable {
    public var documents: Int
    public var words: Int
    public var vocabulary = 20_000
    public var seed: UInt64 = 42

    public init(documents: Int, words: Int) {
        self.documents = documents
        self.words = words
    }

    /// Writes the corpus to `path` (replacing it), 1 MiB at a time.
    ///
    /// - Returns: The bytes written.
    /// - Throws: ``OperationsError`` (`invalidInput`) for non-positive sizes, `storage` when the file
    ///   cannot be written.
    @discardableResult
    public func write(to path: String) throws(OperationsError) -> Int {
        guard documents > 0, words > 0, vocabulary > 0 else {
            throw OperationsError(.invalidInput, "a synthetic corpus needs at least one document, one word per document and one word in its vocabulary")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw OperationsError(.storage, "cannot create \(path)")
        }
        defer { try? handle.close() }
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        var total = 0
        do {
            for i in 0..<documents {
                buffer.append(contentsOf: #"{"id": "d"#.utf8)
                buffer.append(contentsOf: String(i).utf8)
                buffer.append(contentsOf: #"", "text": ""#.utf8)
                for w in 0..<words {
                    if w > 0 { buffer.append(UInt8(ascii: " ")) }
                    buffer.append(UInt8(ascii: "w"))
                    buffer.append(contentsOf: String(next() % UInt64(vocabulary)).utf8)
                }
                buffer.append(contentsOf: "\"}\n".utf8)
                if buffer.count >= 1 << 20 {
                    try handle.write(contentsOf: buffer)
                    total += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try handle.write(contentsOf: buffer)
            total += buffer.count
        } catch {
            throw OperationsError(.storage, "cannot write \(path): \(fileErrorReason(error))")
        }
        return total
    }
}

import Foundation
import Locks
import VectorMath

/// A sentence-transformers BERT model run in-process on the CPU: `minilm` (all-MiniLM-L6-v2) or any
/// model directory with the same layout (`minilm:path=DIR`).
///
/// ```swift
/// let e = try SentenceEmbedder(spec: "minilm", threads: 2)   // after `switchyard models install minilm`
/// let vectors = try e.embedSynchronously(["a cat sat on the mat", "dogs bark"])   // 384-d, unit length
/// ```
///
/// Texts are tokenised (``WordPieceTokenizer``), grouped into batches of about ``tokensPerBatch``
/// tokens, and the batches are encoded on up to ``threads`` threads (``BertEncoder``), the matrix
/// products through BLAS `sgemm` (one BLAS thread per encoding thread). Vectors do not depend on the
/// batch a text lands in, beyond `sgemm`'s rounding (1e-6 here).
///
/// Cost: about 21 MFLOP per token for MiniLM-L6 (six layers of 4·384² + 2·384·1536 multiply-adds),
/// plus attention, quadratic in each text's length (at most 256 tokens).
public struct SentenceEmbedder: SynchronousEmbedder {
    /// The spec's scheme, `minilm`.
    public static let scheme = "minilm"

    /// The model.
    public let model: BertModel
    /// Encoding threads per call.
    public let threads: Int
    /// About how many tokens are encoded together (one `sgemm` per layer and projection).
    public let tokensPerBatch: Int
    /// `minilm:model=NAME,weights=sha256:HEX,max_seq=N,pool=mean,norm=l2|none`: the model's name and
    /// the digest of its weights, so two directories holding the same model give the same identifier.
    public let identifier: String
    /// The model's hidden size (384 for MiniLM-L6).
    public var dimension: Int { model.dimension }
    /// `.cosine`.
    public var preferredDistance: Distance { .cosine }

    /// Makes the embedder a spec names: `minilm` (the installed all-MiniLM-L6-v2) or
    /// `minilm:path=DIR[,threads=N][,batch_tokens=N]`.
    ///
    /// - Parameters:
    ///   - spec: The spec.
    ///   - threads: Encoding threads when the spec does not say (`threads=`).
    /// - Throws: ``EmbeddingError``: `invalidSpec` for a bad key or value; `invalidInput` when the model
    ///   is not installed (the message gives the install command) or is not one this encoder runs;
    ///   `io` when a model file cannot be read.
    public init(spec: String, threads: Int = 1) throws(EmbeddingError) {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        var parameters: [String: String] = [:]
        if trimmed != Self.scheme {
            guard trimmed.hasPrefix(Self.scheme + ":") else { throw .invalidSpec("embedder spec '\(spec)' does not start with '\(Self.scheme)'") }
            for pair in trimmed.dropFirst(Self.scheme.count + 1).split(separator: ",", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw .invalidSpec("'\(pair)' in embedder spec '\(spec)' is not key=value")
                }
                guard ["path", "threads", "batch_tokens"].contains(parts[0]) else {
                    throw .invalidSpec("unknown key '\(parts[0])' in embedder spec '\(spec)' (known: batch_tokens, path, threads)")
                }
                guard parameters[parts[0]] == nil else { throw .invalidSpec("key '\(parts[0])' appears twice in embedder spec '\(spec)'") }
                parameters[parts[0]] = parts[1]
            }
        }
        func positive(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(EmbeddingError) -> Int {
            guard let text = parameters[key] else { return fallback }
            guard let v = Int(text), range.contains(v) else {
                throw .invalidSpec("\(key)=\(text) in embedder spec '\(spec)' must be an integer in \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        let threadCount = try positive("threads", max(1, threads), 1...256)
        let batchTokens = try positive("batch_tokens", 2048, 16...65536)
        let directory: String
        if let path = parameters["path"] {
            directory = (path as NSString).expandingTildeInPath
            guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("config.json")) else {
                throw .invalidInput("no model in \(directory) (config.json is missing): embedder spec '\(spec)'")
            }
        } else {
            let known = ModelCatalog.minilm
            directory = ModelCatalog.directory(of: known)
            guard ModelCatalog.isInstalled(known) else {
                throw .invalidInput("model '\(known.name)' is not installed in \(directory): run `switchyard models install \(known.name)`")
            }
        }
        try self.init(model: ModelCache.shared.model(at: directory), threads: threadCount, tokensPerBatch: batchTokens)
    }

    /// An embedder over a model already loaded.
    public init(model: BertModel, threads: Int = 1, tokensPerBatch: Int = 2048) {
        self.model = model
        self.threads = max(1, threads)
        self.tokensPerBatch = max(16, tokensPerBatch)
        self.identifier = "\(Self.scheme):model=\(model.name),weights=sha256:\(model.weightsDigest),max_seq=\(model.maxSequenceLength),pool=mean,norm=\(model.normalizes ? "l2" : "none")"
        BLASRuntime.configureOnce()
    }

    /// Embeds texts on a thread of its own (BLAS calls stay off Swift's cooperative pool).
    ///
    /// - Throws: `CancellationError` when the task is cancelled before the work starts.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in continuation.resume(returning: embedSynchronously(texts)) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Embeds texts on the calling thread and up to ``threads`` - 1 helpers.
    public func embedSynchronously(_ texts: [String]) -> [[Float]] {
        encode(texts.map { model.tokenizer.encode($0) })
    }

    /// Each text's token ids, `[CLS]` and `[SEP]` included.
    public func tokenIDs(_ texts: [String]) -> [[Int32]] { texts.map { model.tokenizer.encode($0) } }

    /// Vectors for texts already tokenised (by ``tokenIDs(_:)``).
    ///
    /// - Precondition: each text has 1 … ``BertModel/maxSequenceLength`` ids, each below the vocabulary's size.
    public func encode(_ ids: [[Int32]]) -> [[Float]] {
        guard !ids.isEmpty else { return [] }
        let vocabularySize = model.vocabularySize
        for t in ids {
            precondition(!t.isEmpty && t.count <= model.maxSequenceLength, "a text has \(t.count) ids; the model takes 1…\(model.maxSequenceLength)")
            precondition(t.allSatisfy { $0 >= 0 && Int($0) < vocabularySize }, "a token id lies outside the vocabulary of \(vocabularySize)")
        }
        // Batches of consecutive texts, about tokensPerBatch tokens each.
        var batches: [Range<Int>] = []
        var start = 0, tokens = 0
        for (i, t) in ids.enumerated() {
            if tokens > 0 && tokens + t.count > tokensPerBatch {
                batches.append(start..<i)
                start = i
                tokens = 0
            }
            tokens += t.count
        }
        batches.append(start..<ids.count)
        let ranges = batches
        let d = dimension
        let output = UnsafeMutablePointer<Float>.allocate(capacity: ids.count * d)
        defer { output.deallocate() }
        let next = SharedCounter()
        let pointer = UnsafeSendablePointer(output)
        let work: @Sendable (Int) -> Void = { [model] _ in
            let encoder = BertEncoder(model: model)
            while true {
                let b = next.add(1)
                guard b < ranges.count else { return }
                let range = ranges[b]
                encoder.encode(ids[range], into: pointer.base + range.lowerBound * d)
            }
        }
        let workers = min(threads, ranges.count)
        if workers <= 1 { work(0) } else { ParallelLoop.run(iterations: workers, work) }
        return (0..<ids.count).map { i in Array(UnsafeBufferPointer(start: output + i * d, count: d)) }
    }
}

/// A pointer handed to the encoding threads, each writing rows of its own.
struct UnsafeSendablePointer: @unchecked Sendable {
    // @unchecked: every thread writes a disjoint range of rows, and the caller reads them after
    // ParallelLoop.run returns.
    let base: UnsafeMutablePointer<Float>
    init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
}

/// Models loaded in this process, by directory, so operations that make an embedder per run do not
/// read 90 MB each time. An entry is reloaded when `model.safetensors` changes size or date.
final class ModelCache: Sendable {
    static let shared = ModelCache()
    private let entries = Locked<[String: (stamp: String, model: BertModel)]>([:])

    func model(at directory: String) throws(EmbeddingError) -> BertModel {
        let weights = (directory as NSString).appendingPathComponent("model.safetensors")
        let attributes = try? FileManager.default.attributesOfItem(atPath: weights)
        let stamp = "\(attributes?[.size] ?? "-")/\(attributes?[.modificationDate] ?? "-")"
        if let hit = entries.withLock({ $0[directory] }), hit.stamp == stamp { return hit.model }
        let model = try BertModel(directory: directory)
        entries.withLock { $0[directory] = (stamp, model) }
        return model
    }
}

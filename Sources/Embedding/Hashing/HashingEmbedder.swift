import Foundation
import VectorMath

/// A deterministic embedder that hashes words and character n-grams into a fixed number of buckets
/// (feature hashing with signed buckets, sublinear term frequency, optional IDF, unit length).
///
/// It needs no model files and gives bit-identical vectors for the same spec and text in every
/// process and on every platform, so it stands in for "model v1" (`hash-v1`) and "model v2"
/// (`hash-v2`) in reindex tests and the demo. The algorithm is described in `docs/embedders.md`.
///
/// ```swift
/// let embedder = try HashingEmbedder(spec: "hash-v2")
/// let v = embedder.embedOne("Café Ñandú")          // 384 components, unit length
/// let batch = try await embedder.embed(["a cat", "dogs bark"])
/// ```
///
/// Cost: O(length of the text × (word n-gram span + character n-gram span)) per text, plus
/// O(`dim`) to build the vector.
public struct HashingEmbedder: SynchronousEmbedder {
    /// The parsed spec.
    public let spec: HashingSpec
    /// The IDF table the vectors are weighted with, if any.
    public let idf: IDFTable?
    /// ``HashingSpec/canonical`` with `idf=` set to `none` or to `sha256:` and the first 16 hex
    /// digits of the IDF table's checksum, e.g. `hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1`.
    /// Equal identifiers give bit-identical vectors, wherever the IDF file lives.
    public let identifier: String
    /// Components per vector (`dim`).
    public var dimension: Int { spec.dimension }
    /// Always `.cosine`: vectors are meant to be compared by angle (they are unit length with `norm=l2`).
    public var preferredDistance: Distance { .cosine }

    let parameters: FeatureParameters
    let reducer: BucketReducer
    /// The IDF weights, or empty.
    private let idfWeights: [Float]

    /// Makes an embedder from a spec string (`hash-v1`, `hash-v2` or `hash:key=value,…`), reading
    /// the IDF table when the spec names one.
    ///
    /// - Throws: ``EmbeddingError``: `invalidSpec` for a malformed spec or an IDF table fitted for
    ///   other parameters; `io` or `invalidInput` when the IDF file cannot be read or is corrupt.
    public init(spec: String) throws(EmbeddingError) {
        try self.init(HashingSpec(parsing: spec))
    }

    /// Makes an embedder from a parsed spec, reading the IDF table at ``HashingSpec/idfPath`` if set.
    ///
    /// - Throws: ``EmbeddingError``, as ``init(spec:)``.
    public init(_ spec: HashingSpec) throws(EmbeddingError) {
        if let path = spec.idfPath {
            try self.init(spec, idf: IDFTable.read(from: path))
        } else {
            self.init(checked: spec, idf: nil)
        }
    }

    /// Makes an embedder that weights buckets with an IDF table held in memory (for example one
    /// just made by ``fitIDF(corpus:spec:)``); the table wins over ``HashingSpec/idfPath``.
    ///
    /// - Throws: ``EmbeddingError`` with code `invalidSpec` when the table was fitted for other
    ///   feature parameters (`dim`, `words`, `chars` or `seed`).
    public init(_ spec: HashingSpec, idf: IDFTable) throws(EmbeddingError) {
        guard idf.features == spec.featureKey else {
            throw .invalidSpec(
                "IDF table was fitted for '\(idf.features)' but the embedder spec has '\(spec.featureKey)'")
        }
        self.init(checked: spec, idf: idf)
    }

    private init(checked spec: HashingSpec, idf: IDFTable?) {
        self.spec = spec
        self.idf = idf
        self.parameters = FeatureParameters(spec)
        self.reducer = BucketReducer(divisor: spec.dimension)
        self.idfWeights = idf?.weights ?? []
        self.identifier = spec.canonical(idf: idf.map { "sha256:" + $0.checksum.prefix(16) } ?? "none")
    }

    // MARK: - Embedding

    /// Embeds one text synchronously.
    ///
    /// - Returns: ``dimension`` components; unit length with `norm=l2`, or all zeros when the text
    ///   has no letters or digits.
    public func embedOne(_ text: String) -> [Float] {
        vector(for: text, in: HashingWorkspace(dimension: dimension))
    }

    /// Embeds a batch of texts, one vector per text, in order; each equals ``embedOne(_:)``.
    ///
    /// The texts are hashed one after another on the calling task, reusing one set of buffers.
    ///
    /// - Throws: `CancellationError` when the task is cancelled (checked every 64 texts).
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let workspace = HashingWorkspace(dimension: dimension)
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            if i & 63 == 63 { try Task.checkCancellation() }
            vectors.append(vector(for: text, in: workspace))
        }
        return vectors
    }

    /// Embeds a batch of texts on the calling thread, reusing one set of buffers.
    public func embedSynchronously(_ texts: [String]) -> [[Float]] {
        let workspace = HashingWorkspace(dimension: dimension)
        return texts.map { vector(for: $0, in: workspace) }
    }

    /// The words the embedder sees in `text`, after normalisation: compatibility decomposition,
    /// diacritics and format characters dropped, lower-cased, split into runs of letters and digits.
    ///
    /// ```swift
    /// HashingEmbedder.normalizedWords(in: "Café Ñandú, don't!")  // ["cafe", "nandu", "don", "t"]
    /// ```
    public static func normalizedWords(in text: String) -> [String] {
        let workspace = HashingWorkspace(dimension: 1)
        workspace.split(text)
        return workspace.words
    }

    /// `1 + ln(count)` for counts below 256 (computed once with the same `log`).
    private static let logWeights: [Double] = (0..<256).map { $0 == 0 ? 0 : 1 + log(Double($0)) }

    /// `weight` negated when the hash's top bit is set — branch-free (the sign is unpredictable).
    @inline(__always)
    private static func signed(_ weight: Double, by hash: UInt64) -> Double {
        Double(bitPattern: weight.bitPattern ^ (hash & 0x8000_0000_0000_0000))
    }

    /// Hashes `text`'s features into buckets and scales the result.
    func vector(for text: String, in workspace: HashingWorkspace) -> [Float] {
        let dim = dimension
        workspace.countFeatures(of: text, parameters)
        let sums = workspace.sums
        sums.update(repeating: 0, count: dim)
        let buckets = reducer
        if spec.termFrequency == .log {
            Self.logWeights.withUnsafeBufferPointer { logWeights in
                workspace.table.forEach { hash, count in
                    let weight = count < 256 ? logWeights[Int(count)] : 1 + log(Double(count))
                    sums[buckets.reduce(hash)] += Self.signed(weight, by: hash)
                }
            }
        } else {
            workspace.table.forEach { hash, count in
                sums[buckets.reduce(hash)] += Self.signed(Double(count), by: hash)
            }
        }
        if !idfWeights.isEmpty {
            for b in 0..<dim { sums[b] *= Double(idfWeights[b]) }
        }
        var scale = 1.0
        if spec.normalization == .l2 {
            var squares = 0.0
            for b in 0..<dim { squares += sums[b] * sums[b] }
            guard squares > 0 else { return [Float](repeating: 0, count: dim) }
            scale = squares.squareRoot()
        }
        return [Float](unsafeUninitializedCapacity: dim) { out, initialized in
            for b in 0..<dim { out[b] = Float(sums[b] / scale) }
            initialized = dim
        }
    }
}

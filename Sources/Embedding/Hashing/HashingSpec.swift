/// The parameters of a feature-hashing embedder, parsed from a spec string such as
/// `hash:dim=384,words=1,chars=3-5`.
///
/// The grammar, the presets and the algorithm are described in `docs/embedders.md`. Parsing checks
/// every key and value and never touches the file system; the IDF file named by `idf=` is read when
/// a ``HashingEmbedder`` is made.
///
/// ```swift
/// let spec = try HashingSpec(parsing: "hash:dim=384,words=1-2")
/// print(spec.canonical)  // hash:v=1,chars=0,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1-2
/// ```
public struct HashingSpec: Sendable, Equatable, CustomStringConvertible {
    /// The version of the hashing algorithm this build implements, written as `v=` in
    /// ``canonical``. Any change that alters a vector for some input bumps it.
    public static let algorithmVersion = 1

    /// The scheme of hashing specs: `hash:…`.
    public static let scheme = "hash"

    /// The named presets and the specs they stand for.
    ///
    /// - `hash-v1`: word unigrams hashed into 256 buckets (the "model v1" of reindex tests and the demo).
    /// - `hash-v2`: word unigrams plus character 3- to 5-grams within words, 384 buckets ("model v2").
    public static let presets: [String: String] = [
        "hash-v1": "hash:dim=256,words=1",
        "hash-v2": "hash:dim=384,words=1,chars=3-5",
    ]

    /// Largest accepted `dim`.
    public static let maxDimension = 65_536
    /// Largest accepted word n-gram length.
    public static let maxWordNGram = 3
    /// Largest accepted character n-gram length.
    public static let maxCharNGram = 8

    /// How a feature's count in one text becomes its weight.
    public enum TermFrequency: String, Sendable, Equatable, CaseIterable {
        /// Sublinear: `1 + ln(count)` (the default).
        case log
        /// The count itself.
        case raw
    }

    /// How the finished vector is scaled.
    public enum Normalization: String, Sendable, Equatable, CaseIterable {
        /// Scaled to unit Euclidean length (the default); a text without features stays all zeros.
        case l2
        /// Left as summed.
        case none
    }

    /// Components per vector (`dim`, 1…65536).
    public let dimension: Int
    /// Lengths of the word n-grams used as features (`words`), or `nil` when off (`words=0`).
    public let wordNGrams: ClosedRange<Int>?
    /// Lengths of the character n-grams taken within each word, boundary markers included
    /// (`chars`), or `nil` when off (`chars=0`).
    public let charNGrams: ClosedRange<Int>?
    /// Mixed into every feature hash (`seed`); different seeds give unrelated vectors.
    public let seed: UInt32
    /// Term-frequency weighting (`tf`).
    public let termFrequency: TermFrequency
    /// The IDF table file (`idf`), or `nil` for none.
    public let idfPath: String?
    /// Output scaling (`norm`).
    public let normalization: Normalization

    /// Creates a spec from its parameters, checking them as the parser does.
    ///
    /// - Throws: ``EmbeddingError`` with code `invalidSpec` when a parameter is out of range or no
    ///   feature is enabled.
    public init(
        dimension: Int = 256,
        wordNGrams: ClosedRange<Int>? = 1...1,
        charNGrams: ClosedRange<Int>? = nil,
        seed: UInt32 = 0,
        termFrequency: TermFrequency = .log,
        idfPath: String? = nil,
        normalization: Normalization = .l2
    ) throws(EmbeddingError) {
        guard (1...Self.maxDimension).contains(dimension) else {
            throw .invalidSpec("dimension \(dimension) is out of range 1...\(Self.maxDimension)")
        }
        if let w = wordNGrams, w.lowerBound < 1 || w.upperBound > Self.maxWordNGram {
            throw .invalidSpec("word n-gram lengths \(w) are out of range 1...\(Self.maxWordNGram)")
        }
        if let c = charNGrams, c.lowerBound < 1 || c.upperBound > Self.maxCharNGram {
            throw .invalidSpec("character n-gram lengths \(c) are out of range 1...\(Self.maxCharNGram)")
        }
        guard wordNGrams != nil || charNGrams != nil else {
            throw .invalidSpec("a hashing embedder needs word or character n-grams (words=0 and chars=0)")
        }
        if let idfPath {
            guard !idfPath.isEmpty, !idfPath.contains(","), idfPath != "none" else {
                throw .invalidSpec("IDF path '\(idfPath)' cannot be written in a spec (empty, 'none' or has a comma)")
            }
        }
        self.dimension = dimension
        self.wordNGrams = wordNGrams
        self.charNGrams = charNGrams
        self.seed = seed
        self.termFrequency = termFrequency
        self.idfPath = idfPath
        self.normalization = normalization
    }

    /// `hash-v1`: `hash:dim=256,words=1`.
    public static let v1: HashingSpec = try! HashingSpec(parsing: "hash-v1")
    /// `hash-v2`: `hash:dim=384,words=1,chars=3-5`.
    public static let v2: HashingSpec = try! HashingSpec(parsing: "hash-v2")

    // MARK: - Canonical form

    /// The spec with every key explicit: `v` first, then the keys in alphabetical order, e.g.
    /// `hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1`.
    ///
    /// Parsing it gives back an equal spec. ``HashingEmbedder/identifier`` is this string with the
    /// IDF path replaced by the table's content hash.
    public var canonical: String { canonical(idf: idfPath ?? "none") }

    /// Same as ``canonical``.
    public var description: String { canonical }

    /// The canonical form with `idf=` set to `idf`.
    func canonical(idf: String) -> String {
        "\(Self.scheme):v=\(Self.algorithmVersion),chars=\(Self.format(charNGrams)),dim=\(dimension),"
            + "idf=\(idf),norm=\(normalization.rawValue),seed=\(seed),tf=\(termFrequency.rawValue),"
            + "words=\(Self.format(wordNGrams))"
    }

    /// The parameters that decide which bucket each feature falls into — what an IDF table
    /// depends on: `hash:v=1,chars=3-5,dim=384,seed=0,words=1`.
    public var featureKey: String {
        "\(Self.scheme):v=\(Self.algorithmVersion),chars=\(Self.format(charNGrams)),dim=\(dimension),"
            + "seed=\(seed),words=\(Self.format(wordNGrams))"
    }

    static func format(_ range: ClosedRange<Int>?) -> String {
        guard let range else { return "0" }
        return range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }
}

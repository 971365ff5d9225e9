import Crypto
import Foundation
import SwitchyardJSON

/// Per-bucket inverse document frequencies for a hashing embedder, fitted by
/// ``HashingEmbedder/fitIDF(corpus:spec:)`` and stored in a small text file with a SHA-256
/// checksum (format in `docs/embedders.md`).
///
/// ```swift
/// let table = HashingEmbedder.fitIDF(corpus: texts, spec: .v1)
/// try table.write(to: "/data/idf-v1.txt")
/// let again = try IDFTable.read(from: "/data/idf-v1.txt")   // == table
/// ```
public struct IDFTable: Sendable, Equatable {
    /// The first line of every table file.
    public static let formatLine = "switchyard-idf 1"

    /// The feature parameters the table was fitted for (``HashingSpec/featureKey``), e.g.
    /// `hash:v=1,chars=3-5,dim=384,seed=0,words=1`.
    public let features: String
    /// How many texts the table was fitted on.
    public let documentCount: Int
    /// One weight per bucket.
    public let weights: [Float]
    /// SHA-256 (64 lower-case hex digits) of the file's contents before its checksum line; equal
    /// tables have equal checksums.
    public let checksum: String

    /// Components covered (the spec's `dim`).
    public var dimension: Int { weights.count }

    /// Makes a table from weights, checking them.
    ///
    /// - Parameters:
    ///   - features: The ``HashingSpec/featureKey`` of the spec the weights belong to.
    ///   - documentCount: How many texts the weights were fitted on.
    ///   - weights: One finite weight per bucket; as many as the spec's `dim`.
    /// - Throws: ``EmbeddingError`` with code `invalidInput` when `features` is not a feature key,
    ///   the count of weights differs from its `dim`, a weight is not finite, or `documentCount` < 0.
    public init(features: String, documentCount: Int, weights: [Float]) throws(EmbeddingError) {
        try Self.validate(features: features, documentCount: documentCount, weights: weights, source: "IDF table")
        self.init(unchecked: features, documentCount: documentCount, weights: weights)
    }

    init(unchecked features: String, documentCount: Int, weights: [Float]) {
        self.features = features
        self.documentCount = documentCount
        self.weights = weights
        self.checksum = Self.sha256(Self.body(features: features, documentCount: documentCount, weights: weights))
    }

    // MARK: - File format

    /// The file's contents: header, one weight per line (Swift's shortest round-trip decimal form),
    /// then `sha256 <hex>` over everything before that line.
    public var serialized: String {
        Self.body(features: features, documentCount: documentCount, weights: weights) + "sha256 \(checksum)\n"
    }

    /// Writes the table to `path` atomically (a temporary file renamed into place).
    ///
    /// - Throws: ``EmbeddingError`` with code `io` when the file cannot be written.
    public func write(to path: String) throws(EmbeddingError) {
        do {
            try Data(serialized.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io("cannot write IDF table '\(path)': \(fileErrorReason(error))")
        }
    }

    /// Reads and checks a table written by ``write(to:)``.
    ///
    /// - Throws: ``EmbeddingError``: `io` when the file cannot be read; `invalidInput` when it is
    ///   not an IDF table, is of another format version, or fails its checksum.
    public static func read(from path: String) throws(EmbeddingError) -> IDFTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .io("cannot read IDF table '\(path)': \(fileErrorReason(error))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidInput("IDF table '\(path)' is not UTF-8 text")
        }
        return try IDFTable(parsing: text, source: "IDF table '\(path)'")
    }

    /// Parses a table's file contents.
    ///
    /// - Parameters:
    ///   - text: The contents, as produced by ``serialized``.
    ///   - source: How to name the table in error messages.
    /// - Throws: ``EmbeddingError`` with code `invalidInput`, naming the line that is wrong.
    public init(parsing text: String, source: String = "IDF table") throws(EmbeddingError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard lines.first == Substring(Self.formatLine) else {
            let first = lines.first.map { String($0.prefix(40)) } ?? ""
            throw .invalidInput(
                "\(source) is not a Switchyard IDF table (first line '\(first)', expected '\(Self.formatLine)')")
        }
        guard lines.count >= 5, let last = lines.last, last.hasPrefix("sha256 ") else {
            throw .invalidInput("\(source) is truncated: it does not end with a 'sha256' line")
        }
        let expected = String(last.dropFirst("sha256 ".count))
        let bodyLength = lines.dropLast().reduce(0) { $0 + $1.utf8.count + 1 }
        let actual = Self.sha256(String(decoding: text.utf8.prefix(bodyLength), as: UTF8.self))
        guard expected == actual else {
            throw .invalidInput("\(source) is corrupt: its checksum is \(actual), the file says \(expected)")
        }
        func field(_ index: Int, _ name: String) throws(EmbeddingError) -> String {
            let line = lines[index]
            guard line.hasPrefix(name + " ") else {
                throw .invalidInput("\(source), line \(index + 1): expected '\(name) …', found '\(line.prefix(40))'")
            }
            return String(line.dropFirst(name.count + 1))
        }
        let features = try field(1, "features")
        guard let documentCount = Int(try field(2, "documents")) else {
            throw .invalidInput("\(source), line 3: 'documents' is not an integer")
        }
        guard let count = Int(try field(3, "weights")), count == lines.count - 5 else {
            throw .invalidInput("\(source), line 4: 'weights' does not match the \(lines.count - 5) weight lines")
        }
        var weights: [Float] = []
        weights.reserveCapacity(count)
        for index in 4..<(4 + count) {
            guard let w = Float(String(lines[index])) else {
                throw .invalidInput("\(source), line \(index + 1): '\(lines[index].prefix(40))' is not a number")
            }
            weights.append(w)
        }
        try Self.validate(features: features, documentCount: documentCount, weights: weights, source: source)
        self.init(unchecked: features, documentCount: documentCount, weights: weights)
    }

    private static func validate(
        features: String, documentCount: Int, weights: [Float], source: String
    ) throws(EmbeddingError) {
        let spec: HashingSpec
        do {
            spec = try HashingSpec(parsing: features)
        } catch {
            throw .invalidInput("\(source): '\(features)' is not a hashing feature key", cause: error.message)
        }
        guard spec.featureKey == features else {
            throw .invalidInput("\(source): features '\(features)' is not in canonical form '\(spec.featureKey)'")
        }
        guard weights.count == spec.dimension else {
            throw .invalidInput("\(source) has \(weights.count) weights for dim=\(spec.dimension)")
        }
        guard documentCount >= 0 else {
            throw .invalidInput("\(source): negative document count \(documentCount)")
        }
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw .invalidInput("\(source): weight \(bad) is not finite")
        }
    }

    private static func body(features: String, documentCount: Int, weights: [Float]) -> String {
        var text = "\(formatLine)\nfeatures \(features)\ndocuments \(documentCount)\nweights \(weights.count)\n"
        text.reserveCapacity(text.utf8.count + weights.count * 12)
        for w in weights {
            text += w.description
            text += "\n"
        }
        return text
    }

    private static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

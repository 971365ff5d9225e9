extension HashingSpec {
    /// The keys a `hash:` spec accepts, in the order error messages list them.
    public static let knownKeys = ["chars", "dim", "idf", "norm", "seed", "tf", "v", "words"]

    /// Parses a spec string: a preset name (`hash-v1`, `hash-v2`) or `hash:key=value,…`.
    ///
    /// Omitted keys take their defaults (`dim=256,words=1,chars=0,seed=0,tf=log,idf=none,norm=l2`);
    /// `hash` alone is the default spec. Whitespace around the whole spec, a key or a value is ignored.
    ///
    /// ```swift
    /// let spec = try HashingSpec(parsing: "hash:dim=384,words=1,chars=3-5")
    /// ```
    ///
    /// - Parameter spec: The spec string; the grammar is in `docs/embedders.md`.
    /// - Throws: ``EmbeddingError`` with code `invalidSpec` and a message naming the spec and the
    ///   offending key or value: an unknown scheme, preset or key, a key given twice, a parameter
    ///   without `=`, a value out of range, or an algorithm version other than
    ///   ``algorithmVersion``.
    public init(parsing spec: String) throws(EmbeddingError) {
        let text = spec.trimmingWhitespace()
        if let expansion = Self.presets[text] {
            try self.init(parsing: expansion)
            return
        }
        let values = SpecValues(spec: spec, values: try Self.parameters(of: text, spec: spec))
        // Checked in this order, so a spec with several mistakes names the same one every time.
        try values.checkVersion()
        let dimension = try values.dimension()
        let wordNGrams = try values.lengths("words", default: 1...1, max: Self.maxWordNGram)
        let charNGrams = try values.lengths("chars", default: nil, max: Self.maxCharNGram)
        let seed = try values.seed()
        let termFrequency = try values.termFrequency()
        let normalization = try values.normalization()
        let idfPath = try values.idfPath()
        guard wordNGrams != nil || charNGrams != nil else {
            throw .invalidSpec("embedder spec '\(spec)' has no features: words=0 and chars=0")
        }
        try self.init(
            dimension: dimension, wordNGrams: wordNGrams, charNGrams: charNGrams, seed: seed,
            termFrequency: termFrequency, idfPath: idfPath, normalization: normalization)
    }

    /// The `key=value` parameters after `hash:`, each key known and given once.
    private static func parameters(of text: String, spec: String) throws(EmbeddingError) -> [String: String] {
        let scheme: Substring
        let body: Substring
        if let colon = text.firstIndex(of: ":") {
            scheme = text[..<colon]
            body = text[text.index(after: colon)...]
        } else {
            scheme = text[...]
            body = ""
        }
        guard scheme == Self.scheme else {
            let known = (Self.presets.keys.sorted() + ["hash:key=value,…"]).joined(separator: ", ")
            throw .invalidSpec("unknown embedder '\(scheme)' in embedder spec '\(spec)' (known: \(known))")
        }
        var values: [String: String] = [:]
        guard !body.allSatisfy(\.isWhitespace) else { return values }
        for item in body.split(separator: ",", omittingEmptySubsequences: false) {
            let parameter = String(item).trimmingWhitespace()
            guard !parameter.isEmpty else {
                throw .invalidSpec("empty parameter in embedder spec '\(spec)' (parameters are key=value, separated by commas)")
            }
            guard let equals = parameter.firstIndex(of: "=") else {
                throw .invalidSpec("parameter '\(parameter)' in embedder spec '\(spec)' has no value (expected key=value)")
            }
            let key = String(parameter[..<equals]).trimmingWhitespace()
            let value = String(parameter[parameter.index(after: equals)...]).trimmingWhitespace()
            guard Self.knownKeys.contains(key) else {
                throw .invalidSpec("unknown key '\(key)' in embedder spec '\(spec)' (known: \(Self.knownKeys.joined(separator: ", ")))")
            }
            guard values[key] == nil else { throw .invalidSpec("key '\(key)' is given twice in embedder spec '\(spec)'") }
            values[key] = value
        }
        return values
    }

    /// A spec's parameters, read one key at a time with its default and its range.
    private struct SpecValues {
        let spec: String
        let values: [String: String]

        func bad(_ key: String, _ expected: String) -> EmbeddingError {
            .invalidSpec("invalid value '\(values[key] ?? "")' for '\(key)' in embedder spec '\(spec)': expected \(expected)")
        }

        func checkVersion() throws(EmbeddingError) {
            guard let v = values["v"] else { return }
            guard let version = HashingSpec.parseInteger(v, max: UInt64(Int32.max)) else {
                throw bad("v", "the algorithm version \(HashingSpec.algorithmVersion)")
            }
            guard version == HashingSpec.algorithmVersion else {
                throw .invalidSpec("embedder spec '\(spec)' asks for hashing algorithm v=\(version), "
                    + "but this build implements v=\(HashingSpec.algorithmVersion)")
            }
        }

        func dimension() throws(EmbeddingError) -> Int {
            guard let v = values["dim"] else { return 256 }
            guard let d = HashingSpec.parseInteger(v, max: UInt64(HashingSpec.maxDimension)), d >= 1 else {
                throw bad("dim", "an integer from 1 to \(HashingSpec.maxDimension)")
            }
            return d
        }

        func lengths(_ key: String, default value: ClosedRange<Int>?, max: Int) throws(EmbeddingError) -> ClosedRange<Int>? {
            guard let v = values[key] else { return value }
            guard let r = HashingSpec.parseRange(v, max: max) else {
                throw bad(key, "0 (off), n or n-m with 1 ≤ n ≤ m ≤ \(max)")
            }
            return r.range
        }

        func seed() throws(EmbeddingError) -> UInt32 {
            guard let v = values["seed"] else { return 0 }
            guard let s = HashingSpec.parseInteger(v, max: UInt64(UInt32.max)) else {
                throw bad("seed", "an integer from 0 to \(UInt32.max)")
            }
            return UInt32(s)
        }

        func termFrequency() throws(EmbeddingError) -> TermFrequency {
            guard let v = values["tf"] else { return .log }
            guard let tf = TermFrequency(rawValue: v) else { throw bad("tf", "'log' or 'raw'") }
            return tf
        }

        func normalization() throws(EmbeddingError) -> Normalization {
            guard let v = values["norm"] else { return .l2 }
            guard let n = Normalization(rawValue: v) else { throw bad("norm", "'l2' or 'none'") }
            return n
        }

        func idfPath() throws(EmbeddingError) -> String? {
            guard let v = values["idf"] else { return nil }
            guard !v.isEmpty else { throw bad("idf", "the path of an IDF table file, or 'none'") }
            return v == "none" ? nil : v
        }
    }

    /// A decimal integer made of ASCII digits only, at most `max`.
    fileprivate static func parseInteger(_ text: String, max: UInt64) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt64(text), value <= max
        else { return nil }
        return Int(value)
    }

    /// An n-gram length setting: off, or a range of lengths.
    fileprivate enum LengthSetting {
        case off
        case lengths(ClosedRange<Int>)

        var range: ClosedRange<Int>? {
            if case .lengths(let r) = self { return r }
            return nil
        }
    }

    /// `0` (off), `n`, or `n-m` with `1 ≤ n ≤ m ≤ max`; `nil` when malformed.
    fileprivate static func parseRange(_ text: String, max: Int) -> LengthSetting? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let n = parseInteger(String(parts[0]), max: UInt64(max)) else { return nil }
            return n == 0 ? .off : .lengths(n...n)
        case 2:
            guard let lo = parseInteger(String(parts[0]), max: UInt64(max)),
                let hi = parseInteger(String(parts[1]), max: UInt64(max)),
                lo >= 1, lo <= hi
            else { return nil }
            return .lengths(lo...hi)
        default:
            return nil
        }
    }
}

extension String {
    /// The string without leading and trailing whitespace (no Foundation needed).
    fileprivate func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}

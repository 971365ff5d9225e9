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
        if !body.allSatisfy(\.isWhitespace) {
            for item in body.split(separator: ",", omittingEmptySubsequences: false) {
                let parameter = String(item).trimmingWhitespace()
                guard !parameter.isEmpty else {
                    throw .invalidSpec(
                        "empty parameter in embedder spec '\(spec)' (parameters are key=value, separated by commas)")
                }
                guard let equals = parameter.firstIndex(of: "=") else {
                    throw .invalidSpec(
                        "parameter '\(parameter)' in embedder spec '\(spec)' has no value (expected key=value)")
                }
                let key = String(parameter[..<equals]).trimmingWhitespace()
                let value = String(parameter[parameter.index(after: equals)...]).trimmingWhitespace()
                guard Self.knownKeys.contains(key) else {
                    let known = Self.knownKeys.joined(separator: ", ")
                    throw .invalidSpec("unknown key '\(key)' in embedder spec '\(spec)' (known: \(known))")
                }
                guard values[key] == nil else {
                    throw .invalidSpec("key '\(key)' is given twice in embedder spec '\(spec)'")
                }
                values[key] = value
            }
        }

        func bad(_ key: String, _ expected: String) -> EmbeddingError {
            .invalidSpec(
                "invalid value '\(values[key] ?? "")' for '\(key)' in embedder spec '\(spec)': expected \(expected)")
        }

        if let v = values["v"] {
            guard let version = Self.parseInteger(v, max: UInt64(Int32.max)) else {
                throw bad("v", "the algorithm version \(Self.algorithmVersion)")
            }
            guard version == Self.algorithmVersion else {
                throw .invalidSpec(
                    "embedder spec '\(spec)' asks for hashing algorithm v=\(version), "
                        + "but this build implements v=\(Self.algorithmVersion)")
            }
        }

        var dimension = 256
        if let v = values["dim"] {
            guard let d = Self.parseInteger(v, max: UInt64(Self.maxDimension)), d >= 1 else {
                throw bad("dim", "an integer from 1 to \(Self.maxDimension)")
            }
            dimension = d
        }

        var wordNGrams: ClosedRange<Int>? = 1...1
        if let v = values["words"] {
            guard let r = Self.parseRange(v, max: Self.maxWordNGram) else {
                throw bad("words", "0 (off), n or n-m with 1 ≤ n ≤ m ≤ \(Self.maxWordNGram)")
            }
            wordNGrams = r.range
        }

        var charNGrams: ClosedRange<Int>? = nil
        if let v = values["chars"] {
            guard let r = Self.parseRange(v, max: Self.maxCharNGram) else {
                throw bad("chars", "0 (off), n or n-m with 1 ≤ n ≤ m ≤ \(Self.maxCharNGram)")
            }
            charNGrams = r.range
        }

        var seed: UInt32 = 0
        if let v = values["seed"] {
            guard let s = Self.parseInteger(v, max: UInt64(UInt32.max)) else {
                throw bad("seed", "an integer from 0 to \(UInt32.max)")
            }
            seed = UInt32(s)
        }

        var termFrequency = TermFrequency.log
        if let v = values["tf"] {
            guard let tf = TermFrequency(rawValue: v) else { throw bad("tf", "'log' or 'raw'") }
            termFrequency = tf
        }

        var normalization = Normalization.l2
        if let v = values["norm"] {
            guard let n = Normalization(rawValue: v) else { throw bad("norm", "'l2' or 'none'") }
            normalization = n
        }

        var idfPath: String? = nil
        if let v = values["idf"] {
            guard !v.isEmpty else { throw bad("idf", "the path of an IDF table file, or 'none'") }
            idfPath = v == "none" ? nil : v
        }

        guard wordNGrams != nil || charNGrams != nil else {
            throw .invalidSpec("embedder spec '\(spec)' has no features: words=0 and chars=0")
        }
        try self.init(
            dimension: dimension, wordNGrams: wordNGrams, charNGrams: charNGrams, seed: seed,
            termFrequency: termFrequency, idfPath: idfPath, normalization: normalization)
    }

    /// A decimal integer made of ASCII digits only, at most `max`.
    private static func parseInteger(_ text: String, max: UInt64) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt64(text), value <= max
        else { return nil }
        return Int(value)
    }

    /// An n-gram length setting: off, or a range of lengths.
    private enum LengthSetting {
        case off
        case lengths(ClosedRange<Int>)

        var range: ClosedRange<Int>? {
            if case .lengths(let r) = self { return r }
            return nil
        }
    }

    /// `0` (off), `n`, or `n-m` with `1 ≤ n ≤ m ≤ max`; `nil` when malformed.
    private static func parseRange(_ text: String, max: Int) -> LengthSetting? {
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

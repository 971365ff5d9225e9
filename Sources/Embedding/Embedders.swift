/// Makes embedders from spec strings — the one place that knows every scheme.
///
/// ```swift
/// let v1 = try Embedders.make(spec: "hash-v1")
/// let custom = try Embedders.make(spec: "hash:dim=512,words=1-2,chars=3-5,seed=7")
/// ```
public enum Embedders {
    /// Named presets and the specs they stand for (`hash-v1`, `hash-v2`).
    public static let presets: [String: String] = HashingSpec.presets

    /// Makes the embedder a spec describes: a preset name or `scheme:parameters`.
    ///
    /// - Parameter spec: `hash-v1`, `hash-v2` or `hash:key=value,…` (grammar in `docs/embedders.md`).
    /// - Throws: ``EmbeddingError`` with code `invalidSpec` for an unknown preset or scheme or a bad
    ///   parameter; `io` or `invalidInput` when a file the spec names (an IDF table) cannot be used.
    public static func make(spec: String) throws(EmbeddingError) -> any Embedder {
        let trimmed = spec.drop(while: \.isWhitespace)
        let scheme = trimmed.prefix { $0 != ":" && !$0.isWhitespace }
        if presets[String(scheme)] != nil || scheme == HashingSpec.scheme {
            return try HashingEmbedder(spec: spec)
        }
        let known = (presets.keys.sorted() + ["hash:key=value,…"]).joined(separator: ", ")
        throw .invalidSpec("unknown embedder '\(scheme)' in embedder spec '\(spec)' (known: \(known))")
    }
}

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
    /// - Parameters:
    ///   - spec: `hash-v1`, `hash-v2`, `hash:key=value,…`, `minilm`, `minilm:path=DIR,…` or
    ///     `http:url=URL,model=NAME,…` (grammar in `docs/embedders.md`).
    ///   - threads: Threads a model embedder encodes with, unless its spec says (hashing embedders use one).
    /// - Throws: ``EmbeddingError`` with code `invalidSpec` for an unknown preset or scheme or a bad
    ///   parameter; `io` or `invalidInput` when a file the spec names (an IDF table, a model) cannot be
    ///   used, including a model that is not installed; `transient` when an `http:` service cannot be
    ///   reached to learn its dimension.
    public static func make(spec: String, threads: Int = 1) throws(EmbeddingError) -> any Embedder {
        let trimmed = spec.drop(while: \.isWhitespace)
        let scheme = trimmed.prefix { $0 != ":" && !$0.isWhitespace }
        if presets[String(scheme)] != nil || scheme == HashingSpec.scheme {
            return try HashingEmbedder(spec: spec)
        }
        if scheme == SentenceEmbedder.scheme {
            return try SentenceEmbedder(spec: spec, threads: threads)
        }
        if scheme == HTTPEmbedderSpec.scheme {
            return try HTTPEmbedder(spec: spec)
        }
        let known = (presets.keys.sorted() + ["hash:key=value,…", "minilm", "minilm:path=DIR", "http:url=URL,model=NAME,…"]).joined(separator: ", ")
        throw .invalidSpec("unknown embedder '\(scheme)' in embedder spec '\(spec)' (known: \(known))")
    }
}

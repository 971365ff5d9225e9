import Foundation

/// The parameters of an `http:` embedder spec: an OpenAI-compatible `POST /v1/embeddings` endpoint.
///
/// ```swift
/// let s = try HTTPEmbedderSpec(parsing: "http:url=http://127.0.0.1:8080/v1,model=all-MiniLM-L6-v2,dim=384")
/// s.endpoint   // "http://127.0.0.1:8080/v1/embeddings"
/// ```
///
/// Grammar (docs/embedders.md): `http:url=URL,model=NAME[,dim=N][,batch=64][,timeout=30][,key_env=VAR]
/// [,normalize=true|false][,concurrency=4][,retries=5][,backoff=0.25]`.
public struct HTTPEmbedderSpec: Sendable, Equatable {
    /// The spec's scheme, `http`.
    public static let scheme = "http"
    /// Parameter names refused as credentials (`key_env` excepted): a secret must not be written into a spec.
    static let credentialWords = ["key", "token", "secret", "password", "authorization", "bearer", "credential"]
    /// Every key the spec accepts.
    public static let keys = ["backoff", "batch", "concurrency", "dim", "key_env", "model", "normalize", "retries", "timeout", "url"]

    /// The URL the requests go to: `url` with `/embeddings` appended unless it already ends so.
    public var endpoint: String
    /// The `model` field of each request.
    public var model: String
    /// The vectors' dimension when the spec gives it; otherwise it is asked of the service once.
    public var dimension: Int?
    /// Texts per request.
    public var batchSize = 64
    /// Seconds one request may take, connection included.
    public var timeout = 30.0
    /// The environment variable holding the API key, sent as `Authorization: Bearer …`.
    public var keyEnvironmentVariable: String?
    /// Whether vectors are scaled to unit length on arrival.
    public var normalize = true
    /// Requests in flight at once for one `embed` call.
    public var concurrency = 4
    /// Retries after the first attempt, for 408, 429, 5xx, malformed answers and connection failures.
    public var retries = 5
    /// The first retry's mean delay in seconds; doubling, with full jitter, up to 8 s (Retry-After up to 60 s).
    public var backoff = 0.25

    /// Parses `http:key=value,…`.
    ///
    /// - Throws: ``EmbeddingError`` `invalidSpec` naming the key: unknown, repeated, missing (`url`, `model`)
    ///   or out of range; an inline `key=` (keys belong in the environment, not in a stored spec).
    public init(parsing spec: String) throws(EmbeddingError) {
        // No message quotes the spec or a value: a spec may hold a secret by mistake. Messages name keys only.
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix(Self.scheme + ":") else {
            throw .invalidSpec("an http: embedder spec must start with 'http:' (expected http:url=URL,model=NAME,…)")
        }
        let pairs = trimmed.dropFirst(Self.scheme.count + 1).split(separator: ",", omittingEmptySubsequences: false)
        // First of all: anything that looks like a credential written into the spec.
        for pair in pairs {
            let name = pair.prefix { $0 != "=" }.trimmingCharacters(in: .whitespaces).lowercased()
            if name != "key_env" && Self.credentialWords.contains(where: { name.contains($0) }) {
                throw .invalidSpec("the http: embedder spec holds what looks like a credential (\(name)=…): put it in an environment variable and name that with key_env=VAR (a spec is stored with the collection)")
            }
        }
        var values: [String: String] = [:]
        for (position, pair) in pairs.enumerated() {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .invalidSpec("parameter \(position + 1) of the http: embedder spec is not key=value")
            }
            guard Self.keys.contains(parts[0]) else {
                throw .invalidSpec("unknown key '\(parts[0].prefix(40))' in the http: embedder spec (known: \(Self.keys.joined(separator: ", ")))")
            }
            guard values[parts[0]] == nil else { throw .invalidSpec("key '\(parts[0])' appears twice in the http: embedder spec") }
            values[parts[0]] = parts[1]
        }
        guard let url = values["url"] else { throw .invalidSpec("the http: embedder spec lacks url=http://HOST:PORT/v1") }
        guard let model = values["model"] else { throw .invalidSpec("the http: embedder spec lacks model=NAME") }
        guard let parsed = URL(string: url), let s = parsed.scheme?.lowercased(), s == "http" || s == "https",
              parsed.host?.isEmpty == false, parsed.query == nil, parsed.fragment == nil, parsed.user == nil, parsed.password == nil,
              !url.contains("@")
        else {
            throw .invalidSpec("url= in the http: embedder spec must be http(s)://HOST[:PORT][/PATH], without query, fragment or credentials")
        }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        endpoint = base.hasSuffix("/embeddings") ? base : base + "/embeddings"
        self.model = model

        func integer(_ key: String, _ range: ClosedRange<Int>) throws(EmbeddingError) -> Int? {
            guard let text = values[key] else { return nil }
            guard let v = Int(text), range.contains(v) else {
                throw .invalidSpec("\(key)= in the http: embedder spec must be an integer in \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        func seconds(_ key: String, _ range: ClosedRange<Double>) throws(EmbeddingError) -> Double? {
            guard let text = values[key] else { return nil }
            guard let v = Double(text), v.isFinite, range.contains(v) else {
                throw .invalidSpec("\(key)= in the http: embedder spec must be a number of seconds in \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        dimension = try integer("dim", 1...65536)
        batchSize = try integer("batch", 1...2048) ?? batchSize
        concurrency = try integer("concurrency", 1...64) ?? concurrency
        retries = try integer("retries", 0...20) ?? retries
        timeout = try seconds("timeout", 0.05...3600) ?? timeout
        backoff = try seconds("backoff", 0.001...60) ?? backoff
        if let n = values["normalize"] {
            guard n == "true" || n == "false" else {
                throw .invalidSpec("normalize= in the http: embedder spec must be true or false")
            }
            normalize = n == "true"
        }
        if let variable = values["key_env"] {
            guard variable.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw .invalidSpec("key_env= in the http: embedder spec must name an environment variable (letters, digits, _)")
            }
            keyEnvironmentVariable = variable
        }
    }
}

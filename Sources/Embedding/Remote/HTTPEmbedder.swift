import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchyardJSON
import VectorMath

/// An embedder that calls an OpenAI-compatible `POST /v1/embeddings` endpoint: OpenAI, vLLM,
/// text-embeddings-inference, Ollama, LiteLLM, llama.cpp's server.
///
/// ```swift
/// let e = try HTTPEmbedder(spec: "http:url=http://127.0.0.1:8080/v1,model=all-MiniLM-L6-v2,key_env=EMBED_KEY")
/// let vectors = try await e.embed(["a cat sat on the mat"])
/// ```
///
/// - Requests carry `batchSize` texts (`{"model", "input", "encoding_format": "float"}`), at most
///   `concurrency` of them in flight per call.
/// - 408, 429, 5xx, malformed answers and connection failures are retried with exponential backoff and
///   full jitter, honouring `Retry-After`; after `retries` retries the call fails with a `transient`
///   error (the operations queue retries the operation later). Any other 4xx fails at once with the
///   service's message, as `invalidInput`.
/// - Answers are checked: one vector per text, each `index` once, the expected dimension, finite values.
///   A wrong dimension is `invalidInput` (a configuration error, not a glitch).
/// - The API key is read from the environment variable `key_env` names, when the embedder is made; it
///   appears in no identifier, error, log or stored spec.
public final class HTTPEmbedder: Embedder {
    /// The parsed spec.
    public let spec: HTTPEmbedderSpec
    /// `http:url=ENDPOINT,model=NAME,dim=N,normalize=BOOL`.
    public let identifier: String
    /// The vectors' dimension: the spec's `dim`, else what the service answered to one probe request.
    public let dimension: Int
    /// `.cosine`.
    public var preferredDistance: Distance { .cosine }

    private let key: String?

    /// Makes the embedder; without `dim` in the spec, asks the service for one vector to learn it.
    ///
    /// - Throws: ``EmbeddingError``: `invalidSpec` for a bad spec; `invalidInput` when `key_env` names an
    ///   unset variable or the service refuses the probe; `transient` when the service cannot be reached.
    public convenience init(spec: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(EmbeddingError) {
        try self.init(HTTPEmbedderSpec(parsing: spec), environment: environment)
    }

    /// Makes the embedder from a parsed spec (probing the dimension when the spec does not give it).
    ///
    /// - Parameters:
    ///   - spec: The parsed spec.
    ///   - environment: Where the variable `key_env` names is looked up (the process's environment).
    /// - Throws: ``EmbeddingError``, as ``init(spec:environment:)``.
    public init(_ spec: HTTPEmbedderSpec, environment: [String: String] = ProcessInfo.processInfo.environment) throws(EmbeddingError) {
        self.spec = spec
        if let variable = spec.keyEnvironmentVariable {
            guard let value = environment[variable], !value.isEmpty else {
                throw .invalidInput("environment variable \(variable), named by key_env in the embedder spec, is not set")
            }
            key = value
        } else {
            key = nil
        }
        var dimension = spec.dimension ?? 0
        if spec.dimension == nil {
            let client = Client(spec: spec, key: key)
            do {
                let vectors = try runBlocking { try await client.embed(["dimension probe"], dimension: nil) }
                guard let d = vectors.first?.count, d > 0 else { throw EmbeddingError.invalidInput("the service answered with an empty vector") }
                dimension = d
            } catch let e as EmbeddingError {
                throw EmbeddingError(e.code, "probing the dimension of \(spec.model) at \(spec.endpoint): \(e.message)", cause: e.cause)
            } catch {
                throw .transient("probing the dimension of \(spec.model) at \(spec.endpoint) failed", cause: "\(error)")
            }
        }
        self.dimension = dimension
        identifier = "http:url=\(spec.endpoint),model=\(spec.model),dim=\(dimension),normalize=\(spec.normalize)"
    }

    /// Embeds texts in batches of ``HTTPEmbedderSpec/batchSize``, at most ``HTTPEmbedderSpec/concurrency``
    /// requests at once, and returns the vectors in the texts' order.
    ///
    /// - Throws: ``EmbeddingError`` (`transient` after the retries, `invalidInput` for a refused request or a
    ///   wrong dimension); `CancellationError` when the task is cancelled.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let size = spec.batchSize
        let ranges = stride(from: 0, to: texts.count, by: size).map { $0..<min($0 + size, texts.count) }
        let client = Client(spec: spec, key: key)
        let expected = dimension
        var out = [[Float]](repeating: [], count: texts.count)
        try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            var next = 0
            func launch() {
                let i = next, range = ranges[i]
                next += 1
                let batch = Array(texts[range])
                group.addTask { (i, try await client.embed(batch, dimension: expected)) }
            }
            while next < min(spec.concurrency, ranges.count) { launch() }
            while let (i, vectors) = try await group.next() {
                for (offset, v) in vectors.enumerated() { out[ranges[i].lowerBound + offset] = v }
                if next < ranges.count { launch() }
            }
        }
        return out
    }

    // MARK: - Requests

    /// One batch's request, with its retries.
    struct Client: Sendable {
        let spec: HTTPEmbedderSpec
        let key: String?

        /// What one attempt came to.
        enum Attempt {
            case vectors([[Float]])
            case retry(reason: String, retryAfter: Double?)
        }

        func embed(_ texts: [String], dimension: Int?) async throws -> [[Float]] {
            let body: JSONValue = [
                "model": .string(spec.model), "input": .array(texts.map { .string($0) }), "encoding_format": "float",
            ]
            let bytes = ByteBuffer(string: body.jsonText)
            var attempt = 0
            while true {
                attempt += 1
                try Task.checkCancellation()
                let reason: String, retryAfter: Double?
                switch try await once(bytes, count: texts.count, dimension: dimension) {
                case .vectors(let v): return v
                case .retry(let r, let after): (reason, retryAfter) = (r, after)
                }
                guard attempt <= spec.retries else {
                    throw EmbeddingError.transient(
                        "the embedding service at \(spec.endpoint) failed \(attempt) time\(attempt == 1 ? "" : "s") in a row; giving up", cause: reason)
                }
                let cap = 8.0
                let delay = retryAfter.map { min(60, max(0, $0)) } ?? Double.random(in: 0...min(cap, 2 * spec.backoff * pow(2, Double(attempt - 1))))
                try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            }
        }

        /// One request: its vectors, or why to try again; throws for a refusal that retrying will not change.
        private func once(_ bytes: ByteBuffer, count: Int, dimension: Int?) async throws -> Attempt {
            var request = HTTPClientRequest(url: spec.endpoint)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "accept", value: "application/json")
            if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
            request.body = .bytes(bytes)
            let response: HTTPClientResponse
            let answer: ByteBuffer
            do {
                (response, answer) = try await Self.exchange(request, within: spec.timeout)
            } catch {
                // The client reports a cancelled task as its own error: a cancelled call is not retried.
                if error is CancellationError || Task.isCancelled { throw CancellationError() }
                return .retry(reason: "\(error)", retryAfter: nil)
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) {
                do {
                    return .vectors(try Self.vectors(from: answer, count: count, dimension: dimension, normalize: spec.normalize))
                } catch {
                    if error.code == .transient { return .retry(reason: error.message, retryAfter: nil) }  // a malformed answer
                    throw error
                }
            }
            let detail = Self.message(answer).map { ": \($0)" } ?? ""
            if status == 408 || status == 429 || (500..<600).contains(status) {
                return .retry(reason: "HTTP \(status)\(detail)", retryAfter: response.headers.first(name: "retry-after").flatMap(Self.seconds(retryAfter:)))
            }
            throw EmbeddingError.invalidInput("the embedding service at \(spec.endpoint) refused the request (HTTP \(status))\(detail)")
        }

        /// The response and its whole body, or a timeout error after `seconds`: the client's own deadline
        /// stops at the headers, so a body that trickles in is bounded here.
        static func exchange(_ request: HTTPClientRequest, within seconds: Double) async throws -> (HTTPClientResponse, ByteBuffer) {
            let limit = Duration.milliseconds(Int64(seconds * 1000))
            return try await withThrowingTaskGroup(of: Exchange.self) { group in
                group.addTask {
                    let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(seconds * 1000)))
                    return .answered(response, try await response.body.collect(upTo: 256 << 20))
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return .timedOut
                }
                defer { group.cancelAll() }
                guard case .answered(let response, let body)? = try await group.next() else {
                    throw EmbeddingError.transient("no complete answer within \(seconds) s")
                }
                return (response, body)
            }
        }

        enum Exchange: Sendable {
            case answered(HTTPClientResponse, ByteBuffer)
            case timedOut
        }

        /// The vectors of an answer, in the texts' order, checked.
        static func vectors(from body: ByteBuffer, count: Int, dimension: Int?, normalize: Bool) throws(EmbeddingError) -> [[Float]] {
            let root: JSONValue
            do {
                root = try body.withUnsafeReadableBytes { raw throws(JSONParser.Failure) in
                    try JSONParser.parse(bytes: raw.bindMemory(to: UInt8.self))
                }
            } catch {
                throw .transient("the embedding service answered with malformed JSON", cause: "\(error)")
            }
            guard let data = root["data"]?.arrayValue else { throw .transient("the embedding service's answer has no data array") }
            guard data.count == count else {
                throw .transient("the embedding service answered with \(data.count) vectors for \(count) texts")
            }
            var out = [[Float]?](repeating: nil, count: count)
            for (position, item) in data.enumerated() {
                let index: Int
                switch item["index"] {
                case .int(let i)?: index = Int(i)
                case nil: index = position
                default: throw .transient("the embedding service's answer has a non-integer index at position \(position)")
                }
                guard index >= 0, index < count, out[index] == nil else {
                    throw .transient("the embedding service's answer has index \(index) out of range or twice")
                }
                guard let values = item["embedding"]?.arrayValue else {
                    throw .transient("the embedding service's answer has no embedding array for index \(index)")
                }
                if let dimension, values.count != dimension {
                    throw .invalidInput("the embedding service answered with \(values.count)-d vectors; the embedder has \(dimension) dimensions")
                }
                var v = [Float]()
                v.reserveCapacity(values.count)
                for x in values {
                    guard let d = x.numberValue, d.isFinite, abs(d) <= Double(Float.greatestFiniteMagnitude) else {
                        throw .transient("the embedding service's vector for index \(index) holds a value that is not a finite number")
                    }
                    v.append(Float(d))
                }
                if normalize {
                    let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                    if norm > 0 { v = v.map { Float(Double($0) / norm) } }
                }
                out[index] = v
            }
            let vectors = out.map { $0! }
            if dimension == nil, let d = vectors.first?.count, vectors.contains(where: { $0.count != d }) {
                throw .invalidInput("the embedding service answered with vectors of different lengths")
            }
            return vectors
        }

        /// The service's error message: OpenAI's `{"error": {"message"}}`, `{"error": "…"}`, `{"message"}` or the text.
        static func message(_ body: ByteBuffer) -> String? {
            guard let text = body.getString(at: body.readerIndex, length: body.readableBytes), !text.isEmpty else { return nil }
            if let v = try? JSONParser.parse(text) {
                if let m = v["error"]?["message"]?.stringValue ?? v["error"]?.stringValue ?? v["message"]?.stringValue ?? v["detail"]?.stringValue {
                    return String(m.prefix(300))
                }
            }
            return String(text.prefix(300))
        }

        /// `Retry-After` as seconds: a number, or an HTTP date.
        static func seconds(retryAfter value: String) -> Double? {
            if let s = Double(value.trimmingCharacters(in: .whitespaces)), s.isFinite { return s }
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return f.date(from: value).map { $0.timeIntervalSinceNow }
        }
    }
}

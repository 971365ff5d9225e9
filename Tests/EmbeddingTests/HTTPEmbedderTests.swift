import Embedding
import Foundation
import Testing
import _SwitchyardTestSupport

/// The `http:` embedder against a real OpenAI-compatible server process (Tests/EmbeddingTestServer) on
/// loopback, serving `hash-v2` as model `test-model`, with faults switched on per test.
@Suite("HTTP embedder against a real server", .serialized)
struct HTTPEmbedderTests {
    static let server = Result { try EmbeddingServerProcess(arguments: ["--embedder", "hash-v2", "--model", "test-model"]) }
    static let keyed = Result { try EmbeddingServerProcess(arguments: ["--embedder", "hash-v2", "--model", "test-model", "--key", "s3cr3t-test-key"]) }
    static let reference = try! HashingEmbedder(spec: "hash-v2")

    private func spec(_ extra: String = "", server: EmbeddingServerProcess) -> String {
        "http:url=\(server.baseURL),model=test-model,backoff=0.01" + (extra.isEmpty ? "" : "," + extra)
    }

    private func expectSameVectors(_ got: [[Float]], _ texts: [String]) {
        #expect(got.count == texts.count)
        for (v, t) in zip(got, texts) {
            let r = Self.reference.embedOne(t)
            let worst = zip(v, r).map { abs($0 - $1) }.max() ?? 1
            #expect(v.count == r.count && worst <= 1e-6, "\(t): differs by \(worst)")
        }
    }

    @Test("the dimension is probed once; vectors arrive in order across batches and concurrent requests")
    func probeAndOrder() async throws {
        let server = try Self.server.get()
        try server.clearFaults()
        let e = try HTTPEmbedder(spec: spec("batch=16,concurrency=3", server: server))
        #expect(e.dimension == 384)
        #expect(e.identifier == "http:url=\(server.baseURL)/embeddings,model=test-model,dim=384,normalize=true")
        let before = try server.stats().requests
        try server.inject(#"{"shuffle": true, "times": -1}"#)
        defer { try? server.clearFaults() }
        let texts = (0..<150).map { "text number \($0) about vector search" }
        expectSameVectors(try await e.embed(texts), texts)
        #expect(try server.stats().requests - before == 10)  // ⌈150 / 16⌉
        #expect(try await e.embed([]).isEmpty)
    }

    @Test("429 with Retry-After is waited out, 503s are retried, and the call succeeds")
    func retries() async throws {
        let server = try Self.server.get()
        try server.clearFaults()
        let e = try HTTPEmbedder(spec: spec("dim=384", server: server))
        let before = try server.stats().requests
        try server.inject(#"{"status": 429, "retry_after": 1, "times": 1}"#)
        try server.inject(#"{"status": 503, "times": 2}"#)
        let start = ContinuousClock.now
        expectSameVectors(try await e.embed(["alpha", "beta"]), ["alpha", "beta"])
        #expect(ContinuousClock.now - start >= .seconds(1), "Retry-After: 1 was not honoured")
        #expect(try server.stats().requests - before == 4)
    }

    /// A failure the server keeps up, what the embedder makes of it, and how many requests it took.
    struct Failure: Sendable, CustomStringConvertible {
        var fault: String, extra: String, code: EmbeddingError.Code, words: [String], requests: Int
        var description: String { fault }
    }

    @Test("a service that keeps failing is transient after the retries; a 4xx is permanent at once, with the service's message",
          arguments: [
              Failure(fault: #"{"status": 503, "times": -1}"#, extra: "retries=2", code: .transient, words: ["3 times", "HTTP 503"], requests: 3),
              Failure(fault: #"{"status": 400, "message": "input is too long for this model", "times": -1}"#, extra: "retries=2",
                      code: .invalidInput, words: ["HTTP 400", "input is too long for this model"], requests: 1),
          ])
    func failures(_ failure: Failure) async throws {
        let server = try Self.server.get()
        try server.clearFaults()
        let e = try HTTPEmbedder(spec: spec("dim=384," + failure.extra, server: server))
        try server.inject(failure.fault)
        defer { try? server.clearFaults() }
        let before = try server.stats().requests
        if let error = await embeddingError(e, ["x"]) {
            #expect(error.code == failure.code, "\(error)")
            #expect(failure.words.allSatisfy { error.description.contains($0) }, "\(error)")
        }
        #expect(try server.stats().requests - before == failure.requests)
    }

    @Test("an unknown model is the service's 404: permanent, already when probing the dimension")
    func unknownModel() throws {
        let server = try Self.server.get()
        try server.clearFaults()
        do {
            _ = try HTTPEmbedder(spec: "http:url=\(server.baseURL),model=other-model")
            Issue.record("an unknown model was accepted")
        } catch {
            #expect(error.code == .invalidInput && error.description.contains("HTTP 404"), "\(error)")
        }
    }

    @Test("a slow answer times out and is retried; a malformed one is retried; a wrong dimension is refused")
    func validation() async throws {
        let server = try Self.server.get()
        try server.clearFaults()
        let e = try HTTPEmbedder(spec: spec("dim=384,timeout=0.5", server: server))
        try server.inject(#"{"delay_ms": 2000, "times": 1}"#)
        expectSameVectors(try await e.embed(["slow"]), ["slow"])
        try server.inject(#"{"malformed": true, "times": 1}"#)
        expectSameVectors(try await e.embed(["garbled"]), ["garbled"])
        try server.inject(#"{"wrong_dimension": true, "times": 1}"#)
        if let error = await embeddingError(e, ["short"]) {
            #expect(error.code == .invalidInput)
            #expect(error.description.contains("383-d"), "\(error)")
        }
        try server.inject(#"{"malformed": true, "times": -1}"#)
        defer { try? server.clearFaults() }
        let stubborn = try HTTPEmbedder(spec: spec("dim=384,retries=1", server: server))
        if let error = await embeddingError(stubborn, ["x"]) {
            #expect(error.code == .transient && error.description.contains("malformed JSON"), "\(error)")
        }
    }

    @Test("the key comes from the variable key_env names and appears in no identifier or error")
    func key() async throws {
        let server = try Self.keyed.get()
        let variable = "EMBEDDING_SERVICE_KEY"
        let spec = "http:url=\(server.baseURL),model=test-model,dim=384,key_env=\(variable)"
        do {
            _ = try HTTPEmbedder(spec: spec, environment: [:])
            Issue.record("an unset variable was accepted")
        } catch {
            #expect(error.code == .invalidInput && error.description.contains(variable), "\(error)")
        }
        let wrong = try HTTPEmbedder(spec: spec, environment: [variable: "wrong-key"])
        if let error = await embeddingError(wrong, ["x"]) {
            #expect(error.code == .invalidInput && error.description.contains("HTTP 401"), "\(error)")
            #expect(!error.description.contains("wrong-key"))
        }
        let before = try server.stats().authorized
        let e = try HTTPEmbedder(spec: "http:url=\(server.baseURL),model=test-model,key_env=\(variable)",
                                 environment: [variable: "s3cr3t-test-key"])
        expectSameVectors(try await e.embed(["keyed"]), ["keyed"])
        #expect(try server.stats().authorized - before == 2)  // the probe and the call
        #expect(!e.identifier.contains("s3cr3t") && !e.identifier.contains(variable))
    }

    @Test("a closed port is a transient error after the retries")
    func unreachable() throws {
        let port = EmbeddingServerProcess.closedPort()
        do {
            _ = try HTTPEmbedder(spec: "http:url=http://127.0.0.1:\(port)/v1,model=m,retries=1,backoff=0.01,timeout=0.5")
            Issue.record("no error")
        } catch {
            #expect(error.code == .transient, "\(error)")
            #expect(error.description.contains("127.0.0.1:\(port)"), "\(error)")
        }
    }

    @Test("a body that trickles in past the timeout is cut off: the timeout covers the whole answer")
    func slowBody() async throws {
        let server = try Self.server.get()
        try server.clearFaults()
        try server.inject(#"{"trickle_ms": 1500, "times": 1}"#)
        defer { try? server.clearFaults() }
        let e = try HTTPEmbedder(spec: spec("dim=384,timeout=0.5,retries=0", server: server))
        if let error = await embeddingError(e, ["x"]) {
            #expect(error.code == .transient && error.description.contains("within 0.5 s"), "\(error)")
        }
    }
}

/// The error embedding `texts` throws, or `nil` (recorded as an issue) when it succeeds.
private func embeddingError(_ e: HTTPEmbedder, _ texts: [String]) async -> EmbeddingError? {
    do {
        _ = try await e.embed(texts)
        Issue.record("embedding \(texts) succeeded")
    } catch let error as EmbeddingError {
        return error
    } catch {
        Issue.record("not an EmbeddingError: \(error)")
    }
    return nil
}

@Suite("HTTP embedder specs")
struct HTTPEmbedderSpecTests {
    @Test("the spec's keys and defaults")
    func parse() throws {
        let s = try HTTPEmbedderSpec(parsing: "http:url=https://api.example.com/v1/,model=text-embedding-3-small,dim=1536,batch=100,timeout=10,key_env=OPENAI_API_KEY,normalize=false,concurrency=2,retries=3")
        #expect(s.endpoint == "https://api.example.com/v1/embeddings")
        #expect(s.model == "text-embedding-3-small" && s.dimension == 1536 && s.batchSize == 100 && s.timeout == 10)
        #expect(s.keyEnvironmentVariable == "OPENAI_API_KEY" && !s.normalize && s.concurrency == 2 && s.retries == 3)
        let d = try HTTPEmbedderSpec(parsing: "http:url=http://127.0.0.1:11434/v1/embeddings,model=nomic-embed-text")
        #expect(d.endpoint == "http://127.0.0.1:11434/v1/embeddings")
        #expect(d.dimension == nil && d.batchSize == 64 && d.timeout == 30 && d.normalize && d.concurrency == 4 && d.retries == 5)
    }

    @Test("bad specs are invalidSpec errors naming the problem", arguments: [
        ("http:model=m", "url"), ("http:url=http://h/v1", "model"), ("http:url=ftp://h/v1,model=m", "url"),
        ("http:url=http://h/v1?x=1,model=m", "url"), ("http:url=http://h/v1,model=m,key=sk-123", "key_env"),
        ("http:url=http://h/v1,model=m,api_key=sk-123", "key_env"), ("http:url=http://h/v1,model=m,dim=0", "dim"),
        ("http:url=http://h/v1,model=m,batch=x", "batch"), ("http:url=http://h/v1,model=m,normalize=yes", "normalize"),
        ("http:url=http://h/v1,model=m,colour=red", "colour"), ("http:url=http://h/v1,model=m,model=n", "twice"),
        ("http:url=http://h/v1,model=m,key_env=A-B", "key_env"), ("http:url=http://h/v1,model=m,timeout=0", "timeout"),
        ("http:url=http://h/v1,model=m,TOKEN=sk-123", "key_env"), ("http:url=http://h/v1,model=m,authorization=sk-123", "key_env"),
        ("http:url=https://u:sk-123@h/v1,model=m", "url"), ("http:url=http://h/v1?api=sk-123,model=m", "url"),
        ("http:url=http://h/v1,model=m,sk-123", "key=value"), ("http:url=http://h/v1,model=m,dim=sk-123", "dim"),
    ])
    func bad(spec: String, word: String) {
        let error = expectInvalidSpec(spec, naming: word)
        #expect(error?.description.contains("sk-123") == false, "the key is quoted: \(String(describing: error))")
    }
}

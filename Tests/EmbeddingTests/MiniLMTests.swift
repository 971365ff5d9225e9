import Embedding
import Foundation
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

/// The in-process MiniLM embedder against reference token ids and vectors made with the official
/// `tokenizers` package and sentence-transformers on PyTorch (Fixtures/minilm/make_reference.py).
///
/// The model is installed with `switchyard models install minilm` (CI does). Without it these tests
/// are skipped, unless `SWITCHYARD_REQUIRE_MODELS=1`, when they fail.
@Suite("MiniLM against the reference", .enabled(if: ModelRequirement.minilm))
struct MiniLMTests {
    @Test("token ids equal the reference tokenizer's on every text")
    func tokenIDs() throws {
        let fixture = try MiniLMFixture.load()
        let e = try MiniLMFixture.embedder()
        #expect(fixture.texts.count >= 200)
        var mismatches = 0
        for (text, expected) in zip(fixture.texts, fixture.ids) {
            let ids = e.tokenIDs([text])[0]
            if ids != expected {
                mismatches += 1
                Issue.record("ids differ for \(text.debugDescription.prefix(120)): got \(ids.prefix(40)), expected \(expected.prefix(40))")
            }
        }
        #expect(mismatches == 0)
    }

    @Test("every vector has cosine ≥ 0.9999 with the reference", arguments: [1, 2])
    func vectors(threads: Int) throws {
        let fixture = try MiniLMFixture.load()
        let e = try MiniLMFixture.embedder(threads: threads)
        #expect(fixture.vectors.count >= 100)
        let texts = fixture.vectors.map(\.text)
        let got = e.embedSynchronously(texts)
        var worst = 1.0
        for ((text, expected), v) in zip(fixture.vectors, got) {
            #expect(v.count == 384)
            let cosine = zip(v, expected).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                / (norm(v) * norm(expected))
            worst = min(worst, cosine)
            #expect(cosine >= 0.9999, "cosine \(cosine) for \(text.debugDescription.prefix(120))")
        }
        #expect(worst >= 0.9999)
    }

    @Test("batching and batch composition change no component by more than 1e-5")
    func batchingInvariance() throws {
        let fixture = try MiniLMFixture.load()
        let texts = fixture.texts
        let alone = try MiniLMFixture.embedder(threads: 1)
        for (threads, tokens) in [(1, 64), (2, 512), (2, 4096)] {
            let e = try SentenceEmbedder(spec: "minilm:batch_tokens=\(tokens)", threads: threads)
            // The same kernels for both sides (another test may switch the level).
            let (single, batched) = KernelLevelLock.withStableKernel {
                (texts.map { alone.embedSynchronously([$0])[0] }, e.embedSynchronously(texts.reversed()))
            }
            var worst: Float = 0
            for (a, b) in zip(single, batched.reversed()) {
                for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
            }
            #expect(worst <= 1e-5, "threads \(threads), \(tokens) tokens per batch: a component moved by \(worst)")
        }
    }

    @Test("async embed equals the synchronous path; the identifier names the model and its weights")
    func asyncAndIdentifier() async throws {
        let e = try MiniLMFixture.embedder()
        let texts = ["vector search", "Blue-green reindexing switches an alias atomically."]
        let a = try await e.embed(texts)
        let b = e.embedSynchronously(texts)
        // Equal up to the kernels' rounding: another test may switch the process-wide kernel level between
        // the two calls (the levels agree within about 3e-7 per operation), and an await cannot hold
        // `KernelLevelLock`. Different texts, or the same texts in another order, differ by far more.
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 }, "async and synchronous embeddings differ")
        }
        #expect(e.identifier.hasPrefix("minilm:model=all-MiniLM-L6-v2,weights=sha256:"))
        #expect(e.identifier.hasSuffix(",max_seq=256,pool=mean,norm=l2"))
        let viaFactory = try Embedders.make(spec: "minilm", threads: 2)
        #expect(viaFactory.identifier == e.identifier)
        #expect(viaFactory.dimension == 384)
        #expect(e.embedSynchronously([""])[0].count == 384)
        #expect(e.embedSynchronously([]).isEmpty)
    }

    private func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
}

@Suite("MiniLM specs")
struct MiniLMSpecTests {
    @Test("bad minilm specs are invalidSpec errors that name the key", arguments: [
        ("minilm:dim=3", "dim"), ("minilm:threads=0", "threads"), ("minilm:threads=x", "threads"),
        ("minilm:batch_tokens=1", "batch_tokens"), ("minilm:path", "path"), ("minilm:threads=1,threads=2", "twice"),
        ("minilmx", "minilmx"),
    ])
    func badSpecs(spec: String, word: String) {
        expectInvalidSpec(spec, naming: word)
    }

    @Test("a directory without a model is an invalid-input error naming it")
    func missingDirectory() {
        do {
            _ = try Embedders.make(spec: "minilm:path=/nonexistent/model-dir")
            Issue.record("accepted a missing directory")
        } catch {
            #expect(error.code == .invalidInput)
            #expect(error.description.contains("/nonexistent/model-dir"), "\(error)")
        }
    }
}

/// Fixtures/minilm/reference.json, read once.
enum MiniLMFixture {
    struct Reference: Sendable {
        var texts: [String]
        var ids: [[Int32]]
        var vectors: [(text: String, vector: [Float])]
    }

    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/minilm/reference.json").path

    static func embedder(threads: Int = 1) throws -> SentenceEmbedder {
        try SentenceEmbedder(spec: "minilm", threads: threads)
    }

    static func load() throws -> Reference {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root = try JSONParser.parse(text)
        guard let rows = root["texts"]?.arrayValue else { throw CocoaError(.fileReadCorruptFile) }
        var r = Reference(texts: [], ids: [], vectors: [])
        for row in rows {
            guard let t = row["text"]?.stringValue, let ids = row["ids"]?.arrayValue else { throw CocoaError(.fileReadCorruptFile) }
            r.texts.append(t)
            r.ids.append(ids.compactMap { $0.numberValue.map { Int32($0) } })
            if let v = row["vector"]?.arrayValue { r.vectors.append((t, v.compactMap { $0.numberValue.map { Float($0) } })) }
        }
        return r
    }
}

/// Expects `Embedders.make(spec:)` to refuse `spec` as `invalidSpec` with a message naming `word`; returns the error.
@discardableResult
func expectInvalidSpec(_ spec: String, naming word: String) -> EmbeddingError? {
    do {
        _ = try Embedders.make(spec: spec)
        Issue.record("\(spec) was accepted")
        return nil
    } catch {
        #expect(error.code == .invalidSpec, "\(spec): \(error)")
        #expect(error.description.contains(word), "\(error)")
        return error
    }
}

import Embedding
import Testing
import VectorMath

@Suite("Hashing spec")
struct SpecTests {
    // MARK: - Parsing

    @Test("defaults: a bare scheme is words=1 into 256 buckets")
    func defaults() throws {
        for text in ["hash", "hash:", "  hash:  "] {
            let spec = try HashingSpec(parsing: text)
            #expect(spec.dimension == 256)
            #expect(spec.wordNGrams == 1...1)
            #expect(spec.charNGrams == nil)
            #expect(spec.seed == 0)
            #expect(spec.termFrequency == .log)
            #expect(spec.idfPath == nil)
            #expect(spec.normalization == .l2)
        }
    }

    @Test("every key is parsed")
    func everyKey() throws {
        let spec = try HashingSpec(
            parsing: "hash:dim=384,words=1-2,chars=3-5,seed=42,tf=raw,idf=/tmp/t.idf,norm=none,v=1")
        #expect(spec.dimension == 384)
        #expect(spec.wordNGrams == 1...2)
        #expect(spec.charNGrams == 3...5)
        #expect(spec.seed == 42)
        #expect(spec.termFrequency == .raw)
        #expect(spec.idfPath == "/tmp/t.idf")
        #expect(spec.normalization == .none)
    }

    @Test("whitespace around keys and values is ignored; order does not matter")
    func whitespaceAndOrder() throws {
        let a = try HashingSpec(parsing: " hash: chars = 3-5 , dim=384 ,words=1 ")
        let b = try HashingSpec(parsing: "hash:dim=384,words=1,chars=3-5")
        #expect(a == b)
    }

    @Test("single lengths, zero to disable, and the bounds", arguments: [
        ("hash:words=2", 2...2, nil),
        ("hash:words=3", 3...3, nil),
        ("hash:words=1-3", 1...3, nil),
        ("hash:words=0,chars=4", nil, 4...4),
        ("hash:chars=1-8", 1...1, 1...8),
        ("hash:chars=0", 1...1, nil),
    ] as [(String, ClosedRange<Int>?, ClosedRange<Int>?)])
    func lengths(text: String, words: ClosedRange<Int>?, chars: ClosedRange<Int>?) throws {
        let spec = try HashingSpec(parsing: text)
        #expect(spec.wordNGrams == words)
        #expect(spec.charNGrams == chars)
    }

    @Test("dimension and seed bounds are accepted")
    func bounds() throws {
        #expect(try HashingSpec(parsing: "hash:dim=1").dimension == 1)
        #expect(try HashingSpec(parsing: "hash:dim=65536").dimension == 65536)
        #expect(try HashingSpec(parsing: "hash:seed=4294967295").seed == UInt32.max)
        #expect(try HashingSpec(parsing: "hash:dim=0384").dimension == 384)
    }

    @Test("idf=none means no IDF table")
    func idfNone() throws {
        #expect(try HashingSpec(parsing: "hash:idf=none").idfPath == nil)
        #expect(try HashingSpec(parsing: "hash:idf=./none").idfPath == "./none")
    }

    // MARK: - Errors

    @Test("errors name the spec, the key or value, and what is expected", arguments: [
        ("hash:dims=3", "unknown key 'dims' in embedder spec 'hash:dims=3' (known: chars, dim, idf, norm, seed, tf, v, words)"),
        ("hash:dim=0", "invalid value '0' for 'dim' in embedder spec 'hash:dim=0': expected an integer from 1 to 65536"),
        ("hash:dim=65537", "invalid value '65537' for 'dim' in embedder spec 'hash:dim=65537': expected an integer from 1 to 65536"),
        ("hash:dim=abc", "invalid value 'abc' for 'dim' in embedder spec 'hash:dim=abc': expected an integer from 1 to 65536"),
        ("hash:dim=-3", "invalid value '-3' for 'dim' in embedder spec 'hash:dim=-3': expected an integer from 1 to 65536"),
        ("hash:dim=+3", "invalid value '+3' for 'dim' in embedder spec 'hash:dim=+3': expected an integer from 1 to 65536"),
        ("hash:dim=", "invalid value '' for 'dim' in embedder spec 'hash:dim=': expected an integer from 1 to 65536"),
        ("hash:words=4", "invalid value '4' for 'words' in embedder spec 'hash:words=4': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 3"),
        ("hash:words=2-1", "invalid value '2-1' for 'words' in embedder spec 'hash:words=2-1': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 3"),
        ("hash:words=0-2", "invalid value '0-2' for 'words' in embedder spec 'hash:words=0-2': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 3"),
        ("hash:words=1-", "invalid value '1-' for 'words' in embedder spec 'hash:words=1-': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 3"),
        ("hash:chars=3-9", "invalid value '3-9' for 'chars' in embedder spec 'hash:chars=3-9': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 8"),
        ("hash:chars=1-2-3", "invalid value '1-2-3' for 'chars' in embedder spec 'hash:chars=1-2-3': expected 0 (off), n or n-m with 1 ≤ n ≤ m ≤ 8"),
        ("hash:seed=4294967296", "invalid value '4294967296' for 'seed' in embedder spec 'hash:seed=4294967296': expected an integer from 0 to 4294967295"),
        ("hash:seed=x", "invalid value 'x' for 'seed' in embedder spec 'hash:seed=x': expected an integer from 0 to 4294967295"),
        ("hash:tf=sqrt", "invalid value 'sqrt' for 'tf' in embedder spec 'hash:tf=sqrt': expected 'log' or 'raw'"),
        ("hash:norm=l1", "invalid value 'l1' for 'norm' in embedder spec 'hash:norm=l1': expected 'l2' or 'none'"),
        ("hash:idf=", "invalid value '' for 'idf' in embedder spec 'hash:idf=': expected the path of an IDF table file, or 'none'"),
        ("hash:v=x", "invalid value 'x' for 'v' in embedder spec 'hash:v=x': expected the algorithm version 1"),
        ("hash:v=2", "embedder spec 'hash:v=2' asks for hashing algorithm v=2, but this build implements v=1"),
        ("hash:words=0", "embedder spec 'hash:words=0' has no features: words=0 and chars=0"),
        ("hash:dim=3,dim=4", "key 'dim' is given twice in embedder spec 'hash:dim=3,dim=4'"),
        ("hash:dim", "parameter 'dim' in embedder spec 'hash:dim' has no value (expected key=value)"),
        ("hash:dim=3,,words=1", "empty parameter in embedder spec 'hash:dim=3,,words=1' (parameters are key=value, separated by commas)"),
        ("hash:dim=3,", "empty parameter in embedder spec 'hash:dim=3,' (parameters are key=value, separated by commas)"),
        ("hash-v3", "unknown embedder 'hash-v3' in embedder spec 'hash-v3' (known: hash-v1, hash-v2, hash:key=value,…)"),
        ("HASH:dim=3", "unknown embedder 'HASH' in embedder spec 'HASH:dim=3' (known: hash-v1, hash-v2, hash:key=value,…)"),
        ("hash-v1:dim=3", "unknown embedder 'hash-v1' in embedder spec 'hash-v1:dim=3' (known: hash-v1, hash-v2, hash:key=value,…)"),
    ])
    func rejects(text: String, message: String) {
        #expect(throws: EmbeddingError(.invalidSpec, message)) {
            try HashingSpec(parsing: text)
        }
    }

    @Test("the memberwise initialiser checks its parameters")
    func memberwiseChecks() {
        #expect(throws: EmbeddingError.self) { try HashingSpec(dimension: 0) }
        #expect(throws: EmbeddingError.self) { try HashingSpec(wordNGrams: 1...4) }
        #expect(throws: EmbeddingError.self) { try HashingSpec(charNGrams: 0...3) }
        #expect(throws: EmbeddingError.self) { try HashingSpec(wordNGrams: nil, charNGrams: nil) }
        #expect(throws: EmbeddingError.self) { try HashingSpec(idfPath: "a,b") }
        #expect(throws: EmbeddingError.self) { try HashingSpec(idfPath: "none") }
    }

    // MARK: - Canonical form and presets

    @Test("canonical: v first, then every key in alphabetical order", arguments: [
        ("hash", "hash:v=1,chars=0,dim=256,idf=none,norm=l2,seed=0,tf=log,words=1"),
        ("hash-v1", "hash:v=1,chars=0,dim=256,idf=none,norm=l2,seed=0,tf=log,words=1"),
        ("hash-v2", "hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1"),
        ("hash:dim=384,words=1-2,chars=3-5", "hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1-2"),
        ("hash:chars=4-4,words=0,seed=9,tf=raw,norm=none,idf=t.idf,dim=64",
         "hash:v=1,chars=4,dim=64,idf=t.idf,norm=none,seed=9,tf=raw,words=0"),
    ])
    func canonical(text: String, expected: String) throws {
        let spec = try HashingSpec(parsing: text)
        #expect(spec.canonical == expected)
        #expect(spec.description == expected)
        #expect(try HashingSpec(parsing: spec.canonical) == spec, "the canonical form parses back")
    }

    @Test("feature key leaves out what does not move features between buckets")
    func featureKey() throws {
        let a = try HashingSpec(parsing: "hash:dim=384,chars=3-5,tf=raw,norm=none,idf=x")
        #expect(a.featureKey == "hash:v=1,chars=3-5,dim=384,seed=0,words=1")
        #expect(a.featureKey == HashingSpec.v2.featureKey)
    }

    @Test("presets")
    func presets() throws {
        #expect(Embedders.presets == ["hash-v1": "hash:dim=256,words=1", "hash-v2": "hash:dim=384,words=1,chars=3-5"])
        #expect(HashingSpec.v1 == (try HashingSpec(parsing: "hash:dim=256,words=1")))
        #expect(HashingSpec.v2 == (try HashingSpec(parsing: "hash:dim=384,words=1,chars=3-5")))
        #expect(HashingSpec.v1 != HashingSpec.v2)
    }

    // MARK: - Factory

    @Test("Embedders.make accepts presets and hash specs", arguments: [
        ("hash-v1", "hash:v=1,chars=0,dim=256,idf=none,norm=l2,seed=0,tf=log,words=1", 256),
        ("hash-v2", "hash:v=1,chars=3-5,dim=384,idf=none,norm=l2,seed=0,tf=log,words=1", 384),
        (" hash:dim=64,words=1-2 ", "hash:v=1,chars=0,dim=64,idf=none,norm=l2,seed=0,tf=log,words=1-2", 64),
    ])
    func make(text: String, identifier: String, dimension: Int) throws {
        let embedder = try Embedders.make(spec: text)
        #expect(embedder.identifier == identifier)
        #expect(embedder.dimension == dimension)
        #expect(embedder.preferredDistance == .cosine)
        #expect(embedder is HashingEmbedder)
    }

    @Test("Embedders.make rejects unknown schemes and passes parameter errors through")
    func makeRejects() {
        #expect(throws: EmbeddingError(.invalidSpec,
            "unknown embedder 'openai' in embedder spec 'openai:text-embedding-3-small' (known: hash-v1, hash-v2, hash:key=value,…, minilm, minilm:path=DIR, http:url=URL,model=NAME,…)")) {
            try Embedders.make(spec: "openai:text-embedding-3-small")
        }
        #expect(throws: EmbeddingError(.invalidSpec,
            "unknown embedder '' in embedder spec '' (known: hash-v1, hash-v2, hash:key=value,…, minilm, minilm:path=DIR, http:url=URL,model=NAME,…)")) {
            try Embedders.make(spec: "")
        }
        #expect(throws: EmbeddingError(.invalidSpec,
            "unknown key 'dims' in embedder spec 'hash:dims=3' (known: chars, dim, idf, norm, seed, tf, v, words)")) {
            try Embedders.make(spec: "hash:dims=3")
        }
    }

    @Test("EmbeddingError describes itself with its cause")
    func errorDescription() {
        #expect(EmbeddingError(.io, "cannot read 'x'").description == "cannot read 'x'")
        #expect(EmbeddingError.io("cannot read 'x'", cause: "No such file").description == "cannot read 'x' (No such file)")
        #expect(EmbeddingError.transient("busy").isTransient)
        #expect(!EmbeddingError.invalidSpec("bad").isTransient)
        #expect(EmbeddingError.invalidInput("bad").code == .invalidInput)
    }
}

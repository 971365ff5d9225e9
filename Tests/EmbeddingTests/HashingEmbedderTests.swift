import Foundation
import Testing
import VectorMath
import Embedding
import _SwitchyardTestSupport

@Suite("Hashing embedder")
struct HashingEmbedderTests {
    static let sentence = "The quick brown fox jumps over the lazy dog; the dog sleeps."

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    static func norm(_ v: [Float]) -> Double { dot(v, v).squareRoot() }

    // MARK: - Normalisation

    @Test("normalisation folds diacritics and case and splits on non-word characters", arguments: [
        ("Café Ñandú", ["cafe", "nandu"]),
        ("CAFÉ", ["cafe"]),
        ("cafe\u{301}", ["cafe"]),  // decomposed é
        ("ÀÉÎÕÜ Çà ØÅÆ", ["aeiou", "ca", "øaæ"]),  // Ø and Æ have no decomposition
        ("Ǆemal ﬁne Ａｂｃ ²", ["dzemal", "fine", "abc", "2"]),  // compatibility forms
        ("İstanbul Ёлка ΣΊΣΥΦΟΣ", ["istanbul", "елка", "σισυφοσ"]),
        ("don't stop-me_now, 42nd!", ["don", "t", "stop", "me", "now", "42nd"]),
        ("co\u{AD}operate", ["cooperate"]),  // soft hyphen is dropped, not a break
        ("東京タワー 서울", ["東京タワー", "서울"]),
        ("½", ["1", "2"]),
        ("", []),
        ("  ...  --- !!! ", []),
    ])
    func normalises(text: String, expected: [String]) {
        #expect(HashingEmbedder.normalizedWords(in: text) == expected)
    }

    /// A text whose first accented letter, in the middle of a word, makes the word buffers grow: the
    /// open word's start must survive the move (it used to be left uninitialised, so the word was
    /// read from a garbage offset). The lengths straddle the first growth of the 4,096-byte buffer.
    @Test("a word open while the buffers grow keeps its start", arguments: 1015...1025)
    func wordOpenAcrossGrowth(repeats: Int) {
        let text = "abé" + String(repeating: " b", count: repeats)
        let words = HashingEmbedder.normalizedWords(in: text)
        #expect(words.first == "abe")
        #expect(words.count == repeats + 1)
        #expect(words.dropFirst().allSatisfy { $0 == "b" })
    }

    @Test("case and diacritics do not change the vector")
    func foldingGivesEqualVectors() throws {
        for spec in ["hash-v1", "hash-v2", "hash:dim=64,words=1-2,chars=2-4"] {
            let e = try HashingEmbedder(spec: spec)
            #expect(e.embedOne("Café Ñandú") == e.embedOne("cafe nandu"))
            #expect(e.embedOne("Crème BRÛLÉE!") == e.embedOne("creme brulee"))
        }
    }

    // MARK: - Vectors

    @Test("vectors have the spec's dimension and unit length", arguments: [
        "hash-v1", "hash-v2", "hash:dim=7,words=1-3,chars=1-8", "hash:dim=65536,words=0,chars=3", "hash:tf=raw,seed=3",
    ])
    func unitLength(spec: String) throws {
        let e = try HashingEmbedder(spec: spec)
        for text in [Self.sentence, "a", "Ünïcödé ㄱㄴㄷ 東京 x", String(repeating: "word ", count: 1000)] {
            let v = e.embedOne(text)
            #expect(v.count == e.dimension)
            #expect(abs(Self.norm(v) - 1) < 1e-5)
        }
    }

    @Test("text without letters or digits gives the zero vector, not NaN", arguments: ["hash-v1", "hash-v2"])
    func zeroVector(spec: String) async throws {
        let e = try HashingEmbedder(spec: spec)
        for text in ["", "   ", "!!! --- ???", "_", "\u{301}\u{301}", "…"] {
            let v = e.embedOne(text)
            #expect(v == [Float](repeating: 0, count: e.dimension))
        }
        let batch = try await e.embed(["", "a"])
        #expect(batch[0].allSatisfy { $0 == 0 })
        #expect(abs(Self.norm(batch[1]) - 1) < 1e-5)
    }

    @Test("the same input gives bit-identical vectors across instances, calls and batches")
    func determinism() async throws {
        let texts = [Self.sentence, "Café Ñandú", "", "running runner runs", String(repeating: "ab ", count: 5000)]
        for spec in ["hash-v1", "hash-v2", "hash:dim=100,words=1-3,chars=2-6,seed=77"] {
            let a = try HashingEmbedder(spec: spec)
            let b = try HashingEmbedder(spec: spec)
            let single = texts.map(a.embedOne)
            #expect(texts.map(b.embedOne) == single)
            // Async batches equal embedOne, whatever came before in the batch (buffers are reused).
            #expect(try await a.embed(texts) == single)
            #expect(try await a.embed(texts.reversed()) == single.reversed())
            #expect(try await a.embed([]) == [])
        }
    }

    // Pinned outputs: the first six non-zero components of `sentence` under each preset, computed once
    // from this implementation (and matching, within 1e-7, the independent Python stand-in in
    // Datasets/wordnet-defs/build.py). If this test fails, the algorithm changed: bump
    // HashingSpec.algorithmVersion (v=) instead of editing these numbers.
    @Test("pinned components catch accidental algorithm changes")
    func pinnedComponents() throws {
        let expected: [(spec: String, nonZero: Int, components: [(Int, Float)])] = [
            ("hash-v1", 9, [(48, -0.26471221), (73, 0.26471221), (87, -0.55552834), (91, -0.26471221),
                            (92, 0.26471221), (110, -0.44819677)]),
            ("hash-v2", 82, [(3, -0.18640158), (7, 0.08882135), (9, -0.08882135), (10, 0.08882135),
                             (15, 0.08882135), (18, -0.08882135)]),
        ]
        for (spec, nonZero, components) in expected {
            let v = try HashingEmbedder(spec: spec).embedOne(Self.sentence)
            let found = v.enumerated().filter { $0.element != 0 }
            #expect(found.count == nonZero, "\(spec)")
            for (i, (index, value)) in components.enumerated() {
                #expect(found[i].offset == index, "\(spec) component \(i)")
                #expect(found[i].element == value, "\(spec) component \(i): \(found[i].element)")
            }
        }
    }

    // MARK: - Reference implementation

    /// A straightforward implementation of docs/embedders.md over strings and dictionaries: feature
    /// strings in emission order, counted in first-occurrence order, hashed with FNV-1a over their
    /// UTF-8, summed in Double. The embedder must give bit-identical vectors.
    static func reference(_ text: String, _ spec: HashingSpec, idf: [Float] = []) -> [Float] {
        let words = HashingEmbedder.normalizedWords(in: text)
        var features: [String] = []
        if let lengths = spec.wordNGrams {
            for i in words.indices {
                for n in lengths where i + n <= words.count {
                    features.append("w:" + words[i..<(i + n)].joined(separator: " "))
                }
            }
        }
        if let lengths = spec.charNGrams {
            for word in words {
                let marked = Array(("<" + word + ">").unicodeScalars)
                for start in marked.indices {
                    for n in lengths where start + n <= marked.count {
                        var gram = "c:"
                        gram.unicodeScalars.append(contentsOf: marked[start..<(start + n)])
                        features.append(gram)
                    }
                }
            }
        }
        var order: [String] = []
        var counts: [String: Int] = [:]
        for f in features {
            if counts[f] == nil { order.append(f) }
            counts[f, default: 0] += 1
        }
        var sums = [Double](repeating: 0, count: spec.dimension)
        for f in order {
            let h = FNV1a.feed(FNV1a.basis(seed: spec.seed), f)
            let c = Double(counts[f]!)
            let w = spec.termFrequency == .log ? 1 + log(c) : c
            let b = Int(h % UInt64(spec.dimension))
            if h >> 63 == 1 { sums[b] -= w } else { sums[b] += w }
        }
        if !idf.isEmpty { for b in sums.indices { sums[b] *= Double(idf[b]) } }
        var scale = 1.0
        if spec.normalization == .l2 {
            scale = sums.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if scale == 0 { return sums.map { _ in 0 } }
        }
        return sums.map { Float($0 / scale) }
    }

    static func randomText(_ rng: inout SplitMix64, words: Int) -> String {
        let pieces = ["the", "The", "running", "runner", "café", "ÉTÉ", "naïve", "σοφία", "東京", "x", "42", "a1b2",
                      "don't", "co-op", "ﬁne", "Ǆ", "ab", "abcdefghijklmnop", "ß", "İ", "🙂", "e\u{301}", "n\u{303}o"]
        var out = ""
        for i in 0..<words {
            if rng.nextInt(below: 5) == 0 {
                out += "w\(rng.nextInt(below: 100_000))"  // many distinct words: the count table grows
            } else {
                out += pieces[rng.nextInt(below: pieces.count)]
            }
            out += i % 11 == 10 ? ". " : [" ", "  ", ", ", "\n", "/"][rng.nextInt(below: 5)]
        }
        return out
    }

    @Test("equals a straightforward reference implementation on random texts", arguments: [
        "hash-v1", "hash-v2", "hash:dim=384,words=1-2,chars=3-5", "hash:dim=1,words=1-3,chars=1-8",
        "hash:dim=65536,words=2-3,chars=0,seed=4294967295", "hash:dim=1000,words=0,chars=2-4,tf=raw,norm=none",
        "hash:dim=97,words=1,chars=5-8,seed=12",
    ])
    func matchesReference(spec: String) async throws {
        let parsed = try HashingSpec(parsing: spec)
        let embedder = try HashingEmbedder(parsed)
        var rng = SplitMix64(seed: 2024)
        let texts = (0..<40).map { i in Self.randomText(&rng, words: [0, 1, 3, 20, 200, 3000][i % 6]) }
        let batch = try await embedder.embed(texts)
        for (i, text) in texts.enumerated() {
            let expected = Self.reference(text, parsed)
            #expect(batch[i] == expected, "text \(i)")
            #expect(embedder.embedOne(text) == expected, "text \(i)")
        }
        // With IDF weights too.
        let table = HashingEmbedder.fitIDF(corpus: texts, spec: parsed)
        let weighted = try HashingEmbedder(parsed, idf: table)
        for text in texts.prefix(12) {
            #expect(weighted.embedOne(text) == Self.reference(text, parsed, idf: table.weights))
        }
    }

    @Test("bucket reduction equals h % dim for every dimension class", arguments: [
        1, 2, 3, 7, 255, 256, 257, 384, 1000, 4095, 32768, 65521, 65535, 65536,
    ])
    func bucketReducer(dimension: Int) {
        let reducer = BucketReducer(divisor: dimension)
        var rng = SplitMix64(seed: UInt64(dimension))
        var samples: [UInt64] = [0, 1, UInt64.max, UInt64.max - 1, 1 << 32, (1 << 32) - 1, UInt64(dimension) - 1,
                                 UInt64(dimension), UInt64(dimension) << 32, 0x8000_0000_0000_0000]
        for _ in 0..<20_000 { samples.append(rng.next()) }
        let wrong = samples.filter { reducer.reduce($0) != Int($0 % UInt64(dimension)) }
        #expect(wrong.isEmpty, "first wrong h: \(wrong.first ?? 0)")
    }

    @Test("FNV-1a matches the published test vectors")
    func fnvVectors() {
        #expect(FNV1a.feed(FNV1a.offsetBasis, "") == 0xCBF2_9CE4_8422_2325)
        #expect(FNV1a.feed(FNV1a.offsetBasis, "a") == 0xAF63_DC4C_8601_EC8C)
        #expect(FNV1a.feed(FNV1a.offsetBasis, "foobar") == 0x8594_4171_F739_67E8)
        #expect(FNV1a.basis(seed: 0) == FNV1a.offsetBasis)
        #expect(FNV1a.basis(seed: 1) != FNV1a.offsetBasis)
    }

    @Test("different seeds give unrelated vectors")
    func seeds() throws {
        let a = try HashingEmbedder(spec: "hash:dim=384,chars=3-5,seed=0").embedOne(Self.sentence)
        let b = try HashingEmbedder(spec: "hash:dim=384,chars=3-5,seed=1").embedOne(Self.sentence)
        let c = try HashingEmbedder(spec: "hash:dim=384,chars=3-5,seed=1").embedOne(Self.sentence)
        #expect(a != b)
        #expect(b == c)
        #expect(abs(Self.dot(a, b)) < 0.5)
    }

    @Test("character n-grams make 'running' and 'runner' closer under hash-v2 than hash-v1")
    func charNGramsHelpMorphology() throws {
        let v1 = try HashingEmbedder(spec: "hash-v1"), v2 = try HashingEmbedder(spec: "hash-v2")
        let s1 = Self.dot(v1.embedOne("running"), v1.embedOne("runner"))
        let s2 = Self.dot(v2.embedOne("running"), v2.embedOne("runner"))
        #expect(s2 > s1 + 0.2, "v1 \(s1), v2 \(s2)")
        #expect(s2 > 0.2)
    }

    @Test("word bigrams see word order; unigrams do not")
    func wordBigrams() throws {
        let uni = try HashingEmbedder(spec: "hash:dim=4096,words=1")
        let bi = try HashingEmbedder(spec: "hash:dim=4096,words=1-2")
        let onlyBi = try HashingEmbedder(spec: "hash:dim=4096,words=2")
        #expect(uni.embedOne("new york") == uni.embedOne("york new"))
        #expect(bi.embedOne("new york") != bi.embedOne("york new"))
        #expect(onlyBi.embedOne("york").allSatisfy { $0 == 0 }, "one word has no bigram")
        #expect(abs(Self.norm(onlyBi.embedOne("new york")) - 1) < 1e-6)
    }

    @Test("term frequency: 1 + ln(count) with tf=log, the count with tf=raw")
    func termFrequency() throws {
        // 65536 buckets: the two words do not collide (checked below).
        func magnitudes(_ spec: String) throws -> [Float] {
            try HashingEmbedder(spec: spec).embedOne("dog dog dog cat").filter { $0 != 0 }.map(abs).sorted()
        }
        #expect(try magnitudes("hash:dim=65536,tf=raw,norm=none") == [1, 3])
        #expect(try magnitudes("hash:dim=65536,tf=log,norm=none") == [1, Float(1 + log(3.0))])
        let unit = try magnitudes("hash:dim=65536,tf=raw")
        #expect(abs(unit[0] - Float(1 / 10.0.squareRoot())) < 1e-7)
        #expect(abs(unit[1] - Float(3 / 10.0.squareRoot())) < 1e-7)
    }

    @Test("the embedder works behind the protocol")
    func asProtocol() async throws {
        let e: any Embedder = try Embedders.make(spec: "hash-v2")
        let concrete = try HashingEmbedder(spec: "hash-v2")
        #expect(e.identifier == concrete.identifier)
        #expect(try await e.embed(["Café", "dogs"]) == [concrete.embedOne("Café"), concrete.embedOne("dogs")])
    }

    // MARK: - IDF

    @Test("fitIDF: ln((N+1)/(df+1)) + 1 per bucket")
    func fitIDF() throws {
        let spec = try HashingSpec(parsing: "hash:dim=65536,norm=none")
        let corpus = ["a b", "a c", "A! d a"]
        let table = HashingEmbedder.fitIDF(corpus: corpus, spec: spec)
        #expect(table.documentCount == 3)
        #expect(table.dimension == 65536)
        #expect(table.features == spec.featureKey)
        let plain = try HashingEmbedder(spec)
        func bucket(_ word: String) -> Int { plain.embedOne(word).firstIndex { $0 != 0 }! }
        #expect(table.weights[bucket("a")] == Float(log(4.0 / 4.0) + 1))
        #expect(table.weights[bucket("b")] == Float(log(4.0 / 2.0) + 1))
        #expect(table.weights[bucket("zebra")] == Float(log(4.0 / 1.0) + 1))

        // Weighted vectors: each bucket multiplied by its weight (no normalisation here).
        let weighted = try HashingEmbedder(spec, idf: table)
        let v = weighted.embedOne("a b")
        #expect(abs(v[bucket("a")]) == table.weights[bucket("a")])
        #expect(abs(v[bucket("b")]) == table.weights[bucket("b")])
    }

    @Test("IDF tables round-trip through files; identifiers follow content, not paths")
    func idfRoundTrip() throws {
        try withTemporaryDirectory(prefix: "switchyard-idf") { dir in
            let corpus = (0..<50).map { "document \($0) about \($0 % 7 == 0 ? "cats" : "dogs") and Café Ñandú" }
            let table = HashingEmbedder.fitIDF(corpus: corpus, spec: .v2)
            let path1 = dir.appending("one.idf"), path2 = dir.appending("two.idf")
            try table.write(to: path1)
            try table.write(to: path2)
            let read = try IDFTable.read(from: path1)
            #expect(read == table)
            #expect(read.serialized == table.serialized)
            #expect(read.checksum.count == 64)
            #expect(try String(contentsOfFile: path1, encoding: .utf8) == table.serialized)

            let e1 = try HashingEmbedder(spec: "hash:dim=384,words=1,chars=3-5,idf=\(path1)")
            let e2 = try HashingEmbedder(spec: "hash:chars=3-5,dim=384,idf=\(path2)")
            let inMemory = try HashingEmbedder(.v2, idf: table)
            let expectedID =
                "hash:v=1,chars=3-5,dim=384,idf=sha256:\(table.checksum.prefix(16)),norm=l2,seed=0,tf=log,words=1"
            #expect(e1.identifier == expectedID)
            #expect(e2.identifier == expectedID)
            #expect(inMemory.identifier == expectedID)
            #expect(e1.embedOne(corpus[3]) == inMemory.embedOne(corpus[3]))
            #expect(e1.embedOne(corpus[3]) != HashingEmbedder(checkedSpec: .v2).embedOne(corpus[3]))
            #expect(abs(Self.norm(e1.embedOne(corpus[3])) - 1) < 1e-5)

            // A table fitted on other text has another checksum, so another identifier.
            let other = HashingEmbedder.fitIDF(corpus: ["something else"], spec: .v2)
            #expect(other.checksum != table.checksum)
            #expect(try HashingEmbedder(.v2, idf: other).identifier != expectedID)
        }
    }

    @Test("IDF errors: missing file, corrupt file, other format, mismatched parameters")
    func idfErrors() throws {
        try withTemporaryDirectory(prefix: "switchyard-idf") { dir in
            let missing = dir.appending("missing.idf")
            #expect { try HashingEmbedder(spec: "hash:idf=\(missing)") } throws: { error in
                (error as? EmbeddingError)?.code == .io && "\(error)".contains("cannot read IDF table '\(missing)'")
            }

            let table = HashingEmbedder.fitIDF(corpus: ["a b c", "c d"], spec: .v1)
            let path = dir.appending("t.idf")
            // One weight changed: the checksum no longer matches.
            var lines = table.serialized.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines[4] = "123.5"
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            #expect { try IDFTable.read(from: path) } throws: { error in
                (error as? EmbeddingError)?.code == .invalidInput && "\(error)".contains("is corrupt")
            }

            try "hello\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect { try IDFTable.read(from: path) } throws: { error in
                (error as? EmbeddingError)?.code == .invalidInput && "\(error)".contains("is not a Switchyard IDF table")
            }

            try table.write(to: path)
            #expect(throws: EmbeddingError(.invalidSpec,
                "IDF table was fitted for 'hash:v=1,chars=0,dim=256,seed=0,words=1' but the embedder spec has 'hash:v=1,chars=0,dim=256,seed=5,words=1'")) {
                try HashingEmbedder(spec: "hash:seed=5,idf=\(path)")
            }
            #expect(throws: EmbeddingError.self) { try HashingEmbedder(.v2, idf: table) }
            #expect(throws: EmbeddingError.self) {
                try IDFTable(features: "hash:v=1,chars=0,dim=256,seed=0,words=1", documentCount: 1, weights: [1, 2])
            }
            #expect(throws: EmbeddingError.self) {
                try IDFTable(features: "hash:dim=2", documentCount: 1, weights: [1, 2])
            }
            #expect(throws: EmbeddingError.self) {
                try IDFTable(features: "hash:v=1,chars=0,dim=2,seed=0,words=1", documentCount: 1, weights: [1, .nan])
            }
            #expect(try IDFTable(features: "hash:v=1,chars=0,dim=2,seed=0,words=1", documentCount: 1, weights: [1, 2])
                .weights == [1, 2])
        }
    }
}

extension HashingEmbedder {
    /// An embedder for a spec known to need no IDF file.
    fileprivate init(checkedSpec spec: HashingSpec) {
        try! self.init(spec)
    }
}

import Embedding
import Testing
import _SwitchyardTestSupport

@Suite("Chunker")
struct ChunkerTests {
    /// `n` distinct words `w0 w1 …` separated by single spaces, with `marks[i]` appended to word `i`.
    static func words(_ n: Int, marks: [Int: String] = [:]) -> String {
        (0..<n).map { "w\($0)\(marks[$0] ?? "")" }.joined(separator: " ")
    }

    static func spans(_ chunks: [Chunk]) -> [Range<Int>] {
        chunks.map { $0.tokenStart..<$0.tokenEnd }
    }

    // MARK: - Configuration

    @Test("defaults are 600 tokens with 200 overlap")
    func defaults() throws {
        let c = try Chunker()
        #expect(c.size == 600 && c.overlap == 200)
    }

    @Test("a size of zero or less is an error", arguments: [0, -1, -600, Int.min])
    func rejectsSize(size: Int) {
        #expect(throws: EmbeddingError.self) { try Chunker(size: size, overlap: 0) }
        do throws(EmbeddingError) {
            _ = try Chunker(size: size)
        } catch {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains("\(size)"))
        }
    }

    @Test("a negative overlap is an error")
    func rejectsOverlap() {
        #expect(throws: EmbeddingError.self) { try Chunker(size: 10, overlap: -1) }
    }

    @Test(
        "an overlap of size or more becomes size / 2",
        arguments: [(10, 10, 5), (10, 15, 5), (7, 7, 3), (1, 0, 0), (1, 5, 0), (600, 200, 200), (10, 9, 9)])
    func clampsOverlap(size: Int, overlap: Int, expected: Int) throws {
        let c = try Chunker(size: size, overlap: overlap)
        #expect(c.size == size)
        #expect(c.overlap == expected)
    }

    // MARK: - Windows

    @Test("empty and whitespace-only texts give no chunks", arguments: ["", " ", "\n\n\t ", "\u{A0}\u{2003}"])
    func emptyText(text: String) throws {
        let result = try Chunker().chunkingResult(documentID: "d", text: text)
        #expect(result == ChunkingResult(chunks: [], tokenCount: 0, isTruncated: false))
    }

    @Test("a short text is one chunk with its inner spacing kept and outer whitespace dropped")
    func shortText() throws {
        // Tokens: "Hello," "world." "Second" "line" "here" (the no-break space separates words too).
        // Bytes: 3 of leading whitespace, then 34 up to the end of "here" (U+00A0 is 2 bytes): 3..<37.
        let text = "  \nHello,  world.\n\n\tSecond\u{A0}line here  \n"
        let chunks = try Chunker(size: 10, overlap: 2).chunks(documentID: "notes/a.md", text: text)
        #expect(
            chunks == [
                Chunk(
                    id: "notes/a.md_0000", index: 0, text: "Hello,  world.\n\n\tSecond\u{A0}line here",
                    tokenStart: 0, tokenEnd: 5, characterRange: 3..<37)
            ])
    }

    @Test("windows of size tokens start overlap tokens before the previous end")
    func plainWindows() throws {
        // 25 tokens, size 10, overlap 3, no sentence ends:
        // [0,10) → next 10-3 = 7: [7,17) → next 14: [14,24) (14+10 = 24 < 25, not the last)
        // → next 21: 21+10 ≥ 25, so the last window takes the rest: [21,25).
        let text = Self.words(25)
        let chunks = try Chunker(size: 10, overlap: 3).chunks(documentID: "doc", text: text)
        #expect(Self.spans(chunks) == [0..<10, 7..<17, 14..<24, 21..<25])
        #expect(chunks.map(\.id) == ["doc_0000", "doc_0001", "doc_0002", "doc_0003"])
        #expect(chunks.map(\.index) == [0, 1, 2, 3])
        #expect(chunks[1].text == "w7 w8 w9 w10 w11 w12 w13 w14 w15 w16")
        #expect(chunks[3].text == "w21 w22 w23 w24")
        #expect(chunks.map(\.tokenCount) == [10, 10, 10, 4])
    }

    @Test("the default 600/200 windows over 1,500 tokens")
    func defaultWindows() throws {
        // [0,600) → 400: [400,1000) → 800: [800,1400) → 1200: 1200+600 ≥ 1500, last: [1200,1500).
        let chunks = try Chunker().chunks(documentID: "d", text: Self.words(1500))
        #expect(Self.spans(chunks) == [0..<600, 400..<1000, 800..<1400, 1200..<1500])
    }

    @Test("overlap 0 gives disjoint windows that cover every token")
    func noOverlap() throws {
        let chunks = try Chunker(size: 4, overlap: 0).chunks(documentID: "d", text: Self.words(10))
        #expect(Self.spans(chunks) == [0..<4, 4..<8, 8..<10])
        #expect(chunks.map(\.text).joined(separator: " ") == Self.words(10))
    }

    // MARK: - Sentence ends

    @Test("a sentence end in the last 10% of the window cuts after it", arguments: [".", "!", "?"])
    func cutsAtSentenceEnd(mark: String) throws {
        // size 20: the last ceil(20/10) = 2 tokens of the window are 18 and 19. Token 18 ends a sentence,
        // so the first chunk is [0,19); the next starts at 19 - 5 = 14: [14,34) would pass the end (30
        // tokens), so it is the last: [14,30).
        let text = Self.words(30, marks: [18: mark])
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<19, 14..<30])
        #expect(chunks[0].text.hasSuffix("w18\(mark)"))
    }

    @Test("the last sentence end in the zone wins")
    func lastSentenceEndWins() throws {
        // Tokens 18 and 19 both end sentences: cut after 19, i.e. a full window [0,20).
        let text = Self.words(30, marks: [18: ".", 19: "?"])
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20, 15..<30])
    }

    @Test("a sentence end before the last 10% does not cut")
    func sentenceEndTooEarly() throws {
        // size 20: token 17 is outside the zone [18,20), so the window stays [0,20).
        let text = Self.words(30, marks: [17: "."])
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20, 15..<30])
    }

    @Test("the zone is ceil(size / 10) tokens long")
    func zoneRoundsUp() throws {
        // size 11: ceil(1.1) = 2, zone [9,11); a sentence end at token 9 cuts: [0,10), then 10-2 = 8: [8,19),
        // then 17: 17+11 ≥ 20, last: [17,20).
        let eleven = try Chunker(size: 11, overlap: 2).chunks(documentID: "d", text: Self.words(20, marks: [9: "."]))
        #expect(Self.spans(eleven) == [0..<10, 8..<19, 17..<20])
        // size 10: ceil(1.0) = 1, zone [9,10); a sentence end at token 8 does not cut.
        let ten = try Chunker(size: 10, overlap: 2).chunks(documentID: "d", text: Self.words(20, marks: [8: "."]))
        #expect(Self.spans(ten) == [0..<10, 8..<18, 16..<20])
    }

    @Test(
        "a blank line after a token is a sentence end",
        arguments: ["\n\n", "\n \t\n", "\r\n\r\n", "\n\n\n", "\r\r", "\u{2029}\u{2029}"])
    func blankLine(separator: String) throws {
        // Token 18 followed by a blank line: cut after it, [0,19).
        var parts = (0..<30).map { "w\($0)" }
        parts[18] += separator
        let text = parts.enumerated().map { $0.offset == 18 ? $0.element : $0.element + " " }.joined()
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<19, 14..<30])
        #expect(chunks[1].text.contains("w18\(separator)w19"))
    }

    @Test("a single line break is not a sentence end", arguments: ["\n", "\r\n", " \n ", "\r"])
    func singleLineBreak(separator: String) throws {
        var parts = (0..<30).map { "w\($0)" }
        parts[18] += separator
        let text = parts.enumerated().map { $0.offset == 18 ? $0.element : $0.element + " " }.joined()
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20, 15..<30])
    }

    @Test("punctuation inside a token or before a closing quote is not a sentence end")
    func notSentenceEnds() throws {
        let text = Self.words(30, marks: [18: ".x", 19: ".\""])
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20, 15..<30])
    }

    @Test("the window that reaches the end takes the rest, whatever sentence ends it holds")
    func lastWindowDoesNotCut() throws {
        let text = Self.words(20, marks: [18: "."])
        let chunks = try Chunker(size: 20, overlap: 5).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20])
    }

    @Test("windows always advance, even when overlap reaches back past the start")
    func alwaysAdvances() throws {
        // size 20, overlap 19, every token ends a sentence: each window is cut after the last token of its
        // zone, i.e. it is full, and the next starts at end - 19 = s + 1.
        let text = (0..<25).map { "s\($0)." }.joined(separator: " ")
        let chunks = try Chunker(size: 20, overlap: 19).chunks(documentID: "d", text: text)
        #expect(Self.spans(chunks) == [0..<20, 1..<21, 2..<22, 3..<23, 4..<24, 5..<25])
        // A cut after token 18 with overlap 19 would restart at 0: the next window starts at 1 instead.
        let cut = try Chunker(size: 20, overlap: 19).chunks(documentID: "d", text: Self.words(21, marks: [18: "."]))
        #expect(Self.spans(cut) == [0..<19, 1..<21])
    }

    // MARK: - Text, offsets, ids

    @Test("chunk text is exactly the original bytes in its character range, Unicode included")
    func originalSubstring() throws {
        let text = "Café  naïve\u{2003}😀 ok.\n\nΣίσυφος  déjà\tvu 🇫🇷 end"
        let bytes = Array(text.utf8)
        let chunks = try Chunker(size: 3, overlap: 1).chunks(documentID: "u", text: text)
        #expect(!chunks.isEmpty)
        for chunk in chunks {
            let range = try #require(chunk.characterRange)
            #expect(String(decoding: bytes[range], as: UTF8.self) == chunk.text)
            #expect(chunk.text.first?.isWhitespace == false && chunk.text.last?.isWhitespace == false)
        }
        // Tokens: Café naïve 😀 ok. Σίσυφος déjà vu 🇫🇷 end — 9 (U+2003 and the tab separate words).
        // size 3 (zone 1 token), overlap 1: [0,3) → 2: [2,5)… token 3 "ok." is a sentence end only in
        // the zone of [2,5) (zone = token 4), so no cut; [2,5) → 4: [4,7) → 6: 6+3 ≥ 9, last [6,9).
        #expect(Self.spans(chunks) == [0..<3, 2..<5, 4..<7, 6..<9])
        #expect(chunks[0].text == "Café  naïve\u{2003}😀")
        #expect(chunks[1].text == "😀 ok.\n\nΣίσυφος")
        #expect(chunks[3].text == "vu 🇫🇷 end")
    }

    @Test("chunk ids are the document id and the index padded to four digits")
    func ids() {
        #expect(Chunk.makeID(documentID: "d", index: 0) == "d_0000")
        #expect(Chunk.makeID(documentID: "a/b.txt", index: 42) == "a/b.txt_0042")
        #expect(Chunk.makeID(documentID: "x_1", index: 9999) == "x_1_9999")
        #expect(Chunk.makeID(documentID: "d", index: 12345) == "d_12345")
    }

    @Test("chunking is deterministic")
    func deterministic() throws {
        var rng = SplitMix64(seed: 7)
        let text = Self.randomText(&rng, tokens: 3000)
        let chunker = try Chunker(size: 50, overlap: 10)
        #expect(chunker.chunkingResult(documentID: "d", text: text) == chunker.chunkingResult(documentID: "d", text: text))
    }

    // MARK: - Cap

    @Test("at most 10,000 chunks per document; the rest is dropped and reported")
    func cap() throws {
        #expect(Chunker.maxChunksPerDocument == 10_000)
        let chunker = try Chunker(size: 1, overlap: 0)
        let over = chunker.chunkingResult(documentID: "big", text: String(repeating: "x ", count: 10_001))
        #expect(over.chunks.count == 10_000)
        #expect(over.isTruncated)
        #expect(over.tokenCount == 10_001)
        #expect(over.chunks.last?.id == "big_9999")
        #expect(over.chunks.last?.tokenEnd == 10_000)
        #expect(chunker.chunks(documentID: "big", text: String(repeating: "x ", count: 10_001)).count == 10_000)

        let exact = chunker.chunkingResult(documentID: "big", text: String(repeating: "x ", count: 10_000))
        #expect(exact.chunks.count == 10_000)
        #expect(!exact.isTruncated)
    }

    // MARK: - Reference implementation

    @Test("matches a straightforward reference implementation on random texts")
    func matchesReference() throws {
        var rng = SplitMix64(seed: 2024)
        for round in 0..<150 {
            let size = 1 + rng.nextInt(below: 40)
            let overlap = rng.nextInt(below: 45)
            let text = Self.randomText(&rng, tokens: rng.nextInt(below: 300))
            let chunker = try Chunker(size: size, overlap: overlap)
            let result = chunker.chunkingResult(documentID: "r\(round)", text: text)
            let expected = Self.reference(text: text, size: size, overlap: overlap)
            #expect(result.tokenCount == expected.tokenCount)
            #expect(Self.spans(result.chunks) == expected.spans.map { $0.0..<$0.1 }, "size \(size) overlap \(overlap)")
            #expect(result.chunks.map(\.text) == expected.texts)
            #expect(result.chunks.map(\.id) == result.chunks.indices.map { Chunk.makeID(documentID: "r\(round)", index: $0) })
            #expect(!result.isTruncated)
            if let last = result.chunks.last { #expect(last.tokenEnd == result.tokenCount) }
        }
    }

    /// Random ASCII words with sentence marks and varied separators (spaces, tabs, line breaks, blank lines).
    static func randomText(_ rng: inout SplitMix64, tokens: Int) -> String {
        let words = ["alpha", "beta", "gamma", "delta", "x", "long-word", "e.g", "3.14"]
        let marks = ["", "", "", "", ".", "!", "?", ",", ".)"]
        let separators = [" ", " ", " ", "  ", "\t", "\n", "\n\n", " \n \n", "\r\n", "\r\n\r\n"]
        var out = rng.nextInt(below: 3) == 0 ? "\n " : ""
        for i in 0..<tokens {
            if i > 0 { out += separators[rng.nextInt(below: separators.count)] }
            out += words[rng.nextInt(below: words.count)] + marks[rng.nextInt(below: marks.count)]
        }
        return out + (rng.nextInt(below: 2) == 0 ? "\n\n" : "")
    }

    /// The chunking rules written out directly over `Character`s (ASCII input only).
    static func reference(text: String, size: Int, overlap: Int) -> (tokenCount: Int, spans: [(Int, Int)], texts: [String]) {
        let chars = Array(text)
        var tokens: [(start: Int, end: Int, ends: Bool)] = []
        var i = 0
        while i < chars.count {
            if chars[i].isWhitespace { i += 1; continue }
            let start = i
            while i < chars.count, !chars[i].isWhitespace { i += 1 }
            var gapNewlines = 0
            var j = i
            while j < chars.count, chars[j].isWhitespace {
                // "\r\n" is one Character; a lone "\r" or "\n" is one too.
                if chars[j] == "\n" || chars[j] == "\r\n" || chars[j] == "\r" { gapNewlines += 1 }
                j += 1
            }
            let ends = ".!?".contains(chars[i - 1]) || gapNewlines >= 2
            tokens.append((start, i, ends))
        }
        let n = tokens.count
        let effectiveOverlap = overlap >= size ? size / 2 : overlap
        var spans: [(Int, Int)] = []
        var s = 0
        while n > 0 {
            var end = min(s + size, n)
            if s + size < n {
                let zone = (size + 9) / 10
                if let last = (s + size - zone..<s + size).last(where: { tokens[$0].ends }) { end = last + 1 }
            }
            spans.append((s, end))
            if end == n { break }
            s = max(end - effectiveOverlap, s + 1)
        }
        let texts = spans.map { String(chars[tokens[$0.0].start..<tokens[$0.1 - 1].end]) }
        return (n, spans, texts)
    }
}

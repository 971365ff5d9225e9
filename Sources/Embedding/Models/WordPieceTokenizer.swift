import Foundation
import SwitchyardJSON

/// BERT's WordPiece tokenizer, as a model's `tokenizer.json` defines it (Hugging Face `tokenizers`
/// format: `BertNormalizer`, `BertPreTokenizer`, a `WordPiece` model and the `[CLS] … [SEP]` template).
///
/// ```swift
/// let t = try WordPieceTokenizer(directory: modelDirectory, maxLength: 256)
/// t.encode("Crème brûlée")   // [101, 13675, 21382, 7987, 9307, 2063, 102]: [CLS] cr ##eme br ##ule ##e [SEP]
/// ```
///
/// The steps, each as the reference implementation does them:
/// 1. special-token strings (`[CLS]`, `[MASK]`, …) are matched in the raw text first and kept whole;
/// 2. normalisation: control characters, NUL and U+FFFD dropped, whitespace turned into spaces, spaces
///    around CJK ideographs, accents stripped (NFD, then combining marks dropped), lower case, one
///    Unicode scalar at a time;
/// 3. pre-tokenisation: split on whitespace, and every punctuation character is a word of its own;
/// 4. greedy longest-match WordPiece with the `##` prefix; a word with no match, or longer than 100
///    scalars, becomes `[UNK]`;
/// 5. `[CLS]` + tokens + `[SEP]`, truncated to `maxLength` ids.
///
/// Cost: O(n) per text of n scalars, plus O(w²) vocabulary lookups per word of w scalars (w ≤ 100).
public struct WordPieceTokenizer: Sendable {
    /// Token → id, by the token's UTF-8 bytes (String equality would match canonically equivalent
    /// spellings, which the reference does not).
    public let vocabulary: [[UInt8]: Int32]
    /// The most ids ``encode(_:)`` returns, `[CLS]` and `[SEP]` included.
    public let maxLength: Int
    /// The largest id the tokenizer can return (vocabulary and special tokens).
    public let largestID: Int32
    /// `[CLS]`, `[SEP]` and `[UNK]`'s ids.
    public let classID: Int32, separatorID: Int32, unknownID: Int32

    private let lowercase: Bool
    private let stripAccents: Bool
    private let cleanText: Bool
    private let spaceChineseCharacters: Bool
    private let continuingPrefix: String
    private let maxCharactersPerWord: Int
    /// Special tokens matched in the raw text, longest first.
    private let specialTokens: [(text: [Unicode.Scalar], id: Int32)]
    /// The scalars a special token can start with.
    private let specialFirstScalars: Set<Unicode.Scalar>

    /// Reads `tokenizer.json` from a model directory.
    ///
    /// - Parameters:
    ///   - directory: A sentence-transformers model directory.
    ///   - maxLength: The most ids per text (the model's `max_seq_length`).
    /// - Throws: ``EmbeddingError``: `io` when the file cannot be read; `invalidInput` when it is not a
    ///   BERT WordPiece tokenizer.
    public init(directory: String, maxLength: Int) throws(EmbeddingError) {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        let root = try ModelFiles.readJSON(path)
        func fail(_ what: String) -> EmbeddingError { .invalidInput("\(path): \(what)") }
        guard let model = root.objectValue?["model"]?.objectValue, model["type"]?.stringValue == "WordPiece",
              let vocab = model["vocab"]?.objectValue
        else { throw fail("not a WordPiece tokenizer (model.type must be \"WordPiece\")") }
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(vocab.count)
        for (token, id) in vocab {
            guard case .int(let i) = id, i >= 0, i <= Int64(Int32.max) else { throw fail("vocabulary id of '\(token)' is not a non-negative integer") }
            vocabulary[Array(token.utf8)] = Int32(i)
        }
        let normalizer = root.objectValue?["normalizer"]?.objectValue ?? [:]
        guard normalizer["type"]?.stringValue == "BertNormalizer" else { throw fail("normalizer.type must be \"BertNormalizer\"") }
        func flag(_ key: String, _ fallback: Bool) -> Bool {
            if case .bool(let b) = normalizer[key] ?? .null { return b }
            return fallback
        }
        let lowercase = flag("lowercase", true)
        self.lowercase = lowercase
        self.cleanText = flag("clean_text", true)
        self.spaceChineseCharacters = flag("handle_chinese_chars", true)
        self.stripAccents = flag("strip_accents", lowercase)  // null: follows lowercase, as the reference does
        guard root.objectValue?["pre_tokenizer"]?.objectValue?["type"]?.stringValue == "BertPreTokenizer" else {
            throw fail("pre_tokenizer.type must be \"BertPreTokenizer\"")
        }
        self.continuingPrefix = model["continuing_subword_prefix"]?.stringValue ?? "##"
        if case .int(let m) = model["max_input_chars_per_word"] ?? .null, m > 0 { maxCharactersPerWord = Int(m) } else { maxCharactersPerWord = 100 }
        let unknown = model["unk_token"]?.stringValue ?? "[UNK]"
        guard let unk = vocabulary[Array(unknown.utf8)], let cls = vocabulary[Array("[CLS]".utf8)], let sep = vocabulary[Array("[SEP]".utf8)] else {
            throw fail("the vocabulary lacks \(unknown), [CLS] or [SEP]")
        }
        var specials: [(text: [Unicode.Scalar], id: Int32)] = []
        for token in root.objectValue?["added_tokens"]?.arrayValue ?? [] {
            guard let o = token.objectValue, let content = o["content"]?.stringValue, case .int(let id) = o["id"] ?? .null,
                  !content.isEmpty else { continue }
            guard id >= 0, id <= Int64(Int32.max) else { throw fail("added token '\(content)' has id \(id)") }
            specials.append((Array(content.unicodeScalars), Int32(id)))
        }
        specials.sort { $0.text.count > $1.text.count }
        guard maxLength >= 2 else { throw fail("max length \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        self.unknownID = unk
        self.classID = cls
        self.separatorID = sep
        self.specialTokens = specials
        self.specialFirstScalars = Set(specials.compactMap(\.text.first))
        self.largestID = max(vocabulary.values.max() ?? 0, specials.map(\.id).max() ?? 0)
    }

    /// The ids of `[CLS]`, the text's tokens and `[SEP]`, at most ``maxLength`` of them.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [classID]
        let limit = maxLength - 1
        var words: [[Unicode.Scalar]] = []
        forEachSegment(of: text) { segment, special in
            guard ids.count < limit else { return }
            if let special {
                ids.append(special)
                return
            }
            words.removeAll(keepingCapacity: true)
            splitWords(normalize(segment), into: &words)
            for word in words {
                guard ids.count < limit else { return }
                appendWordPieces(of: word, to: &ids, limit: limit)
            }
        }
        ids.append(separatorID)
        return ids
    }

    /// Calls `body` with each stretch of plain text and each special token, in order.
    private func forEachSegment(of text: String, _ body: (ArraySlice<Unicode.Scalar>, Int32?) -> Void) {
        let scalars = Array(text.unicodeScalars)
        var start = 0, i = 0
        scan: while i < scalars.count {
            if specialFirstScalars.contains(scalars[i]) {
                for (token, id) in specialTokens where i + token.count <= scalars.count && scalars[i..<(i + token.count)].elementsEqual(token) {
                    if start < i { body(scalars[start..<i], nil) }
                    body([], id)
                    i += token.count
                    start = i
                    continue scan
                }
            }
            i += 1
        }
        if start < scalars.count { body(scalars[start...], nil) }
    }

    // MARK: - Normalisation

    private func normalize(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for s in text {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isWhitespace(s) {
                    cleaned.append(" ")
                    continue
                }
            }
            if spaceChineseCharacters && Self.isChineseCharacter(s) {
                cleaned.append(" ")
                cleaned.append(s)
                cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        var scalars: [Unicode.Scalar]
        if stripAccents {
            let decomposed = String(cleaned).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { !(Self.inReferenceTables($0) && $0.properties.generalCategory == .nonspacingMark) }
        } else {
            scalars = Array(cleaned)
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for s in scalars {
                if s.isASCII {
                    lowered.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Tab, newline and carriage return count as whitespace, as does every scalar with Unicode's `White_Space`.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// Whether the reference's category tables know the scalar. Its category tests (control, format,
    /// private use, punctuation, non-spacing mark) come from Unicode 8.0 tables: a scalar assigned later
    /// is in none of those categories there, so it is not here either.
    static func inReferenceTables(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    /// Control (Cc), format (Cf) and private-use (Co) scalars, except tab, newline and carriage return.
    /// Unassigned scalars are kept, as the reference keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        guard inReferenceTables(s) else { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// CJK Unified Ideographs and their extensions and compatibility blocks (not Hangul, kana or CJK punctuation).
    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// ASCII punctuation (including `$+<=>^`|~`) and every scalar of Unicode's punctuation categories
    /// (as of Unicode 8.0, like the reference).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default: break
        }
        guard inReferenceTables(s) else { return false }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    // MARK: - Words and pieces

    private func splitWords(_ scalars: [Unicode.Scalar], into words: inout [[Unicode.Scalar]]) {
        var current: [Unicode.Scalar] = []
        for s in scalars {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if Self.isPunctuation(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
    }

    private func appendWordPieces(of word: [Unicode.Scalar], to ids: inout [Int32], limit: Int) {
        guard word.count <= maxCharactersPerWord else {
            ids.append(unknownID)
            return
        }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var piece = start > 0 ? continuingPrefix : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[Array(piece.utf8)] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.append(unknownID)
                return
            }
            pieces.append(id)
            start = end
        }
        for p in pieces where ids.count < limit { ids.append(p) }
    }
}

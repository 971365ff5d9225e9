/// Reusable buffers for hashing texts one after another: the normalised words of the current text,
/// the feature counts and the bucket sums.
///
/// Words are stored as UTF-8 back to back, each wrapped in its boundary markers — `<word1><word2>` —
/// so a word's character n-grams read the bytes in place. Buffers are raw memory owned by this object
/// and copied into locals in the hot loops (no per-byte exclusivity or uniqueness checks).
///
/// Not thread-safe: each call of ``HashingEmbedder/embed(_:)`` or ``HashingEmbedder/embedOne(_:)``
/// makes its own.
final class HashingWorkspace {
    /// Normalised words with markers; capacity ``byteCapacity``.
    private(set) var bytes: UnsafeMutablePointer<UInt8>
    private var byteCapacity: Int
    /// Word `i` is `bytes[wordStarts[i]..<wordEnds[i]]`, with `<` before it and `>` after it.
    private(set) var wordStarts: UnsafeMutablePointer<Int32>
    private(set) var wordEnds: UnsafeMutablePointer<Int32>
    /// Whether word `i` is all ASCII (one byte per scalar).
    private(set) var wordIsASCII: UnsafeMutablePointer<Bool>
    /// Words in the current text. A word takes at least three bytes, so there are at most
    /// `byteCapacity / 3 + 1`.
    private(set) var wordCount = 0
    /// Byte offsets of the scalars of one marked non-ASCII word, plus its end.
    private var scalarStarts: UnsafeMutablePointer<Int>
    private var scalarCapacity: Int
    /// Mappings of non-Latin scalars met so far.
    private var cache: [UInt32: [UInt32]] = [:]
    /// The current text's feature counts.
    var table = CountTable()
    /// One sum per bucket.
    let sums: UnsafeMutablePointer<Double>
    let dimension: Int

    init(dimension: Int) {
        self.dimension = dimension
        sums = .allocate(capacity: dimension)
        sums.initialize(repeating: 0, count: dimension)
        byteCapacity = 4096
        bytes = .allocate(capacity: byteCapacity)
        wordStarts = .allocate(capacity: byteCapacity / 3 + 1)
        wordEnds = .allocate(capacity: byteCapacity / 3 + 1)
        wordIsASCII = .allocate(capacity: byteCapacity / 3 + 1)
        scalarCapacity = 64
        scalarStarts = .allocate(capacity: scalarCapacity)
    }

    deinit {
        sums.deallocate()
        bytes.deallocate()
        wordStarts.deallocate()
        wordEnds.deallocate()
        wordIsASCII.deallocate()
        scalarStarts.deallocate()
        table.deallocate()
    }

    /// The current words as strings (for ``HashingEmbedder/normalizedWords(in:)``).
    var words: [String] {
        (0..<wordCount).map { i in
            String(decoding: UnsafeBufferPointer(start: bytes + Int(wordStarts[i]),
                                                 count: Int(wordEnds[i] - wordStarts[i])), as: UTF8.self)
        }
    }

    /// Makes room for at least `needed` bytes, keeping the first `used` bytes, the bounds of the
    /// first ``wordCount`` words and, when `openWord` is true, the start of the word being written.
    private func reserveBytes(_ needed: Int, keeping used: Int, openWord: Bool = false) {
        guard needed > byteCapacity else { return }
        var capacity = byteCapacity * 2
        while capacity < needed { capacity *= 2 }
        let newBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        newBytes.initialize(from: bytes, count: used)
        bytes.deallocate()
        bytes = newBytes
        let words = capacity / 3 + 1
        let s = UnsafeMutablePointer<Int32>.allocate(capacity: words)
        s.initialize(from: wordStarts, count: wordCount + (openWord ? 1 : 0))
        wordStarts.deallocate()
        wordStarts = s
        let e = UnsafeMutablePointer<Int32>.allocate(capacity: words)
        e.initialize(from: wordEnds, count: wordCount)
        wordEnds.deallocate()
        wordEnds = e
        let a = UnsafeMutablePointer<Bool>.allocate(capacity: words)
        a.initialize(from: wordIsASCII, count: wordCount)
        wordIsASCII.deallocate()
        wordIsASCII = a
        byteCapacity = capacity
    }

    // MARK: - Normalising and splitting

    /// Normalises `text` and splits it into words (see ``TextNormalizer``), replacing the
    /// current words.
    func split(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let n = utf8.count
            precondition(n < Int(Int32.max) / 2, "a text of \(n) bytes is too long to embed in one piece")
            wordCount = 0
            // ASCII output never exceeds 3 bytes per 2 input bytes ("a b" → "<a><b>"); 2n is safe.
            reserveBytes(2 * n + 8, keeping: 0)
            let table = TextNormalizer.asciiWordByte
            table.withUnsafeBufferPointer { ascii in
                var out = bytes
                var starts = wordStarts, ends = wordEnds, flags = wordIsASCII
                var pos = 0
                var words = 0
                var inWord = false
                var wordASCII = true
                var i = 0
                while i < n {
                    let b0 = utf8[i]
                    if b0 < 0x80 {
                        let w = ascii[Int(b0)]
                        if w != 0 {
                            if !inWord {
                                out[pos] = 0x3C  // <
                                pos += 1
                                starts[words] = Int32(truncatingIfNeeded: pos)
                                inWord = true
                                wordASCII = true
                            }
                            out[pos] = w
                            pos += 1
                        } else if inWord {
                            ends[words] = Int32(truncatingIfNeeded: pos)
                            flags[words] = wordASCII
                            words += 1
                            out[pos] = 0x3E  // >
                            pos += 1
                            inWord = false
                        }
                        i += 1
                        continue
                    }
                    // A multi-byte scalar (the string is valid UTF-8).
                    let value: UInt32
                    if b0 < 0xE0 {
                        value = UInt32(b0 & 0x1F) << 6 | UInt32(utf8[i + 1] & 0x3F)
                        i += 2
                    } else if b0 < 0xF0 {
                        value = UInt32(b0 & 0x0F) << 12 | UInt32(utf8[i + 1] & 0x3F) << 6 | UInt32(utf8[i + 2] & 0x3F)
                        i += 3
                    } else {
                        value =
                            UInt32(b0 & 0x07) << 18 | UInt32(utf8[i + 1] & 0x3F) << 12
                            | UInt32(utf8[i + 2] & 0x3F) << 6 | UInt32(utf8[i + 3] & 0x3F)
                        i += 4
                    }
                    let mapped: [UInt32]
                    if value < TextNormalizer.latinEnd {
                        mapped = TextNormalizer.latinMappings[Int(value) - 0x80]
                    } else if let cached = cache[value] {
                        mapped = cached
                    } else {
                        mapped = TextNormalizer.mapping(of: value)
                        cache[value] = mapped
                    }
                    // Room for this mapping (≤ 4 bytes + 2 markers per scalar) and the rest of the input.
                    let needed = pos + 6 * mapped.count + 2 * (n - i) + 8
                    if needed > byteCapacity {
                        wordCount = words
                        reserveBytes(needed, keeping: pos, openWord: inWord)
                        out = bytes
                        starts = wordStarts
                        ends = wordEnds
                        flags = wordIsASCII
                    }
                    for m in mapped {
                        if m == TextNormalizer.separator {
                            if inWord {
                                ends[words] = Int32(truncatingIfNeeded: pos)
                                flags[words] = wordASCII
                                words += 1
                                out[pos] = 0x3E
                                pos += 1
                                inWord = false
                            }
                            continue
                        }
                        if !inWord {
                            out[pos] = 0x3C
                            pos += 1
                            starts[words] = Int32(truncatingIfNeeded: pos)
                            inWord = true
                            wordASCII = true
                        }
                        if m < 0x80 {
                            out[pos] = UInt8(m)
                            pos += 1
                        } else {
                            wordASCII = false
                            pos = Self.writeUTF8(m, to: out, at: pos)
                        }
                    }
                }
                if inWord {
                    ends[words] = Int32(truncatingIfNeeded: pos)
                    flags[words] = wordASCII
                    words += 1
                    out[pos] = 0x3E
                }
                wordCount = words
            }
        }
    }

    @inline(__always)
    private static func writeUTF8(_ value: UInt32, to out: UnsafeMutablePointer<UInt8>, at pos: Int) -> Int {
        if value < 0x800 {
            out[pos] = UInt8(0xC0 | (value >> 6))
            out[pos + 1] = UInt8(0x80 | (value & 0x3F))
            return pos + 2
        } else if value < 0x10000 {
            out[pos] = UInt8(0xE0 | (value >> 12))
            out[pos + 1] = UInt8(0x80 | ((value >> 6) & 0x3F))
            out[pos + 2] = UInt8(0x80 | (value & 0x3F))
            return pos + 3
        } else {
            out[pos] = UInt8(0xF0 | (value >> 18))
            out[pos + 1] = UInt8(0x80 | ((value >> 12) & 0x3F))
            out[pos + 2] = UInt8(0x80 | ((value >> 6) & 0x3F))
            out[pos + 3] = UInt8(0x80 | (value & 0x3F))
            return pos + 4
        }
    }

    // MARK: - Features

    /// Normalises `text`, splits it into words and counts its features (hashes) in ``table``.
    func countFeatures(of text: String, _ p: FeatureParameters) {
        table.reset()
        split(text)
        let n = wordCount
        guard n > 0 else { return }
        var table = self.table
        defer { self.table = table }
        let bytes = self.bytes, starts = wordStarts, ends = wordEnds
        if p.wordMax > 0 {
            // Word n-grams: "w:" + words joined by single spaces.
            for i in 0..<n {
                var h = p.wordState
                let longest = min(p.wordMax, n - i)
                for length in 1...longest {
                    let j = i + length - 1
                    if length > 1 { h = FNV1a.step(h, 0x20) }
                    for k in Int(starts[j])..<Int(ends[j]) { h = FNV1a.step(h, bytes[k]) }
                    if length >= p.wordMin { table.add(h) }
                }
            }
        }
        guard p.charMax > 0 else { return }
        // Character n-grams: "c:" + a run of charMin…charMax scalars of "<word>".
        let cMin = p.charMin, cMax = p.charMax, state = p.charState
        for i in 0..<n {
            let m = bytes + Int(starts[i]) - 1
            let length = Int(ends[i] - starts[i]) + 2
            if wordIsASCII[i] {
                for s in 0..<length {
                    var h = state
                    let longest = min(cMax, length - s)
                    var k = 0
                    while k < longest {
                        h = FNV1a.step(h, m[s + k])
                        k += 1
                        if k >= cMin { table.add(h) }
                    }
                }
            } else {
                if length + 1 > scalarCapacity {
                    scalarStarts.deallocate()
                    scalarCapacity = length + 1
                    scalarStarts = .allocate(capacity: scalarCapacity)
                }
                let bounds = scalarStarts
                var scalars = 0
                for offset in 0..<length where m[offset] & 0xC0 != 0x80 {
                    bounds[scalars] = offset
                    scalars += 1
                }
                bounds[scalars] = length
                for s in 0..<scalars {
                    var h = state
                    let longest = min(cMax, scalars - s)
                    var pos = bounds[s]
                    var k = 0
                    while k < longest {
                        let stop = bounds[s + k + 1]
                        while pos < stop {
                            h = FNV1a.step(h, m[pos])
                            pos += 1
                        }
                        k += 1
                        if k >= cMin { table.add(h) }
                    }
                }
            }
        }
    }
}

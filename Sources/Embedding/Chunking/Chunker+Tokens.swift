extension Chunker {
    /// A whitespace-separated token: its UTF-8 byte span and whether a sentence ends with it.
    struct Token: Equatable {
        /// First byte.
        var start: Int
        /// One past the last byte.
        var end: Int
        /// The token ends with `.`, `!` or `?`, or a blank line follows it.
        var endsSentence: Bool
    }

    /// Splits `text` into tokens at Unicode whitespace, noting sentence ends.
    ///
    /// A blank line is whitespace holding at least two line breaks (`\n`, `\r\n` counted once, a lone `\r`,
    /// U+0085, U+2028, U+2029).
    static func tokens(in text: String) -> [Token] {
        var tokens: [Token] = []
        var offset = 0
        var tokenStart = -1
        var lastScalar: Unicode.Scalar = " "
        var lineBreaks = 0
        var previousWasCR = false

        func closeGap() {
            // A gap between tokens ended: mark the previous token when the gap held a blank line.
            if lineBreaks >= 2, !tokens.isEmpty { tokens[tokens.count - 1].endsSentence = true }
            lineBreaks = 0
            previousWasCR = false
        }

        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                if tokenStart >= 0 {
                    tokens.append(
                        Token(start: tokenStart, end: offset, endsSentence: Self.isSentenceEnd(lastScalar)))
                    tokenStart = -1
                }
                switch scalar {
                case "\n":
                    if !previousWasCR { lineBreaks += 1 }
                    previousWasCR = false
                case "\r":
                    lineBreaks += 1
                    previousWasCR = true
                case "\u{85}", "\u{2028}", "\u{2029}":
                    lineBreaks += 1
                    previousWasCR = false
                default:
                    previousWasCR = false
                }
            } else {
                if tokenStart < 0 {
                    closeGap()
                    tokenStart = offset
                }
                lastScalar = scalar
            }
            offset += UTF8.width(scalar)
        }
        if tokenStart >= 0 {
            tokens.append(Token(start: tokenStart, end: offset, endsSentence: Self.isSentenceEnd(lastScalar)))
        } else {
            closeGap()
        }
        return tokens
    }

    private static func isSentenceEnd(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "." || scalar == "!" || scalar == "?"
    }
}

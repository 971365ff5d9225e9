/// Plain text from HTML: `<script>`, `<style>` and comments removed, tags stripped (block-level tags
/// become paragraph breaks, `<br>` a line break), the common entities decoded (`&amp;` `&lt;` `&gt;`
/// `&quot;` `&apos;` `&#39;` `&nbsp;`, decimal and hex numeric references) and whitespace collapsed
/// (a run becomes one space, one line break, or one blank line). The `<title>` becomes the title and
/// is not part of the text.
enum HTMLText {
    static func extract(_ html: String) -> (title: String?, text: String) {
        let s = Array(html.unicodeScalars)
        let n = s.count
        var out = String.UnicodeScalarView()
        var title: String?
        var i = 0
        while i < n {
            let c = s[i]
            if c == "&" {
                let (decoded, next) = entity(s, at: i)
                out.append(contentsOf: decoded.unicodeScalars)
                i = next
            } else if c == "<", i + 1 < n, startsTag(s[i + 1]) {
                if matches(s, at: i, "<!--") {
                    i = find(s, "-->", from: i + 4).map { $0 + 3 } ?? n
                    out.append(" ")
                    continue
                }
                var j = i + 1
                let closing = s[j] == "/"
                if closing { j += 1 }
                var name = ""
                while j < n, isNameScalar(s[j]) {
                    name.unicodeScalars.append(lowercased(s[j]))
                    j += 1
                }
                let tagEnd = endOfTag(s, from: j)
                if !closing, name == "script" || name == "style" || name == "title" {
                    let close = find(s, "</\(name)", from: tagEnd) ?? n
                    if name == "title", title == nil {
                        let inner = String(String.UnicodeScalarView(s[tagEnd..<close]))
                        let text = collapse(decodeEntities(inner)).replacing("\n", with: " ")
                        if !text.isEmpty { title = text }
                    }
                    i = close < n ? endOfTag(s, from: close + 2) : n
                    out.append(" ")
                    continue
                }
                out.append(contentsOf: separator(forTag: name).unicodeScalars)
                i = tagEnd
            } else if c.properties.isWhitespace {
                out.append(" ")  // whitespace in HTML source is insignificant
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return (title, collapse(String(out)))
    }

    // MARK: - Tags

    private static let paragraphTags: Set<String> = [
        "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr",
        "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
        "tr", "ul",
    ]

    private static func separator(forTag name: String) -> String {
        if name == "br" { return "\n" }
        if name == "td" || name == "th" { return " " }
        return paragraphTags.contains(name) ? "\n\n" : ""
    }

    private static func startsTag(_ c: Unicode.Scalar) -> Bool {
        c == "/" || c == "!" || c == "?" || (c.isASCII && c.properties.isAlphabetic)
    }

    private static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-")
    }

    private static func lowercased(_ c: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32)! : c
    }

    /// The index after the `>` closing the tag whose attributes start at `from` (quotes respected).
    private static func endOfTag(_ s: [Unicode.Scalar], from: Int) -> Int {
        var k = from
        var quote: Unicode.Scalar?
        while k < s.count {
            let c = s[k]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == ">" {
                return k + 1
            }
            k += 1
        }
        return s.count
    }

    private static func matches(_ s: [Unicode.Scalar], at i: Int, _ pattern: String) -> Bool {
        var k = i
        for p in pattern.unicodeScalars {
            guard k < s.count, lowercased(s[k]) == p else { return false }
            k += 1
        }
        return true
    }

    /// The first index at or after `from` where `pattern` (lowercase) starts, ignoring ASCII case.
    private static func find(_ s: [Unicode.Scalar], _ pattern: String, from: Int) -> Int? {
        var i = from
        while i < s.count {
            if matches(s, at: i, pattern) { return i }
            i += 1
        }
        return nil
    }

    // MARK: - Entities

    private static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ",
    ]

    /// The entity starting at `s[i] == "&"` decoded, and the index after it; an unknown or malformed
    /// reference stays as a literal `&`.
    private static func entity(_ s: [Unicode.Scalar], at i: Int) -> (String, Int) {
        var k = i + 1
        var name = ""
        while k < s.count, k - i <= 10, s[k] != ";" {
            name.unicodeScalars.append(s[k])
            k += 1
        }
        guard k < s.count, s[k] == ";", !name.isEmpty else { return ("&", i + 1) }
        if let named = namedEntities[name] { return (named, k + 1) }
        if name.hasPrefix("#") {
            var digits = name.dropFirst()
            var radix = 10
            if digits.first == "x" || digits.first == "X" {
                digits = digits.dropFirst()
                radix = 16
            }
            if !digits.isEmpty, let value = UInt32(digits, radix: radix), let scalar = Unicode.Scalar(value),
                value != 0
            {
                return (scalar == "\u{A0}" ? " " : String(scalar), k + 1)
            }
        }
        return ("&", i + 1)
    }

    private static func decodeEntities(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "&" {
                let (decoded, next) = entity(s, at: i)
                out.append(contentsOf: decoded.unicodeScalars)
                i = next
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }

    // MARK: - Whitespace

    /// Each whitespace run becomes a blank line (two or more line breaks in it), a line break (one), or a
    /// space; leading and trailing whitespace is dropped.
    static func collapse(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingBreaks = -1  // -1: no pending whitespace
        for c in text.unicodeScalars {
            if c.properties.isWhitespace {
                pendingBreaks = max(pendingBreaks, 0) + (c == "\n" ? 1 : 0)
                continue
            }
            if pendingBreaks >= 0, !out.isEmpty {
                out.append(contentsOf: (pendingBreaks >= 2 ? "\n\n" : pendingBreaks == 1 ? "\n" : " ").unicodeScalars)
            }
            pendingBreaks = -1
            out.append(c)
        }
        return String(out)
    }
}

import Foundation
import SwitchyardJSON

/// Makes audit details safe to keep: keys that look like credentials are dropped, home directories
/// become `~`, e-mail addresses become `[email]` — in nested objects and arrays too.
///
/// ```swift
/// AuditSanitizer.sanitize(["api_token": "x", "path": "/home/ana/docs", "by": "ana@example.org"])
/// // ["path": "~/docs", "by": "[email]"]
/// ```
public enum AuditSanitizer {
    /// Key fragments (case-insensitive) whose values are never recorded.
    public static let secretKeyFragments = ["password", "secret", "token", "key"]

    /// The sanitised copy of `details`.
    public static func sanitize(_ details: [String: JSONValue]) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (k, v) in details where !isSecret(k) { out[k] = sanitize(v) }
        return out
    }

    /// The sanitised copy of one value.
    public static func sanitize(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): .string(mask(s))
        case .array(let a): .array(a.map(sanitize))
        case .object(let o): .object(sanitize(o))
        default: value
        }
    }

    /// Whether a key names a credential.
    public static func isSecret(_ key: String) -> Bool {
        let k = key.lowercased()
        return secretKeyFragments.contains { k.contains($0) }
    }

    /// `text` with e-mail addresses and home directories masked.
    public static func mask(_ text: String) -> String {
        var s = maskEmails(text)
        s = maskHomes(s)
        if let home = currentHome, s.contains(home) {
            s = maskComponent(home, in: s)
        }
        return s
    }

    // MARK: - Scanners
    //
    // Hand-written rather than Regex: the string-processing runtime keeps a cache that LeakSanitizer
    // reports as leaked at exit, which made every ASan-built `switchyard` exit 1.

    private static func isLocalPart(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "._%+-".unicodeScalars.contains(c))
    }

    private static func isLabel(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-")
    }

    /// Whether `s` is `label(.label)*.tld`: labels of ASCII letters, digits and `-`, a final label of
    /// at least two letters.
    private static func isDomain(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty }), let tld = labels.last else { return false }
        return tld.count >= 2 && tld.allSatisfy { $0.isASCII && $0.properties.isAlphabetic }
    }

    /// `local@domain.tld` → `[email]`: the local part is the run of `A–Z a–z 0–9 . _ % + -` before an
    /// `@`, the domain the longest prefix of the run of `A–Z a–z 0–9 - .` after it that is a domain.
    static func maskEmails(_ text: String) -> String {
        guard text.contains("@") else { return text }
        let c = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var copied = 0
        var i = 0
        while i < c.count {
            guard c[i] == "@" else { i += 1; continue }
            var start = i
            while start > copied && isLocalPart(c[start - 1]) { start -= 1 }
            var runEnd = i + 1
            while runEnd < c.count && (isLabel(c[runEnd]) || c[runEnd] == ".") { runEnd += 1 }
            var end = runEnd
            while end > i + 1 && !isDomain(c[(i + 1)..<end]) { end -= 1 }
            if start < i && end > i + 1 {
                out.append(contentsOf: c[copied..<start])
                out.append(contentsOf: "[email]".unicodeScalars)
                copied = end
                i = end
            } else {
                i += 1
            }
        }
        out.append(contentsOf: c[copied...])
        return String(out)
    }

    /// `/home/<user>`, `/Users/<user>` and `/root` → `~`, each only where a path starts (at the start
    /// of the text or after whitespace or one of `" ' = : ( ,`) and as whole components.
    static func maskHomes(_ text: String) -> String {
        let c = Array(text.unicodeScalars)
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }
        func startsPath(at i: Int, after copied: Int) -> Bool {
            i == 0 || (i - 1 >= copied && (isSpace(c[i - 1]) || "\"'=:(,".unicodeScalars.contains(c[i - 1])))
        }
        func has(_ prefix: String, at i: Int) -> Bool {
            let p = Array(prefix.unicodeScalars)
            return i + p.count <= c.count && Array(c[i..<(i + p.count)]) == p
        }
        var out = String.UnicodeScalarView()
        var copied = 0
        var i = 0
        while i < c.count {
            guard c[i] == "/", startsPath(at: i, after: copied) else { i += 1; continue }
            var end: Int?
            for prefix in ["/home/", "/Users/"] where has(prefix, at: i) {
                var j = i + prefix.unicodeScalars.count
                while j < c.count && c[j] != "/" && c[j] != "\"" && c[j] != "'" && !isSpace(c[j]) { j += 1 }
                if j > i + prefix.unicodeScalars.count { end = j }
            }
            if end == nil, has("/root", at: i) {
                let j = i + 5
                if j == c.count || "/\"',)".unicodeScalars.contains(c[j]) || isSpace(c[j]) { end = j }
            }
            guard let end else { i += 1; continue }
            out.append(contentsOf: c[copied..<i])
            out.append("~")
            copied = end
            i = end
        }
        out.append(contentsOf: c[copied...])
        return String(out)
    }

    /// `text` with `prefix` replaced by `~` wherever it stands as whole path components.
    private static func maskComponent(_ prefix: String, in text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let r = rest.range(of: prefix) {
            let after = rest[r.upperBound...].first
            let before = r.lowerBound == rest.startIndex ? (out.last) : rest[rest.index(before: r.lowerBound)]
            let starts = before == nil || before!.isWhitespace || "\"'=:(,".contains(before!)
            let whole = starts && (after == nil || after == "/" || after!.isWhitespace || after == "\"" || after == "'")
            out += rest[..<r.lowerBound]
            out += whole ? "~" : String(rest[r])
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    private static let currentHome: String? = {
        let h = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return h == "/" || h.isEmpty ? nil : h
    }()
}

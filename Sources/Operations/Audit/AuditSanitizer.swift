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
        var s = text
        s = s.replacing(emailPattern, with: "[email]")
        s = s.replacing(homePattern) { m in m.output.1 + "~" }
        if let home = currentHome, s.contains(home) {
            s = maskComponent(home, in: s)
        }
        return s
    }

    // `local@domain.tld`
    nonisolated(unsafe) private static let emailPattern = #/[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}/#
    // `/home/<user>`, `/Users/<user>`, `/root` — each only where a path starts and as whole components.
    nonisolated(unsafe) private static let homePattern = #/(^|[\s"'=:(,])(?:/home/[^/\s"']+|/Users/[^/\s"']+|/root)(?=/|$|[\s"',)])/#

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

/// A path into a payload, in Qdrant's syntax: `a.b`, `a[].b` (every element of array `a`), `a[2].b`.
public struct PayloadPath: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case key(String)
        case allElements
        case index(Int)
    }

    public let segments: [Segment]
    public let description: String

    /// Parses a path.
    ///
    /// - Throws: ``StoreError`` (`invalidArgument`) for an empty path, an empty segment, or a bad bracket.
    public init(_ text: String) throws(StoreError) {
        guard !text.isEmpty else { throw .invalid("filter key must not be empty") }
        var segs: [Segment] = []
        var current = ""
        var chars = Array(text)[...]
        func flush() throws(StoreError) {
            guard !current.isEmpty else { throw .invalid("filter key '\(text)' has an empty segment") }
            segs.append(.key(current))
            current = ""
        }
        var justClosedBracket = false
        while let c = chars.first {
            chars.removeFirst()
            switch c {
            case ".":
                if justClosedBracket { justClosedBracket = false; continue }
                try flush()
            case "[":
                if !current.isEmpty { try flush() } else if segs.isEmpty {
                    throw .invalid("filter key '\(text)' cannot start with '['")
                }
                var inner = ""
                while let d = chars.first, d != "]" { inner.append(d); chars.removeFirst() }
                guard chars.first == "]" else { throw .invalid("filter key '\(text)' has an unclosed '['") }
                chars.removeFirst()
                if inner.isEmpty {
                    segs.append(.allElements)
                } else if let n = Int(inner), n >= 0 {
                    segs.append(.index(n))
                } else {
                    throw .invalid("filter key '\(text)' has a bad index '[\(inner)]'")
                }
                justClosedBracket = true
                if let n = chars.first, n != ".", n != "[" {
                    throw .invalid("filter key '\(text)' needs '.' after ']'")
                }
                continue
            default:
                current.append(c)
            }
            justClosedBracket = false
        }
        if !current.isEmpty { segs.append(.key(current)) } else if !justClosedBracket {
            throw .invalid("filter key '\(text)' has an empty segment")
        }
        segments = segs
        description = text
    }

    /// The values found at this path: a key on a non-object or a missing key yields nothing; `[]`
    /// expands arrays; the values at the end are returned as found (arrays included).
    func values(in root: JSONValue) -> [JSONValue] {
        var current: [JSONValue] = [root]
        for seg in segments {
            var next: [JSONValue] = []
            for v in current {
                switch seg {
                case .key(let k):
                    if case .object(let o) = v, let x = o[k] { next.append(x) }
                case .allElements:
                    if case .array(let a) = v { next.append(contentsOf: a) }
                case .index(let n):
                    if case .array(let a) = v, n < a.count { next.append(a[n]) }
                }
            }
            current = next
            if current.isEmpty { break }
        }
        return current
    }
}

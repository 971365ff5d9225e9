extension JSONValue {
    /// Compact JSON text with object members in sorted order (so equal values print equally).
    ///
    /// Doubles print in the shortest form that reads back exactly and always with a `.` or exponent,
    /// so a float stays a float.
    public var jsonText: String {
        var out = JSONBytes()
        write(to: &out, indent: nil, level: 0)
        return out.text
    }

    /// Indented JSON text (two spaces), members sorted.
    public var prettyJSONText: String {
        var out = JSONBytes()
        write(to: &out, indent: "  ", level: 0)
        return out.text
    }

    func write(to out: inout JSONBytes, indent: String?, level: Int) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .int(let v): out.append(String(v))
        case .uint(let v): out.append(String(v))
        case .double(let d):
            if !d.isFinite {
                out.append("null")
            } else {
                let s = d.description
                out.append(s)
                if !s.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) { out.append(".0") }
            }
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty { out.append("[]"); return }
            out.append(UInt8(ascii: "["))
            for (n, e) in a.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if let indent { out.newline(indent, level + 1) }
                e.write(to: &out, indent: indent, level: level + 1)
            }
            if let indent { out.newline(indent, level) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty { out.append("{}"); return }
            out.append(UInt8(ascii: "{"))
            for (n, key) in o.keys.sorted().enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if let indent { out.newline(indent, level + 1) }
                Self.writeString(key, to: &out)
                out.append(indent == nil ? ":" : ": ")
                o[key]!.write(to: &out, indent: indent, level: level + 1)
            }
            if let indent { out.newline(indent, level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or `\u00XX`, everything
    /// else (non-ASCII included) copied as its UTF-8 bytes. Byte by byte is exact: a multi-byte UTF-8 sequence
    /// holds no byte below 0x80.
    static func writeString(_ s: String, to out: inout JSONBytes) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                out.append(UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
                switch b {
                case UInt8(ascii: "\""): out.append("\\\"")
                case UInt8(ascii: "\\"): out.append("\\\\")
                case UInt8(ascii: "\n"): out.append("\\n")
                case UInt8(ascii: "\r"): out.append("\\r")
                case UInt8(ascii: "\t"): out.append("\\t")
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append("\\u00")
                    out.append(hex[Int(b >> 4)])
                    out.append(hex[Int(b & 0xf)])
                }
            }
            out.append(UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The bytes of JSON text being written. Appending to a byte array and decoding once at the end is several
/// times faster than appending the pieces to a `String` (a reindex's switch writes its ~100 KB validation
/// report twice, on a path readers wait on).
struct JSONBytes {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ byte: UInt8) { bytes.append(byte) }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }

    mutating func newline(_ indent: String, _ level: Int) {
        bytes.append(UInt8(ascii: "\n"))
        for _ in 0..<level { append(indent) }
    }
}

import Foundation
import VectorMath

/// A point's id, as in Qdrant: an unsigned 64-bit integer or a UUID.
///
/// Ordering (used by scroll and to break score ties): every integer id before every UUID,
/// integers numerically, UUIDs by their 128-bit value.
public enum PointID: Sendable, Hashable, Comparable, CustomStringConvertible {
    case number(UInt64)
    case uuid(UUID)

    /// Parses `"42"` (a non-negative integer) or a UUID (`"550e8400-e29b-41d4-a716-446655440000"`,
    /// also without hyphens, `urn:uuid:` prefixed or in braces).
    public init?(parsing text: String) {
        if let n = UInt64(text) {
            self = .number(n)
            return
        }
        var t = text.lowercased()
        if t.hasPrefix("urn:uuid:") { t.removeFirst(9) }
        if t.hasPrefix("{") && t.hasSuffix("}") { t = String(t.dropFirst().dropLast()) }
        if t.count == 32, t.allSatisfy(\.isHexDigit) {
            let c = Array(t)
            t = String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
        }
        guard let u = UUID(uuidString: t) else { return nil }
        self = .uuid(u)
    }

    /// Reads an id from JSON: a non-negative integer or a UUID string.
    public init?(json: JSONValue) {
        switch json {
        case .int(let i) where i >= 0: self = .number(UInt64(i))
        case .uint(let u): self = .number(u)
        case .string(let s):
            guard let id = PointID(parsing: s), case .uuid = id else { return nil }
            self = id
        default: return nil
        }
    }

    /// The id as JSON: a number, or a lower-case hyphenated UUID string.
    public var json: JSONValue {
        switch self {
        case .number(let n): n <= UInt64(Int64.max) ? .int(Int64(n)) : .uint(n)
        case .uuid(let u): .string(u.uuidString.lowercased())
        }
    }

    public var description: String {
        switch self {
        case .number(let n): String(n)
        case .uuid(let u): u.uuidString.lowercased()
        }
    }

    /// The sort key used by the search kernels to break ties.
    public var rowKey: RowKey {
        switch self {
        case .number(let n): return RowKey(kind: 0, high: 0, low: n)
        case .uuid(let u):
            // The 16 bytes, big-endian, as two integers (no allocation: this runs per point on hot paths).
            let (hi, lo) = withUnsafeBytes(of: u.uuid) { raw in
                (UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            return RowKey(kind: 1, high: hi, low: lo)
        }
    }

    /// Rebuilds an id from its row key.
    public init(rowKey k: RowKey) {
        if k.kind == 0 {
            self = .number(k.low)
        } else {
            var t: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &t) { raw in
                raw.storeBytes(of: k.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: k.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            self = .uuid(UUID(uuid: t))
        }
    }

    /// The id as the BLOB the database orders by (a kind byte, then big-endian bytes).
    var storageKey: Data {
        let k = rowKey
        var d = Data(capacity: 17)
        d.append(k.kind)
        if k.kind == 0 {
            withUnsafeBytes(of: k.low.bigEndian) { d.append(contentsOf: $0) }
        } else {
            withUnsafeBytes(of: k.high.bigEndian) { d.append(contentsOf: $0) }
            withUnsafeBytes(of: k.low.bigEndian) { d.append(contentsOf: $0) }
        }
        return d
    }

    /// Decodes ``storageKey``.
    init?(storageKey d: Data) {
        let b = [UInt8](d)
        func be(_ s: ArraySlice<UInt8>) -> UInt64 { s.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        if b.count == 9, b[0] == 0 {
            self = .number(be(b[1..<9]))
        } else if b.count == 17, b[0] == 1 {
            self.init(rowKey: RowKey(kind: 1, high: be(b[1..<9]), low: be(b[9..<17])))
        } else {
            return nil
        }
    }

    public static func < (a: PointID, b: PointID) -> Bool { a.rowKey < b.rowKey }
}

/// A point's payload: a JSON object.
public typealias Payload = [String: JSONValue]

/// A point as stored: id, vector and payload.
public struct Point: Sendable, Equatable {
    public var id: PointID
    public var vector: [Float]
    public var payload: Payload

    public init(id: PointID, vector: [Float], payload: Payload = [:]) {
        self.id = id
        self.vector = vector
        self.payload = payload
    }
}

/// A point read back: the vector and payload are present only when asked for.
public struct Record: Sendable, Equatable {
    public var id: PointID
    public var vector: [Float]?
    public var payload: Payload?

    public init(id: PointID, vector: [Float]? = nil, payload: Payload? = nil) {
        self.id = id
        self.vector = vector
        self.payload = payload
    }
}

/// A search result: id, score (Qdrant's convention for the collection's distance) and optional data.
public struct ScoredPoint: Sendable, Equatable {
    public var id: PointID
    public var score: Float
    public var vector: [Float]?
    public var payload: Payload?

    public init(id: PointID, score: Float, vector: [Float]? = nil, payload: Payload? = nil) {
        self.id = id
        self.score = score
        self.vector = vector
        self.payload = payload
    }
}

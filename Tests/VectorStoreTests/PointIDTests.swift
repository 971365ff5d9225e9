import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("PointID")
struct PointIDTests {
    static let uuid = "550e8400-e29b-41d4-a716-446655440000"

    @Test("parses integers and UUID spellings", arguments: [
        ("0", PointID.number(0)), ("42", .number(42)), ("18446744073709551615", .number(UInt64.max)),
        ("9007199254740993", .number(9_007_199_254_740_993)),
        (uuid, .uuid(UUID(uuidString: uuid)!)),
        (uuid.uppercased(), .uuid(UUID(uuidString: uuid)!)),
        ("550e8400e29b41d4a716446655440000", .uuid(UUID(uuidString: uuid)!)),
        ("urn:uuid:\(uuid)", .uuid(UUID(uuidString: uuid)!)),
        ("{\(uuid)}", .uuid(UUID(uuidString: uuid)!)),
    ])
    func parses(text: String, expected: PointID) {
        #expect(PointID(parsing: text) == expected)
    }

    @Test("rejects what is neither", arguments: [
        "", "-1", "18446744073709551616", "1.0", "abc", " 42", "0x10",
        "550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-4466554400000", "g50e8400-e29b-41d4-a716-446655440000",
    ])
    func rejects(text: String) {
        #expect(PointID(parsing: text) == nil)
    }

    @Test("JSON: non-negative integers and UUID strings only")
    func json() {
        #expect(PointID(json: .int(7)) == .number(7))
        #expect(PointID(json: .uint(UInt64.max)) == .number(UInt64.max))
        #expect(PointID(json: .string(Self.uuid)) == .uuid(UUID(uuidString: Self.uuid)!))
        #expect(PointID(json: .int(-1)) == nil)
        #expect(PointID(json: .string("7")) == nil, "an integer id is a JSON number, not a string")
        #expect(PointID(json: .double(7)) == nil)
        #expect(PointID(json: .bool(true)) == nil)
        #expect(PointID(json: .null) == nil)

        #expect(PointID.number(5).json == .int(5))
        #expect(PointID.number(UInt64(Int64.max)).json == .int(Int64.max))
        #expect(PointID.number(UInt64(Int64.max) + 1).json == .uint(UInt64(Int64.max) + 1))
        #expect(PointID(parsing: Self.uuid.uppercased())!.json == .string(Self.uuid))
        #expect(PointID(parsing: Self.uuid.uppercased())!.description == Self.uuid)
        #expect(PointID.number(12).description == "12")
    }

    @Test("ids above 2^53 stay exact through JSON")
    func exactLargeIntegers() throws {
        let a = try #require(PointID(json: try JSONParser.parse("9007199254740993")))
        let b = try #require(PointID(json: try JSONParser.parse("9007199254740992")))
        #expect(a == .number(9_007_199_254_740_993))
        #expect(a != b && b < a)
        let max = try #require(PointID(json: try JSONParser.parse("18446744073709551615")))
        let belowMax = try #require(PointID(json: try JSONParser.parse("18446744073709551614")))
        #expect(belowMax < max)
        #expect(try JSONParser.parse(max.json.jsonText) == .uint(UInt64.max))
    }

    @Test("ordering: integers numerically, then UUIDs by their 128-bit value")
    func ordering() {
        var rng = SplitMix64(seed: 3)
        var ids: [PointID] = [.number(0), .number(2), .number(10), .number(UInt64.max), .number(1 << 53), .number((1 << 53) + 1)]
        for _ in 0..<40 { ids.append(.number(rng.next() >> UInt64(rng.nextInt(below: 64)))) }
        for _ in 0..<40 {
            let bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            ids.append(.uuid(Self.uuid(bytes)))
        }
        ids.append(.uuid(Self.uuid([UInt8](repeating: 0, count: 16))))
        ids.append(.uuid(Self.uuid([UInt8](repeating: 0xFF, count: 16))))
        ids.shuffle(using: &rng)
        let sorted = ids.sorted()
        // Every integer before every UUID.
        let firstUUID = sorted.firstIndex { if case .uuid = $0 { true } else { false } } ?? sorted.count
        #expect(sorted[..<firstUUID].allSatisfy { if case .number = $0 { true } else { false } })
        #expect(sorted[firstUUID...].allSatisfy { if case .uuid = $0 { true } else { false } })
        // Integers numerically.
        let numbers: [UInt64] = sorted[..<firstUUID].map { id -> UInt64 in
            if case .number(let n) = id { return n }
            return 0
        }
        #expect(numbers == numbers.sorted())
        // UUIDs by bytes, big-endian.
        let uuidBytes = sorted[firstUUID...].map { id -> [UInt8] in
            guard case .uuid(let u) = id else { return [] }
            return withUnsafeBytes(of: u.uuid) { [UInt8]($0) }
        }
        #expect(uuidBytes == uuidBytes.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(PointID.number(UInt64.max) < .uuid(Self.uuid([UInt8](repeating: 0, count: 16))))
        #expect(PointID.number(2) < .number(10))
        // The row key orders the same way and round-trips.
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.rowKey < b.rowKey || a == b) }
        for id in ids { #expect(PointID(rowKey: id.rowKey) == id) }
    }

    static func uuid(_ b: [UInt8]) -> UUID {
        UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

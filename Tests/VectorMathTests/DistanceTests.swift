import Foundation
import Testing
import VectorMath

@Suite("Distance")
struct DistanceTests {
    @Test("parses Qdrant's names and aliases case-insensitively", arguments: [
        ("Cosine", Distance.cosine), ("cosine", .cosine), ("COSINE", .cosine),
        ("Dot", .dot), ("dot", .dot),
        ("Euclid", .euclid), ("euclidean", .euclid), ("L2", .euclid),
        ("Manhattan", .manhattan), ("l1", .manhattan),
    ])
    func parses(name: String, expected: Distance) {
        #expect(Distance(parsing: name) == expected)
    }

    @Test("rejects other names", arguments: ["", "cos", "dot ", " Dot", "euclid2", "hamming", "L3"])
    func rejects(name: String) {
        #expect(Distance(parsing: name) == nil)
    }

    @Test("raw values and Codable use Qdrant's spelling")
    func rawValues() throws {
        #expect(Distance.allCases.map(\.rawValue) == ["Cosine", "Dot", "Euclid", "Manhattan"])
        for d in Distance.allCases {
            #expect(Distance(parsing: d.rawValue) == d)
            let data = try JSONEncoder().encode([d])
            #expect(String(decoding: data, as: UTF8.self) == "[\"\(d.rawValue)\"]")
            #expect(try JSONDecoder().decode([Distance].self, from: data) == [d])
        }
    }

    @Test("score direction and strict comparison")
    func direction() {
        #expect(Distance.cosine.higherIsBetter && Distance.dot.higherIsBetter)
        #expect(!Distance.euclid.higherIsBetter && !Distance.manhattan.higherIsBetter)
        for d in [Distance.cosine, .dot] {
            #expect(d.isStrictlyBetter(0.9, than: 0.5))
            #expect(!d.isStrictlyBetter(0.5, than: 0.5))
            #expect(!d.isStrictlyBetter(0.4, than: 0.5))
        }
        for d in [Distance.euclid, .manhattan] {
            #expect(d.isStrictlyBetter(0.4, than: 0.5))
            #expect(!d.isStrictlyBetter(0.5, than: 0.5))
            #expect(!d.isStrictlyBetter(0.9, than: 0.5))
        }
        #expect(Measure(.cosine) == .dot && Measure(.dot) == .dot)
        #expect(Measure(.euclid) == .l2Squared && Measure(.manhattan) == .l1)
    }
}

import Testing
import VectorStore

@Suite("PayloadPath")
struct PayloadPathTests {
    @Test("parses Qdrant's key syntax", arguments: [
        ("a", [PayloadPath.Segment.key("a")]),
        ("city.name", [.key("city"), .key("name")]),
        ("a.b.c", [.key("a"), .key("b"), .key("c")]),
        ("a[]", [.key("a"), .allElements]),
        ("a[].b", [.key("a"), .allElements, .key("b")]),
        ("a[2].b", [.key("a"), .index(2), .key("b")]),
        ("a[0]", [.key("a"), .index(0)]),
        ("a[][]", [.key("a"), .allElements, .allElements]),
        ("a[1][]", [.key("a"), .index(1), .allElements]),
        ("rating_2-x", [.key("rating_2-x")]),
        ("ключ.é", [.key("ключ"), .key("é")]),
    ])
    func parses(text: String, segments: [PayloadPath.Segment]) throws {
        let p = try PayloadPath(text)
        #expect(p.segments == segments)
        #expect(p.description == text)
    }

    @Test("rejects malformed keys with an invalidArgument error naming the key", arguments: [
        "", ".a", "a.", "a..b", "[0]", "[]", "a[", "a[1", "a[x]", "a[-1]", "a[]b", "a[1]b", "a[].",
    ])
    func rejects(text: String) {
        let error = #expect(throws: StoreError.self) { try PayloadPath(text) }
        #expect(error?.code == .invalidArgument)
        if !text.isEmpty { #expect(error?.message.contains("'\(text)'") == true, "\(error?.message ?? "")") }
    }
}

import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("switchyard demo")
struct DemoTests {
    static var datasets: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Datasets").path
    }

    @Test("the demo switches the alias with zero reader errors and leaves a consistent store")
    func demo() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = (Self.datasets as NSString).appendingPathComponent("fixtures/mini-beir")
            let r = try CLI.run(["demo", "--dir", store, "--dataset", mini, "--readers", "2"])
            #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("passed, alias switched"))
            #expect(r.stdout.contains(" 0 errors"), "\(r.stdout)")
            let aliases = try CLI.run(["store", "aliases", "list", "--store", store, "--json"])
            #expect(aliases.stdout.contains(#"{"alias":"docs","collection":"docs_v2"}"#))
            // The old generation is kept for rollback.
            let list = try CLI.run(["store", "collections", "list", "--store", store, "--json"])
            #expect(list.stdout.contains(#""name":"docs_v1""#))
        }
    }

    @Test("a worse new embedder is rejected: exit 1, alias unchanged")
    func rejected() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let r = try CLI.run(["demo", "--dir", store, "--dataset", (Self.datasets as NSString).appendingPathComponent("wordnet-defs"),
                                 "--readers", "1", "--old", "hash-v2", "--new", "hash:dim=8"])
            #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("REJECTED"))
            let aliases = try CLI.run(["store", "aliases", "list", "--store", store, "--json"])
            #expect(aliases.stdout.contains(#"{"alias":"docs","collection":"docs_v1"}"#))
        }
    }
}

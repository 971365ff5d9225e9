import Embedding
import Foundation
import Testing
import _SwitchyardTestSupport

private let fixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Datasets/fixtures").path
}()

private func write(_ text: String, to path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Reads every entry of `source`'s catalog back, as the managed layer does one document at a time.
private func readBack(_ source: TextSource) throws -> SourceScan {
    let catalog = try source.catalog()
    return SourceScan(documents: try catalog.entries.map { try source.read($0) }, issues: catalog.issues)
}

@Suite("Source catalogs: documents without their text, read again one at a time")
struct SourceCatalogTests {
    @Test("a catalog read back gives exactly what a scan gives", arguments: [
        (SourceKind.directory, "tree"), (.beir, "mini-beir"), (.jsonl, "malformed.jsonl"), (.jsonl, "mini-beir/corpus.jsonl"),
        (.file, "tree/readme.txt"),
    ])
    func catalogMatchesScan(kind: SourceKind, name: String) throws {
        let source = TextSource(kind: kind, path: (fixtures as NSString).appendingPathComponent(name))
        let scan = try source.scan()
        #expect(!scan.documents.isEmpty)
        #expect(try readBack(source) == scan)
        let catalog = try source.catalog()
        #expect(catalog.entries.map(\.id) == scan.documents.map(\.id))
        #expect(catalog.entries.map(\.contentHash) == scan.documents.map(\.contentHash))
        #expect(catalog.entries.map(\.size) == scan.documents.map(\.size))
        #expect(catalog.issues == scan.issues)
    }

    @Test("records are found again by their place in the file: CRLF, blank and bad lines, lines across read pieces")
    func recordsAcrossPieces() throws {
        try withTemporaryDirectory { dir in
            // Lines longer than the reader's 1 MiB pieces, so some start in one piece and end in the next.
            var lines: [String] = []
            for i in 0..<7 {
                let text = String(repeating: "w\(i) ", count: 90_000 + i * 1_000)
                lines.append(#"{"id": "r\#(i)", "title": "T\#(i)", "text": "\#(text)", "n": \#(i)}"#)
            }
            lines.insert("", at: 2)
            lines.insert("{broken", at: 4)
            let path = dir.appending("big.jsonl")
            try write(lines.joined(separator: "\r\n") + "\n", to: path)
            let source = TextSource(kind: .jsonl, path: path)
            let scan = try source.scan()
            #expect(scan.documents.count == 7)
            #expect(scan.issues.map(\.line) == [5])
            #expect(try readBack(source) == scan)
            let catalog = try source.catalog()
            #expect(catalog.entries.map(\.line) == [1, 2, 4, 6, 7, 8, 9])

            // The last line without a line break.
            let open = dir.appending("open.jsonl")
            try write(#"{"id": "x", "text": "first"}"# + "\n" + #"{"id": "y", "text": "last"}"#, to: open)
            let unterminated = TextSource(kind: .jsonl, path: open)
            #expect(try readBack(unterminated) == unterminated.scan())
            #expect(try unterminated.read(unterminated.catalog().entries[1]).text == "last")
        }
    }

    @Test("problems found while walking and while reading come out in path order")
    func issueOrder() throws {
        try withTemporaryDirectory { dir in
            let root = dir.appending("docs")
            try write("ok", to: root + "/0.txt")
            try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
            try Data([0x61, 0x00, 0x62]).write(to: URL(fileURLWithPath: root + "/a/binary.txt"))  // read: NUL byte
            try FileManager.default.createSymbolicLink(atPath: root + "/b.txt", withDestinationPath: root + "/missing.txt")  // walk: broken link
            try Data([0xff, 0xfe]).write(to: URL(fileURLWithPath: root + "/c.md"))  // read: not UTF-8
            try FileManager.default.createSymbolicLink(atPath: root + "/d.txt", withDestinationPath: root + "/gone.txt")  // walk
            let source = TextSource(kind: .directory, path: root)
            let names = try source.catalog().issues.map { ($0.path as NSString).lastPathComponent }
            #expect(names == ["binary.txt", "b.txt", "c.md", "d.txt"])
            #expect(try source.scan().issues.map { ($0.path as NSString).lastPathComponent } == names)
        }
    }

    @Test("an entry whose file changed, shrank or vanished since the catalog is refused, naming it")
    func changedSinceTheCatalog() throws {
        try withTemporaryDirectory { dir in
            try write("alpha beta", to: dir.appending("docs/a.txt"))
            try write("gamma", to: dir.appending("docs/b.md"))
            let files = TextSource(kind: .directory, path: dir.appending("docs"))
            let entries = try files.catalog().entries
            #expect(entries.map(\.id) == ["a.txt", "b.md"])
            #expect(entries.map(\.line) == [nil, nil])
            #expect(try files.read(entries[0]).text == "alpha beta")

            try write("alpha beta, changed", to: dir.appending("docs/a.txt"))
            let changed = #expect(throws: EmbeddingError.self) { try files.read(entries[0]) }
            #expect(changed?.message.contains("a.txt") == true)
            #expect(changed?.message.contains("changed since the source was scanned") == true)
            try FileManager.default.removeItem(atPath: dir.appending("docs/b.md"))
            let gone = #expect(throws: EmbeddingError.self) { try files.read(entries[1]) }
            #expect(gone?.message.contains("b.md: cannot read") == true)

            let path = dir.appending("c.jsonl")
            try write(#"{"id": 1, "text": "one"}"# + "\n" + #"{"id": 2, "text": "two"}"# + "\n", to: path)
            let records = TextSource(kind: .jsonl, path: path)
            let recordEntries = try records.catalog().entries
            #expect(try records.read(recordEntries[1]).text == "two")
            // Same length, other content: the hash no longer matches.
            try write(#"{"id": 1, "text": "one"}"# + "\n" + #"{"id": 2, "text": "TWO"}"# + "\n", to: path)
            let edited = #expect(throws: EmbeddingError.self) { try records.read(recordEntries[1]) }
            #expect(edited?.message.contains("c.jsonl:2: document 2 changed") == true)
            // Another record now where the line was.
            try write(#"{"id": 1, "text": "one"}"# + "\n" + #"{"id": 3, "text": "two"}"# + "\n", to: path)
            #expect(throws: EmbeddingError.self) { try records.read(recordEntries[1]) }
            try write(#"{"id": 1, "text": "one"}"# + "\n", to: path)
            let short = #expect(throws: EmbeddingError.self) { try records.read(recordEntries[1]) }
            #expect(short?.message.contains("c.jsonl:2: the file is shorter") == true)
            #expect(try records.read(recordEntries[0]).text == "one")
        }
    }
}

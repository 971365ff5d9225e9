import Crypto
import Embedding
import Foundation
import Testing
import _SwitchyardTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The committed fixtures under `Datasets/fixtures` (see its README).
private let fixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Datasets/fixtures").path
}()

private func fixture(_ name: String) -> String { (fixtures as NSString).appendingPathComponent(name) }

private func write(_ text: String, to path: String) throws {
    try write(Data(text.utf8), to: path)
}

private func write(_ data: Data, to path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try data.write(to: URL(fileURLWithPath: path))
}

private func sha256(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

private func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }

/// Scans one file of kind `.file` holding `contents` under `name`.
private func scanFile(named name: String, _ contents: String) throws -> SourceScan {
    try withTemporaryDirectory { dir in
        let path = dir.appending(name)
        try write(contents, to: path)
        return try TextSource(kind: .file, path: path).scan()
    }
}

@Suite("Text sources")
struct SourceTests {
    // MARK: - Detection

    @Test("detect picks the kind from what is at the path")
    func detect() throws {
        #expect(try TextSource.detect(path: fixture("tree")).kind == .directory)
        #expect(try TextSource.detect(path: fixture("mini-beir")).kind == .beir)
        #expect(try TextSource.detect(path: fixture("malformed.jsonl")).kind == .jsonl)
        #expect(try TextSource.detect(path: fixture("tree/readme.txt")).kind == .file)
        #expect(try TextSource.detect(path: fixture("mini-beir/corpus.jsonl")).kind == .jsonl)
        let detected = try TextSource.detect(path: fixture("tree"), maxFileBytes: 7)
        #expect(detected.path == fixture("tree") && detected.maxFileBytes == 7)
        #expect(try TextSource.detect(path: fixture("tree")).maxFileBytes == 500_000_000)
        #expect(TextSource.defaultMaxFileBytes == 500_000_000)
    }

    @Test("a missing source path is an error", arguments: SourceKind.allCases)
    func missingPath(kind: SourceKind) throws {
        try withTemporaryDirectory { dir in
            let missing = dir.appending("nope")
            #expect(throws: EmbeddingError.self) { try TextSource.detect(path: missing) }
            do throws(EmbeddingError) {
                _ = try TextSource(kind: kind, path: missing).scan()
                Issue.record("scan of a missing path did not throw")
            } catch {
                #expect(error.code == .invalidInput)
                #expect(error.message.contains(missing))
            }
        }
    }

    @Test("a source of the wrong kind is an error")
    func wrongKind() {
        #expect(throws: EmbeddingError.self) { try TextSource(kind: .directory, path: fixture("tree/readme.txt")).scan() }
        #expect(throws: EmbeddingError.self) { try TextSource(kind: .file, path: fixture("tree")).scan() }
        #expect(throws: EmbeddingError.self) { try TextSource(kind: .jsonl, path: fixture("tree")).scan() }
        #expect(throws: EmbeddingError.self) { try TextSource(kind: .beir, path: fixture("tree")).scan() }
    }

    // MARK: - Directory

    @Test("the fixture tree: five documents sorted by relative path, bad.txt reported, blob.bin skipped")
    func fixtureTree() throws {
        let scan = try TextSource(kind: .directory, path: fixture("tree")).scan()
        #expect(
            scan.documents.map(\.id) == [
                "data/items.json", "guides/advanced/tuning.md", "guides/intro.md", "pages/index.html", "readme.txt",
            ])
        let keywords = ["mooring", "compass", "anchor", "seagull", "lighthouse"]
        for (doc, keyword) in zip(scan.documents, keywords) {
            let data = try Data(contentsOf: URL(fileURLWithPath: fixture("tree/\(doc.id)")))
            #expect(doc.path == fixture("tree/\(doc.id)"))
            #expect(doc.size == data.count)
            #expect(doc.contentHash == sha256(data))
            #expect(doc.text.contains(keyword))
            for other in keywords where other != keyword { #expect(!doc.text.contains(other)) }
        }
        #expect(scan.issues.count == 1)
        let issue = try #require(scan.issues.first)
        #expect(issue.path == fixture("tree/bad.txt"))
        #expect(issue.line == nil)
        #expect(issue.message.contains("UTF-8") && issue.message.contains("offset 26"))

        let byID = Dictionary(uniqueKeysWithValues: scan.documents.map { ($0.id, $0) })
        // JSON: string values, object members in key order (items, name, note), one per line.
        #expect(byID["data/items.json"]?.text == "rope\nsail\nfixture\nA JSON file that mentions the keyword mooring.")
        #expect(byID["data/items.json"]?.metadata == ["format": "json"])
        let html = try #require(byID["pages/index.html"])
        #expect(html.title == "Fixture page")
        #expect(html.text == "Tides & currents\n\nAn HTML page that mentions the keyword seagull.")
        #expect(html.metadata == ["format": "html"])
        #expect(byID["readme.txt"]?.text == "Fixture tree for directory sources.\nThis plain text file mentions the keyword lighthouse.\n")
        #expect(byID["guides/intro.md"]?.metadata == ["format": "md"])
        #expect(byID["readme.txt"]?.title == nil)
    }

    @Test("scans are deterministic, whatever order files were made in")
    func deterministicOrder() throws {
        try withTemporaryDirectory { dir in
            for name in ["z.txt", "b/a.md", "a.txt", "b/z.txt", "A.txt", "m/n/o.json"].reversed() {
                try write(name.hasSuffix(".json") ? "{\"k\": \"\(name)\"}" : "text of \(name)", to: dir.appending(name))
            }
            let first = try TextSource(kind: .directory, path: dir.path).scan()
            let second = try TextSource(kind: .directory, path: dir.path + "/").scan()
            #expect(first == second)
            #expect(first.documents.map(\.id) == ["A.txt", "a.txt", "b/a.md", "b/z.txt", "m/n/o.json", "z.txt"])
            #expect(first.issues.isEmpty)
        }
    }

    @Test("only .txt .md .html .json (any case) are read; hidden entries are skipped")
    func fileSelection() throws {
        try withTemporaryDirectory { dir in
            for name in [
                "a.txt", "b.MD", "c.Html", "d.JSON", "e.htm", "f.markdown", "skip.rst", "skip.bin", "noext",
                ".hidden.txt", ".git/config.txt", "sub/.secret.md",
            ] {
                try write(name.lowercased().hasSuffix(".json") ? "[\"x\"]" : "x", to: dir.appending(name))
            }
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(scan.documents.map(\.id) == ["a.txt", "b.MD", "c.Html", "d.JSON", "e.htm", "f.markdown"])
            #expect(scan.documents.map { $0.metadata["format"] } == ["txt", "md", "html", "json", "html", "md"])
            #expect(scan.issues.isEmpty)
        }
    }

    @Test("files above the size limit are reported and not read; files at the limit are read")
    func sizeLimit() throws {
        try withTemporaryDirectory { dir in
            try write("0123456789", to: dir.appending("at-limit.txt"))  // 10 bytes
            try write("0123456789A", to: dir.appending("over.txt"))  // 11 bytes
            let scan = try TextSource(kind: .directory, path: dir.path, maxFileBytes: 10).scan()
            #expect(scan.documents.map(\.id) == ["at-limit.txt"])
            #expect(scan.issues.count == 1)
            #expect(scan.issues.first?.path == dir.appending("over.txt"))
            #expect(scan.issues.first?.message.contains("11 bytes, above the limit of 10 bytes") == true)

            let single = try TextSource(kind: .file, path: dir.appending("over.txt"), maxFileBytes: 10).scan()
            #expect(single.documents.isEmpty && single.issues.count == 1)
        }
    }

    @Test("a file above the default 500 MB limit is reported without being read")
    func defaultSizeLimit() throws {
        try withTemporaryDirectory { dir in
            // A sparse file one byte over the limit: reading it would take seconds and 500 MB of memory.
            let path = dir.appending("huge.txt")
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: 500_000_001)
            try handle.close()
            try write("small", to: dir.appending("small.txt"))
            let started = ContinuousClock.now
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(scan.documents.map(\.id) == ["small.txt"])
            #expect(scan.issues.map(\.path) == [path])
            #expect(scan.issues.first?.message.contains("500000001 bytes") == true)
        }
    }

    @Test("non-UTF-8 and binary files are reported, with the offending offset")
    func notText() throws {
        try withTemporaryDirectory { dir in
            try write(Data("ok ".utf8) + Data([0xC3, 0x28]) + Data(" more".utf8), to: dir.appending("latin.txt"))
            try write(Data([0x00, 0x9F, 0xFF, 0x13]), to: dir.appending("blob.txt"))
            try write(Data("text\u{0}with a NUL".utf8), to: dir.appending("nul.md"))
            try write(Data([0xE2, 0x82]), to: dir.appending("truncated.txt"))  // a cut-off 3-byte sequence
            try write(Data([0xFF, 0xFE, 0x41, 0x00]), to: dir.appending("utf16.html"))
            try write("fine", to: dir.appending("fine.txt"))
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(scan.documents.map(\.id) == ["fine.txt"])
            let messages = Dictionary(uniqueKeysWithValues: scan.issues.map { (($0.path as NSString).lastPathComponent, $0.message) })
            #expect(messages.count == 5)
            #expect(messages["latin.txt"]?.contains("not valid UTF-8 (first bad byte at offset 3)") == true)
            #expect(messages["blob.txt"]?.contains("NUL byte at offset 0") == true)
            #expect(messages["nul.md"]?.contains("NUL byte at offset 4") == true)
            #expect(messages["truncated.txt"]?.contains("offset 0") == true)
            #expect(messages["utf16.html"]?.contains("NUL") == true)
        }
    }

    @Test("unreadable files, broken links and special files are reported, never fatal")
    func unreadable() throws {
        try withTemporaryDirectory { dir in
            try write("secret words", to: dir.appending("locked.txt"))
            #expect(chmod(dir.appending("locked.txt"), 0) == 0)
            try FileManager.default.createSymbolicLink(atPath: dir.appending("gone.txt"), withDestinationPath: dir.appending("missing.txt"))
            #expect(mkfifo(dir.appending("pipe.txt"), 0o644) == 0)  // reading a FIFO would block forever
            try write("fine", to: dir.appending("fine.txt"))
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            let reported = Dictionary(uniqueKeysWithValues: scan.issues.map { (($0.path as NSString).lastPathComponent, $0.message) })
            #expect(reported["gone.txt"]?.contains("cannot read") == true)
            #expect(reported["pipe.txt"] == "not a regular file")
            // chmod 000 only stops a non-root user; root (as in CI) reads the file anyway.
            if getuid() == 0 {
                #expect(scan.documents.map(\.id) == ["fine.txt", "locked.txt"])
                #expect(scan.issues.count == 2)
            } else {
                #expect(scan.documents.map(\.id) == ["fine.txt"])
                #expect(reported["locked.txt"]?.contains("cannot open") == true)
                #expect(scan.issues.count == 3)
            }
            _ = chmod(dir.appending("locked.txt"), 0o644)
        }
    }

    @Test("an unreadable subdirectory is reported and the scan goes on")
    func unreadableDirectory() throws {
        try withTemporaryDirectory { dir in
            try write("inner", to: dir.appending("closed/inner.txt"))
            try write("outer", to: dir.appending("open.txt"))
            #expect(chmod(dir.appending("closed"), 0) == 0)
            defer { _ = chmod(dir.appending("closed"), 0o755) }
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            if getuid() == 0 {
                #expect(scan.documents.map(\.id) == ["closed/inner.txt", "open.txt"])
            } else {
                #expect(scan.documents.map(\.id) == ["open.txt"])
                #expect(scan.issues.map(\.path) == [dir.appending("closed")])
            }
        }
    }

    @Test("links to files are read; links to directories are not followed (no cycles)")
    func symbolicLinks() throws {
        try withTemporaryDirectory { dir in
            try write("real text", to: dir.appending("real/file.txt"))
            try FileManager.default.createSymbolicLink(atPath: dir.appending("alias.txt"), withDestinationPath: dir.appending("real/file.txt"))
            try FileManager.default.createSymbolicLink(atPath: dir.appending("real/loop"), withDestinationPath: dir.path)
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(scan.documents.map(\.id) == ["alias.txt", "real/file.txt"])
            #expect(scan.documents[0].contentHash == scan.documents[1].contentHash)
            #expect(scan.issues.isEmpty)
        }
    }

    @Test("a malformed JSON file is reported; other files go on")
    func malformedJSONFile() throws {
        try withTemporaryDirectory { dir in
            try write("{\"a\": ", to: dir.appending("broken.json"))
            try write("{\"b\": {\"z\": \"last\", \"a\": [\"first\", 1, true, null, {\"m\": \"mid\"}]}, \"a\": \"\"}", to: dir.appending("nested.json"))
            try write("\"just a string\"", to: dir.appending("scalar.json"))
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(scan.documents.map(\.id) == ["nested.json", "scalar.json"])
            // Keys sorted at every level: a (empty, dropped), b → a → [first, mid], b → z → last.
            #expect(scan.documents[0].text == "first\nmid\nlast")
            #expect(scan.documents[1].text == "just a string")
            #expect(scan.issues.map(\.path) == [dir.appending("broken.json")])
            #expect(scan.issues.first?.message.hasPrefix("malformed JSON") == true)
        }
    }

    @Test("a byte-order mark is dropped from the text but kept in the hash; an empty file is an empty document")
    func bomAndEmpty() throws {
        try withTemporaryDirectory { dir in
            let bom = Data([0xEF, 0xBB, 0xBF]) + Data("hello".utf8)
            try write(bom, to: dir.appending("bom.txt"))
            try write(Data(), to: dir.appending("empty.txt"))
            let scan = try TextSource(kind: .directory, path: dir.path).scan()
            #expect(scan.documents.map(\.text) == ["hello", ""])
            #expect(scan.documents[0].contentHash == sha256(bom))
            #expect(scan.documents[1].contentHash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(scan.documents[1].size == 0)
        }
    }

    // MARK: - Single file

    @Test("a single file: the id is its name, the path absolute, HTML and JSON extracted, other names plain text")
    func singleFile() throws {
        let txt = try TextSource(kind: .file, path: fixture("tree/readme.txt")).scan()
        #expect(txt.documents.map(\.id) == ["readme.txt"])
        #expect(txt.documents.first?.path == fixture("tree/readme.txt"))
        let html = try TextSource(kind: .file, path: fixture("tree/pages/index.html")).scan()
        #expect(html.documents.first?.title == "Fixture page")
        let log = try scanFile(named: "notes.log", "<b>kept as is</b>")
        #expect(log.documents.first?.text == "<b>kept as is</b>")
        #expect(log.documents.first?.metadata == ["format": "txt"])
        let bad = try TextSource(kind: .file, path: fixture("tree/bad.txt")).scan()
        #expect(bad.documents.isEmpty && bad.issues.count == 1)
    }

    @Test("relative source paths are made absolute")
    func relativePath() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let relative = fixture("tree/readme.txt").hasPrefix(cwd + "/")
            ? String(fixture("tree/readme.txt").dropFirst(cwd.count + 1)) : nil
        guard let relative else { return }
        let scan = try TextSource(kind: .file, path: relative).scan()
        #expect(scan.documents.first?.path == fixture("tree/readme.txt"))
    }

    // MARK: - Hashing

    @Test("known SHA-256 values")
    func knownHashes() throws {
        #expect(ContentHash.sha256(of: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentHash.sha256(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentHash.sha256(of: Data("abc".utf8)) == ContentHash.sha256(of: "abc"))
        #expect(ContentHash.readChunkBytes == 1 << 20)
    }

    @Test("the streamed file hash equals SHA-256 of the whole data", arguments: [0, 1, 1 << 20, (1 << 20) + 1, 2 * (1 << 20) + 12_345])
    func streamedHash(size: Int) throws {
        try withTemporaryDirectory { dir in
            var rng = SplitMix64(seed: UInt64(size))
            var bytes = [UInt8](repeating: 0, count: size)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: rng.next() % 26 + 97) }
            let data = Data(bytes)
            let path = dir.appending("blob.txt")
            try write(data, to: path)
            let expected = sha256(data)
            #expect(try ContentHash.sha256(ofFileAt: path) == expected)
            let scan = try TextSource(kind: .file, path: path).scan()
            #expect(scan.documents.first?.contentHash == expected)
            #expect(scan.documents.first?.size == size)
            #expect(scan.documents.first?.text.utf8.count == size)
        }
    }

    @Test("hashing a missing file throws an io error")
    func hashMissingFile() {
        do throws(EmbeddingError) {
            _ = try ContentHash.sha256(ofFileAt: "/nonexistent/switchyard/file")
            Issue.record("no error")
        } catch {
            #expect(error.code == .io)
        }
    }

    // MARK: - HTML

    @Test("HTML: scripts, styles, comments and tags stripped; inline tags do not split words")
    func htmlStripping() throws {
        let html = """
            <html><head><title> A &amp; B </title><style>p { color: red }</style>
            <SCRIPT type="text/javascript">var s = "<p>not text</p>";</SCRIPT></head>
            <body><!-- a <b>comment</b> --><h1>Head</h1><p>Bo<b>ld</b> and <a href="x>y" title='q'>link</a>.</p>
            <p>line one<br>line two</p><table><tr><td>c1</td><td>c2</td></tr></table>
            <script>
            document.write("<p>hidden</p>")
            </script>tail</body></html>
            """
        let doc = try #require(try scanFile(named: "page.html", html).documents.first)
        #expect(doc.title == "A & B")
        #expect(doc.text == "Head\n\nBold and link.\n\nline one\nline two\n\nc1 c2\n\ntail")
    }

    @Test("HTML: entities decoded, whitespace collapsed, stray < kept")
    func htmlEntities() throws {
        let html = "<p>  &amp; &lt;tag&gt; &quot;q&quot; &#39;s&#39; &apos;a&apos; x&nbsp;y &#65;&#x42;&#X43; &unknown; & alone;  a < b  </p>\n\n\n   <p>\t end </p>"
        let doc = try #require(try scanFile(named: "e.htm", html).documents.first)
        #expect(doc.text == "& <tag> \"q\" 's' 'a' x y ABC &unknown; & alone; a < b\n\nend")
        #expect(doc.title == nil)
        // Decoded markup is text, not a tag.
        let escaped = try #require(try scanFile(named: "x.html", "&lt;script&gt;alert(1)&lt;/script&gt;").documents.first)
        #expect(escaped.text == "<script>alert(1)</script>")
    }

    @Test("HTML: an unterminated script or comment drops the rest, and never crashes")
    func htmlUnterminated() throws {
        #expect(try scanFile(named: "a.html", "before<script>for(;;){").documents.first?.text == "before")
        #expect(try scanFile(named: "b.html", "before<!-- open").documents.first?.text == "before")
        #expect(try scanFile(named: "c.html", "before<p class=\"x").documents.first?.text == "before")
        #expect(try scanFile(named: "d.html", "").documents.first?.text == "")
    }

    // MARK: - JSON Lines

    @Test("the malformed fixture: good line kept, bad lines reported with their numbers")
    func malformedFixture() throws {
        let path = fixture("malformed.jsonl")
        let scan = try TextSource(kind: .jsonl, path: path).scan()
        #expect(scan.documents.map(\.id) == ["ok-1"])
        let doc = try #require(scan.documents.first)
        #expect(doc.title == "Good line")
        #expect(doc.text == "A well-formed line with a text field.")
        #expect(doc.path == path)
        #expect(doc.contentHash == sha256("Good line\nA well-formed line with a text field."))
        #expect(scan.issues.map(\.line) == [2, 3])
        #expect(scan.issues.allSatisfy { $0.path == path })
        #expect(scan.issues[0].message.hasPrefix("malformed JSON"))
        #expect(scan.issues[1].message == "missing \"text\"")
        #expect(scan.issues[1].description == "\(path):3: missing \"text\"")
    }

    @Test("JSON Lines records: ids, titles, metadata, hashes, sizes, blank lines, CRLF, problems by line")
    func jsonLines() throws {
        try withTemporaryDirectory { dir in
            let lines = [
                #"{"id": "b", "text": "bee", "lang": "en", "n": 3, "x": 1.5, "ok": false, "tags": ["t1", "t2"], "meta": {"z": 1, "a": "s\"q"}, "nothing": null}"#,
                "",
                #"{"id": 7, "text": "seven", "title": "Seven"}"#,
                "   ",
                #"{"_id": "a", "text": "ünïcode", "title": ""}"#,
                #"[1, 2]"#,
                #"{"text": "no id"}"#,
                #"{"id": "c", "text": 5}"#,
                #"{"id": 1.5, "text": "fractional id"}"#,
                #"{"id": "", "text": "empty id"}"#,
                #"{"id": "b", "text": "again"}"#,
                "{not json",
                #"{"id": "e", "text": "last line, no newline, CRLF before"}"#,
            ]
            let path = dir.appending("docs.jsonl")
            var data = Data(lines.dropLast().joined(separator: "\r\n").utf8)
            data += Data("\n".utf8) + Data([0x7B, 0xFF, 0x7D]) + Data("\r\n".utf8)  // line 13: invalid UTF-8
            data += Data(lines.last!.utf8)  // line 14, no final newline
            try write(data, to: path)

            let scan = try TextSource.detect(path: path).scan()
            #expect(scan.documents.map(\.id) == ["7", "a", "b", "e"])
            let byID = Dictionary(uniqueKeysWithValues: scan.documents.map { ($0.id, $0) })
            let b = try #require(byID["b"])
            #expect(b.text == "bee" && b.title == nil)
            #expect(
                b.metadata == [
                    "lang": "en", "n": "3", "x": "1.5", "ok": "false", "tags": #"["t1","t2"]"#, "meta": #"{"a":"s\"q","z":1}"#,
                ])
            #expect(b.contentHash == sha256("bee") && b.size == 3)
            let seven = try #require(byID["7"])
            #expect(seven.title == "Seven" && seven.fullText == "Seven\nseven")
            #expect(seven.contentHash == sha256("Seven\nseven") && seven.size == 11)
            let a = try #require(byID["a"])
            #expect(a.title == nil && a.metadata.isEmpty)
            #expect(a.contentHash == sha256("ünïcode") && a.size == "ünïcode".utf8.count)
            #expect(byID["e"]?.text == "last line, no newline, CRLF before")

            #expect(scan.issues.map(\.line) == [6, 7, 8, 9, 10, 11, 12, 13])
            let messages = scan.issues.map(\.message)
            #expect(messages[0] == "expected a JSON object")
            #expect(messages[1] == "missing \"id\"")
            #expect(messages[2] == "\"text\" must be a string")
            #expect(messages[3] == "\"id\" must be a non-empty string or an integer")
            #expect(messages[4] == "\"id\" must be a non-empty string or an integer")
            #expect(messages[5] == "duplicate id \"b\" (first on line 1); skipped")
            #expect(messages[6].hasPrefix("malformed JSON"))
            #expect(messages[7].contains("not valid UTF-8"))
            #expect(try TextSource.detect(path: path).scan() == scan)
        }
    }

    @Test("a JSON Lines file larger than one read keeps every line and its number")
    func largeJSONLines() throws {
        try withTemporaryDirectory { dir in
            // 3,000 lines of about 1 KB: about 3 MB, so lines straddle the 1 MiB reads.
            let filler = String(repeating: "lorem ipsum ", count: 85)
            var text = ""
            for i in 1...3000 {
                text += i == 2500 ? "{broken\n" : "{\"id\": \"doc\(i)\", \"text\": \"\(i) \(filler)\"}\n"
            }
            let path = dir.appending("big.jsonl")
            try write(text, to: path)
            let scan = try TextSource(kind: .jsonl, path: path).scan()
            #expect(scan.documents.count == 2999)
            #expect(scan.issues.map(\.line) == [2500])
            let ids = Set(scan.documents.map(\.id))
            #expect(!ids.contains("doc2500") && ids.contains("doc2499") && ids.contains("doc3000"))
            #expect(scan.documents.allSatisfy { $0.text.hasPrefix(String($0.id.dropFirst(3)) + " lorem") })
            #expect(scan.documents.map(\.id) == scan.documents.map(\.id).sorted())
        }
    }

    // MARK: - BEIR

    @Test("a BEIR corpus: _id, title and text; hash of title + newline + text")
    func beirCorpus() throws {
        let scan = try TextSource(kind: .beir, path: fixture("mini-beir")).scan()
        #expect(scan.documents.map(\.id) == ["d1", "d2", "d3", "d4", "d5", "d6"])
        #expect(scan.issues.isEmpty)
        let d1 = scan.documents[0]
        #expect(d1.title == "Blue-green deployment")
        #expect(d1.text.hasPrefix("Run two production environments"))
        #expect(d1.path == fixture("mini-beir/corpus.jsonl"))
        #expect(d1.contentHash == sha256("Blue-green deployment\n" + d1.text))
        #expect(d1.size == ("Blue-green deployment\n" + d1.text).utf8.count)
        // An empty title is no title: the hash is the text's.
        let d4 = scan.documents[3]
        #expect(d4.title == nil && d4.contentHash == sha256(d4.text))
        #expect(scan.documents[4].title == "Café au lait")
        #expect(scan.documents[4].text.contains("naïve"))
        // The corpus file itself is a BEIR source too.
        #expect(try TextSource(kind: .beir, path: fixture("mini-beir/corpus.jsonl")).scan() == scan)
    }

    @Test("a BEIR dataset: corpus, queries in file order, graded qrels")
    func beirDataset() throws {
        let data = try BEIRDataset.load(directory: fixture("mini-beir"))
        #expect(data.corpus.map(\.id) == ["d1", "d2", "d3", "d4", "d5", "d6"])
        #expect(
            data.queries == [
                BEIRQuery(id: "q1", text: "switch the alias between collections"),
                BEIRQuery(id: "q2", text: "re-embed documents with a new model"),
                BEIRQuery(id: "q3", text: "coffee with milk"),
            ])
        #expect(data.qrels == ["q1": ["d2": 2, "d1": 1], "q2": ["d3": 2], "q3": ["d5": 1]])
        #expect(data.issues.isEmpty)
    }

    @Test("BEIR qrels without header, TREC columns, bad rows; missing qrels; bad queries")
    func beirEdgeCases() throws {
        try withTemporaryDirectory { dir in
            try write(#"{"_id": "d1", "title": "T", "text": "x"}"# + "\n" + #"{"_id": "d2", "text": "y"}"#, to: dir.appending("corpus.jsonl"))
            try write(
                [#"{"_id": "q2", "text": "second"}"#, #"{"_id": "q1", "text": "first"}"#, #"{"_id": "q1", "text": "again"}"#, #"{"_id": "q3"}"#]
                    .joined(separator: "\n"), to: dir.appending("queries.jsonl"))

            // No qrels file: no judgements, not an error.
            let unjudged = try BEIRDataset.load(directory: dir.path)
            #expect(unjudged.qrels.isEmpty)
            #expect(unjudged.queries.map(\.id) == ["q2", "q1"])
            #expect(unjudged.issues.map(\.line) == [3, 4])
            #expect(unjudged.issues.map { ($0.path as NSString).lastPathComponent } == ["queries.jsonl", "queries.jsonl"])

            try write("q1\td1\t1\nq1 0 d2 2\n\nq2\td2\nq2\td1\tx\nq2\td1\t0\nq1\td1\t3\n", to: dir.appending("qrels/test.tsv"))
            try write("q9\td9\t1\n", to: dir.appending("qrels/dev.tsv"))
            let judged = try BEIRDataset.load(directory: dir.path)
            // Line 2 uses the 4 TREC columns; line 4 has two fields; line 5's score is no integer;
            // line 7 repeats (q1, d1): the last row wins.
            #expect(judged.qrels == ["q1": ["d1": 3, "d2": 2], "q2": ["d1": 0]])
            let qrelIssues = judged.issues.filter { $0.path.hasSuffix("test.tsv") }
            #expect(qrelIssues.map(\.line) == [4, 5])
            #expect(qrelIssues.first?.message.contains("2 fields") == true)
            #expect(try BEIRDataset.load(directory: dir.path, split: "dev").qrels == ["q9": ["d9": 1]])

            try FileManager.default.removeItem(atPath: dir.appending("queries.jsonl"))
            #expect(throws: EmbeddingError.self) { try BEIRDataset.load(directory: dir.path) }
            #expect(throws: EmbeddingError.self) { try BEIRDataset.load(directory: dir.appending("missing")) }
        }
    }

    @Test("a BEIR directory without corpus.jsonl is an error")
    func beirWithoutCorpus() throws {
        try withTemporaryDirectory { dir in
            try write("x", to: dir.appending("queries.jsonl"))
            #expect(throws: EmbeddingError.self) { try TextSource(kind: .beir, path: dir.path).scan() }
            #expect(try TextSource.detect(path: dir.path).kind == .directory)
        }
    }
}

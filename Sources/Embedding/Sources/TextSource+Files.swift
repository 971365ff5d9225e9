import Foundation
import SwitchyardJSON

extension TextSource {
    /// File name extensions (lowercase) read from directories, and how each is turned into text.
    static let textFormats: [String: String] = [
        "txt": "txt", "md": "md", "markdown": "md", "html": "html", "htm": "html", "json": "json",
    ]

    // MARK: - Directory

    /// A file a directory walk found: read later, one at a time.
    struct FileCandidate {
        var path: String
        var id: String
        var size: Int
        var format: String
    }

    /// Calls `body` with each readable document of the directory or file `root` (in id order) and the
    /// format it was read as; returns the problems with the rest.
    func forEachFileDocument(root: String, directory: Bool, _ body: (SourceDocument, String) -> Void) -> [SourceIssue] {
        // Issues are reported in path order: a walk issue is filed at the number of files found before it,
        // ahead of a problem reading the next file.
        var walkIssues: [(position: Int, issue: SourceIssue)] = []
        var candidates: [FileCandidate] = []
        if directory {
            walk(directory: root, relative: "", issues: &walkIssues, into: &candidates)
        } else {
            let name = (root as NSString).lastPathComponent
            let format = Self.textFormats[(name as NSString).pathExtension.lowercased()] ?? "txt"
            switch FileReader.status(root) {
            case .regular(let size): candidates.append(FileCandidate(path: root, id: name, size: size, format: format))
            case .missing(let reason): walkIssues.append((0, SourceIssue(path: root, message: "cannot read: \(reason)")))
            default: walkIssues.append((0, SourceIssue(path: root, message: "not a regular file")))
            }
        }
        var order = Array(candidates.indices)
        order.sort { candidates[$0].id < candidates[$1].id }
        var readIssues: [(position: Int, issue: SourceIssue)] = []
        for i in order {
            let c = candidates[i]
            switch readFile(path: c.path, id: c.id, size: c.size, format: c.format) {
            case .success(let document): body(document, c.format)
            case .failure(let problem): readIssues.append((i, problem.issue))
            }
        }
        readIssues.sort { $0.position < $1.position }
        var issues: [SourceIssue] = []
        issues.reserveCapacity(walkIssues.count + readIssues.count)
        var w = 0
        for r in readIssues {
            while w < walkIssues.count && walkIssues[w].position <= r.position {
                issues.append(walkIssues[w].issue)
                w += 1
            }
            issues.append(r.issue)
        }
        issues += walkIssues[w...].map(\.issue)
        return issues
    }

    private func walk(directory: String, relative: String, issues: inout [(position: Int, issue: SourceIssue)],
                      into candidates: inout [FileCandidate]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            issues.append(
                (candidates.count, SourceIssue(path: directory, message: "cannot list directory: \(FileReader.describe(error))")))
            return
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let full = (directory as NSString).appendingPathComponent(name)
            let id = relative.isEmpty ? name : "\(relative)/\(name)"
            let format = Self.textFormats[(name as NSString).pathExtension.lowercased()]
            var status = FileReader.status(full, followingLinks: false)
            if status == .symbolicLink {
                status = FileReader.status(full)
                if status == .directory { continue }  // never follow links into directories: no cycles
            }
            switch status {
            case .directory:
                walk(directory: full, relative: id, issues: &issues, into: &candidates)
            case .regular(let size):
                if let format { candidates.append(FileCandidate(path: full, id: id, size: size, format: format)) }
            case .missing(let reason):
                if format != nil { issues.append((candidates.count, SourceIssue(path: full, message: "cannot read: \(reason)"))) }
            case .other, .symbolicLink:
                if format != nil { issues.append((candidates.count, SourceIssue(path: full, message: "not a regular file"))) }
            }
        }
    }

    // MARK: - Reading one file

    /// Reads, hashes and extracts one file.
    func readFile(path: String, id: String, size: Int, format: String) -> Result<SourceDocument, RecordReader.Problem> {
        func issue(_ message: String) -> Result<SourceDocument, RecordReader.Problem> {
            .failure(RecordReader.Problem(issue: SourceIssue(path: path, message: message)))
        }
        guard size <= maxFileBytes else {
            return issue("file is \(size) bytes, above the limit of \(maxFileBytes) bytes; not read")
        }
        let contents: FileReader.Contents
        switch FileReader.read(path: path, limit: maxFileBytes, keepBytes: true, expectedSize: size) {
        case .success(let c): contents = c
        case .failure(let failure):
            return .failure(RecordReader.Problem(issue: SourceIssue(path: path, message: failure.message), isIO: failure.isIO))
        }
        if let nul = contents.bytes.firstIndex(of: 0) {
            return issue("binary content (NUL byte at offset \(nul - contents.bytes.startIndex)); not text")
        }
        guard var text = String(validating: contents.bytes, as: UTF8.self) else {
            return issue("not valid UTF-8 (first bad byte at offset \(Self.firstInvalidUTF8Offset(contents.bytes)))")
        }
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        var title: String?
        switch format {
        case "html":
            (title, text) = HTMLText.extract(text)
        case "json":
            switch JSONValue.parseResult(Array(text.utf8)) {
            case .success(let value):
                var strings: [String] = []
                value.collectStrings(into: &strings)
                text = strings.filter { !$0.isEmpty }.joined(separator: "\n")
            case .failure(let problem):
                return issue(problem.message)
            }
        default:
            break
        }
        return .success(
            SourceDocument(
                id: id, path: path, size: contents.count, contentHash: contents.hash, text: text, title: title,
                metadata: ["format": format]))
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ bytes: Data) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return offset
            }
        }
    }
}

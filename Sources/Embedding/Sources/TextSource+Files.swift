import Foundation
import SwitchyardJSON

extension TextSource {
    /// File name extensions (lowercase) read from directories, and how each is turned into text.
    static let textFormats: [String: String] = [
        "txt": "txt", "md": "md", "markdown": "md", "html": "html", "htm": "html", "json": "json",
    ]

    // MARK: - Directory

    func scanDirectory(root: String) -> SourceScan {
        var scan = SourceScan()
        walk(directory: root, relative: "", into: &scan)
        scan.documents.sort { $0.id < $1.id }
        return scan
    }

    private func walk(directory: String, relative: String, into scan: inout SourceScan) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            scan.issues.append(
                SourceIssue(path: directory, message: "cannot list directory: \(FileReader.describe(error))"))
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
                walk(directory: full, relative: id, into: &scan)
            case .regular(let size):
                if let format { readFile(path: full, id: id, size: size, format: format, into: &scan) }
            case .missing(let reason):
                if format != nil { scan.issues.append(SourceIssue(path: full, message: "cannot read: \(reason)")) }
            case .other, .symbolicLink:
                if format != nil { scan.issues.append(SourceIssue(path: full, message: "not a regular file")) }
            }
        }
    }

    // MARK: - Single file

    func scanFile(root: String) -> SourceScan {
        var scan = SourceScan()
        let name = (root as NSString).lastPathComponent
        let format = Self.textFormats[(name as NSString).pathExtension.lowercased()] ?? "txt"
        switch FileReader.status(root) {
        case .regular(let size): readFile(path: root, id: name, size: size, format: format, into: &scan)
        case .missing(let reason): scan.issues.append(SourceIssue(path: root, message: "cannot read: \(reason)"))
        default: scan.issues.append(SourceIssue(path: root, message: "not a regular file"))
        }
        return scan
    }

    // MARK: - Reading one file

    /// Reads, hashes and extracts one file, appending a document or an issue.
    func readFile(path: String, id: String, size: Int, format: String, into scan: inout SourceScan) {
        func report(_ message: String) { scan.issues.append(SourceIssue(path: path, message: message)) }
        guard size <= maxFileBytes else {
            report("file is \(size) bytes, above the limit of \(maxFileBytes) bytes; not read")
            return
        }
        let contents: FileReader.Contents
        switch FileReader.read(path: path, limit: maxFileBytes, keepBytes: true, expectedSize: size) {
        case .success(let c): contents = c
        case .failure(let failure):
            report(failure.message)
            return
        }
        if let nul = contents.bytes.firstIndex(of: 0) {
            report("binary content (NUL byte at offset \(nul - contents.bytes.startIndex)); not text")
            return
        }
        guard var text = String(validating: contents.bytes, as: UTF8.self) else {
            report("not valid UTF-8 (first bad byte at offset \(Self.firstInvalidUTF8Offset(contents.bytes)))")
            return
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
                report(problem.message)
                return
            }
        default:
            break
        }
        scan.documents.append(
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

import Foundation
import SwitchyardJSON

/// Reads JSON Lines records (JSON Lines sources, BEIR `corpus.jsonl` and `queries.jsonl`).
enum RecordReader {
    /// One parsed line: its number and members.
    struct Record {
        var line: Int
        var members: [String: JSONValue]
        /// Where the line is in its file (for reading it again).
        var span = LineReader.Span(number: 0, offset: 0, length: 0)
    }

    /// Why a record was skipped.
    struct Problem: Error {
        var issue: SourceIssue
        /// The file could not be read for a reason that may pass (see `FileReader.Failure.isIO`).
        var isIO = false
    }

    /// Calls `body` with every line holding a JSON object; blank lines are skipped and every other line is
    /// reported, as is every record `body` rejects. Returns the issues met (an unreadable file is one issue).
    static func forEachRecord(path: String, _ body: (Record) throws(Problem) -> Void) -> [SourceIssue] {
        var issues: [SourceIssue] = []
        let failure = LineReader.forEachLine(path: path) { (bytes: Data, span: LineReader.Span) in
            let line = span.number
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return }
            guard String(validating: bytes, as: UTF8.self) != nil else {
                let offset = TextSource.firstInvalidUTF8Offset(bytes)
                issues.append(
                    SourceIssue(path: path, line: line, message: "not valid UTF-8 (first bad byte at offset \(offset))"))
                return
            }
            switch JSONValue.parseResult(bytes) {
            case .success(.object(let members)):
                do throws(Problem) {
                    try body(Record(line: line, members: members, span: span))
                } catch {
                    issues.append(error.issue)
                }
            case .success:
                issues.append(SourceIssue(path: path, line: line, message: "expected a JSON object"))
            case .failure(let problem):
                issues.append(SourceIssue(path: path, line: line, message: problem.message))
            }
        }
        if let failure { issues.append(SourceIssue(path: path, message: failure)) }
        return issues
    }

    /// The record's id under the first of `keys` present: a non-empty string or an integer.
    static func id(of record: Record, keys: [String], path: String) throws(Problem) -> String {
        guard let key = keys.first(where: { record.members[$0] != nil }) else {
            throw problem(record, path, "missing \"\(keys[0])\"")
        }
        switch record.members[key]! {
        case .string(let s) where !s.isEmpty: return s
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        default: throw problem(record, path, "\"\(key)\" must be a non-empty string or an integer")
        }
    }

    /// The record's string field `key`.
    static func text(of record: Record, key: String, path: String) throws(Problem) -> String {
        switch record.members[key] {
        case .string(let s): return s
        case nil: throw problem(record, path, "missing \"\(key)\"")
        default: throw problem(record, path, "\"\(key)\" must be a string")
        }
    }

    /// Rejects `id` when an earlier record (line in `firstLine`) had it; else remembers its line.
    static func claim(_ id: String, _ record: Record, _ path: String, _ firstLine: inout [String: Int]) throws(Problem) {
        if let first = firstLine[id] {
            throw problem(record, path, "duplicate id \"\(id)\" (first on line \(first)); skipped")
        }
        firstLine[id] = record.line
    }

    static func problem(_ record: Record, _ path: String, _ message: String) -> Problem {
        Problem(issue: SourceIssue(path: path, line: record.line, message: message))
    }

    /// The document a `{id, text, title?, …}` record holds: `title` becomes the title, other non-null
    /// fields the metadata; size and hash are of its full text.
    static func document(_ record: Record, idKeys: [String], path: String) throws(Problem) -> SourceDocument {
        let id = try Self.id(of: record, keys: idKeys, path: path)
        let text = try Self.text(of: record, key: "text", path: path)
        var title: String?
        var metadata: [String: String] = [:]
        for (key, value) in record.members where key != "text" && !idKeys.contains(key) {
            if key == "title", case .string(let t) = value {
                if !t.isEmpty { title = t }
            } else if value != .null {
                metadata[key] = value.metadataText
            }
        }
        var document = SourceDocument(
            id: id, path: path, size: 0, contentHash: "", text: text, title: title, metadata: metadata)
        let full = document.fullText
        document.size = full.utf8.count
        document.contentHash = ContentHash.sha256(of: full)
        return document
    }

    /// Calls `body` with each document of a JSON Lines file of records, in file order, with the line it
    /// came from; a record whose id an earlier one had is reported and skipped.
    static func forEachDocument(path: String, idKeys: [String], _ body: (SourceDocument, LineReader.Span) -> Void) -> [SourceIssue] {
        var firstLine: [String: Int] = [:]
        return forEachRecord(path: path) { (record: Record) throws(Problem) in
            let document = try Self.document(record, idKeys: idKeys, path: path)
            try claim(document.id, record, path, &firstLine)
            body(document, record.span)
        }
    }

    /// Documents from a JSON Lines file of `{id, text, title?, …}` records, sorted by id.
    static func corpus(path: String, idKeys: [String]) -> SourceScan {
        var documents: [SourceDocument] = []
        let issues = forEachDocument(path: path, idKeys: idKeys) { document, _ in documents.append(document) }
        documents.sort { $0.id < $1.id }
        return SourceScan(documents: documents, issues: issues)
    }

    /// Reads the record at `span` of `path` again.
    static func reread(path: String, span: LineReader.Span, idKeys: [String]) -> Result<SourceDocument, RecordReader.Problem> {
        let bytes: Data
        switch LineReader.read(path: path, span: span) {
        case .success(let b): bytes = b
        case .failure(let f): return .failure(Problem(issue: SourceIssue(path: path, line: span.number, message: f.message), isIO: f.isIO))
        }
        guard case .success(.object(let members)) = JSONValue.parseResult(bytes) else {
            return .failure(Problem(issue: SourceIssue(path: path, line: span.number, message: "no longer holds the JSON object it held when scanned")))
        }
        do throws(Problem) {
            return .success(try document(Record(line: span.number, members: members, span: span), idKeys: idKeys, path: path))
        } catch {
            return .failure(error)
        }
    }
}

import Foundation
import SwitchyardJSON

/// Reads JSON Lines records (JSON Lines sources, BEIR `corpus.jsonl` and `queries.jsonl`).
enum RecordReader {
    /// One parsed line: its number and members.
    struct Record {
        var line: Int
        var members: [String: JSONValue]
    }

    /// Why a record was skipped.
    struct Problem: Error {
        var issue: SourceIssue
    }

    /// Calls `body` with every line holding a JSON object; blank lines are skipped and every other line is
    /// reported, as is every record `body` rejects. Returns the issues met (an unreadable file is one issue).
    static func forEachRecord(path: String, _ body: (Record) throws(Problem) -> Void) -> [SourceIssue] {
        var issues: [SourceIssue] = []
        let failure = LineReader.forEachLine(path: path) { bytes, line in
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
                    try body(Record(line: line, members: members))
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

    /// Documents from a JSON Lines file of `{id, text, title?, …}` records, sorted by id.
    static func corpus(path: String, idKeys: [String]) -> SourceScan {
        var documents: [SourceDocument] = []
        var firstLine: [String: Int] = [:]
        let issues = forEachRecord(path: path) { (record: Record) throws(Problem) in
            let id = try Self.id(of: record, keys: idKeys, path: path)
            let text = try Self.text(of: record, key: "text", path: path)
            try claim(id, record, path, &firstLine)
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
            documents.append(document)
        }
        documents.sort { $0.id < $1.id }
        return SourceScan(documents: documents, issues: issues)
    }
}

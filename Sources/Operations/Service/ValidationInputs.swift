import Embedding
import Foundation
import SwitchyardJSON

/// The files a validation reads or writes, checked in full when a reindex (or a comparison) is
/// requested, so a bad file is refused before anything is queued rather than after a long run.
public enum ValidationInputs {
    /// A query set read strictly: every line of `queries.jsonl` must be a query with an `_id` and a
    /// `text`, every line of the qrels TSV a judgement; the labels must judge at least one query.
    public struct QuerySet: Sendable {
        public var queries: [(id: String, text: String)]
        public var qrels: [String: [String: Int]]
    }

    /// Reads `queriesPath` (and `qrelsPath`) in full.
    ///
    /// - Returns: The queries (only the judged ones when labels are given) and the labels.
    /// - Throws: ``OperationsError`` `invalidInput` naming the file and the line of the first problem.
    public static func loadQueries(_ queriesPath: String, qrels qrelsPath: String?) throws(OperationsError) -> QuerySet {
        try checkReadable(queriesPath, what: "queries file")
        let (loaded, issues) = BEIRDataset.loadQueries(path: queriesPath)
        if let first = issues.first {
            throw OperationsError(.invalidInput, "queries file \(describe(first))\(more(issues))")
        }
        guard !loaded.isEmpty else { throw OperationsError(.invalidInput, "queries file '\(queriesPath)' holds no query") }
        var queries = loaded.map { (id: $0.id, text: $0.text) }
        var qrels: [String: [String: Int]] = [:]
        if let qrelsPath {
            try checkReadable(qrelsPath, what: "qrels file")
            let (labels, issues) = BEIRDataset.loadQrels(path: qrelsPath)
            if let first = issues.first {
                throw OperationsError(.invalidInput, "qrels file \(describe(first))\(more(issues))")
            }
            guard !labels.isEmpty else { throw OperationsError(.invalidInput, "qrels file '\(qrelsPath)' holds no judgement") }
            qrels = labels
            queries = queries.filter { qrels[$0.id] != nil }
            guard !queries.isEmpty else {
                throw OperationsError(.invalidInput, "no query of '\(queriesPath)' has a judgement in '\(qrelsPath)': the labels do not belong to these queries")
            }
        }
        return QuerySet(queries: queries, qrels: qrels)
    }

    /// Checks that a report can be written at `path`: a `.json`, `.md` or `.html` name in an existing,
    /// writable directory, and not a directory itself.
    ///
    /// - Throws: ``OperationsError`` `invalidInput` saying what is wrong with the path.
    public static func checkReportPath(_ path: String) throws(OperationsError) {
        guard !path.allSatisfy(\.isWhitespace) else { throw OperationsError(.invalidInput, "the report path is empty") }
        guard ["json", "md", "markdown", "html", "htm"].contains((path as NSString).pathExtension.lowercased()) else {
            throw OperationsError(.invalidInput, "report '\(path)' must end in .json, .md or .html")
        }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw OperationsError(.invalidInput, "report '\(path)' is a directory") }
            guard fm.isWritableFile(atPath: path) else { throw OperationsError(.invalidInput, "report '\(path)' exists and is not writable") }
            return
        }
        let parent = (URL(fileURLWithPath: path).standardizedFileURL.path as NSString).deletingLastPathComponent
        guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OperationsError(.invalidInput, "cannot write report '\(path)': its directory '\(parent)' does not exist")
        }
        guard fm.isWritableFile(atPath: parent) else {
            throw OperationsError(.invalidInput, "cannot write report '\(path)': its directory '\(parent)' is not writable")
        }
    }

    private static func checkReadable(_ path: String, what: String) throws(OperationsError) {
        guard !path.allSatisfy(\.isWhitespace) else { throw OperationsError(.invalidInput, "the \(what) path is empty") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw OperationsError(.invalidInput, "\(what) '\(path)' does not exist")
        }
        if isDirectory.boolValue { throw OperationsError(.invalidInput, "\(what) '\(path)' is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw OperationsError(.invalidInput, "\(what) '\(path)' cannot be read") }
    }

    private static func describe(_ issue: SourceIssue) -> String {
        if let line = issue.line { return "'\(issue.path)' line \(line): \(issue.message)" }
        return "'\(issue.path)': \(issue.message)"
    }

    private static func more(_ issues: [SourceIssue]) -> String {
        issues.count > 1 ? " (and \(issues.count - 1) more problems)" : ""
    }
}

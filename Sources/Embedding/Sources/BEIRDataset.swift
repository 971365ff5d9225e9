import Foundation

/// A labelled retrieval dataset in BEIR layout: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl`
/// (`_id`, `text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`, tab-separated).
///
/// ```swift
/// let data = try BEIRDataset.load(directory: "Datasets/scifact-mini")
/// for query in data.queries {
///     let judged = data.qrels[query.id] ?? [:]     // corpus id → grade
/// }
/// ```
public struct BEIRDataset: Sendable {
    /// The documents, sorted by id (see ``TextSource`` for how records are read).
    public var corpus: [SourceDocument]
    /// The queries, in file order.
    public var queries: [BEIRQuery]
    /// Query id → corpus id → grade (0 means judged not relevant).
    public var qrels: [String: [String: Int]]
    /// Lines that could not be used, with file and line number.
    public var issues: [SourceIssue]

    /// Creates a dataset.
    public init(
        corpus: [SourceDocument], queries: [BEIRQuery], qrels: [String: [String: Int]], issues: [SourceIssue] = []
    ) {
        self.corpus = corpus
        self.queries = queries
        self.qrels = qrels
        self.issues = issues
    }

    /// Loads a dataset.
    ///
    /// Queries are records with `_id` (or `id`) and `text`; a malformed or repeated one is reported in
    /// ``issues`` and skipped. The qrels file may start with a header line (`query-id corpus-id score`);
    /// a row is `query-id`, `corpus-id`, integer `score` separated by tabs (or whitespace), or the four
    /// columns of TREC qrels (`query-id`, iteration, `corpus-id`, `score`). When a pair repeats, the last
    /// row wins. A missing qrels file gives no judgements.
    ///
    /// - Parameters:
    ///   - directory: The dataset's directory.
    ///   - split: Which qrels file: `qrels/<split>.tsv`. Default `test`.
    /// - Throws: ``EmbeddingError`` (`invalidInput`) when `corpus.jsonl` or `queries.jsonl` is missing.
    public static func load(directory: String, split: String = "test") throws(EmbeddingError) -> BEIRDataset {
        let root = TextSource.absolute(directory)
        func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
        for required in ["corpus.jsonl", "queries.jsonl"] {
            guard case .regular = FileReader.status(file(required)) else {
                throw EmbeddingError(.invalidInput, "BEIR dataset \(directory) has no \(required)")
            }
        }
        let corpus = RecordReader.corpus(path: file("corpus.jsonl"), idKeys: ["_id", "id"])
        var issues = corpus.issues
        let (queries, queryIssues) = loadQueries(path: file("queries.jsonl"))
        issues += queryIssues
        let qrelsPath = file("qrels/\(split).tsv")
        var qrels: [String: [String: Int]] = [:]
        if case .regular = FileReader.status(qrelsPath) {
            let (judgements, qrelIssues) = loadQrels(path: qrelsPath)
            qrels = judgements
            issues += qrelIssues
        }
        return BEIRDataset(corpus: corpus.documents, queries: queries, qrels: qrels, issues: issues)
    }

    /// Reads a BEIR `queries.jsonl` (`_id`, `text`); bad lines become issues.
    public static func loadQueries(path: String) -> ([BEIRQuery], [SourceIssue]) {
        var queries: [BEIRQuery] = []
        var firstLine: [String: Int] = [:]
        let issues = RecordReader.forEachRecord(path: path) {
            (record: RecordReader.Record) throws(RecordReader.Problem) in
            let id = try RecordReader.id(of: record, keys: ["_id", "id"], path: path)
            let text = try RecordReader.text(of: record, key: "text", path: path)
            try RecordReader.claim(id, record, path, &firstLine)
            queries.append(BEIRQuery(id: id, text: text))
        }
        return (queries, issues)
    }

    /// Reads a qrels TSV (`query-id`, `corpus-id`, `score`, with or without header); bad lines become issues.
    public static func loadQrels(path: String) -> ([String: [String: Int]], [SourceIssue]) {
        var qrels: [String: [String: Int]] = [:]
        var issues: [SourceIssue] = []
        var sawRow = false
        let failure = LineReader.forEachLine(path: path) { bytes, line in
            let text = String(decoding: bytes, as: UTF8.self)
            var fields = text.split(separator: "\t", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 1 { fields = text.split(whereSeparator: { $0 == " " }).map(String.init) }
            if fields.allSatisfy(\.isEmpty) { return }
            defer { sawRow = true }
            let query: String, document: String, score: String
            switch fields.count {
            case 3: (query, document, score) = (fields[0], fields[1], fields[2])
            case 4: (query, document, score) = (fields[0], fields[2], fields[3])
            default:
                if !sawRow, fields.count >= 2, fields[0].lowercased().contains("query") { return }  // header
                let message = "expected query-id, corpus-id and score, got \(fields.count) fields"
                issues.append(SourceIssue(path: path, line: line, message: message))
                return
            }
            guard let grade = Int(score) else {
                if !sawRow { return }  // header line
                issues.append(SourceIssue(path: path, line: line, message: "score \"\(score)\" is not an integer"))
                return
            }
            guard !query.isEmpty, !document.isEmpty else {
                issues.append(SourceIssue(path: path, line: line, message: "empty query-id or corpus-id"))
                return
            }
            qrels[query, default: [:]][document] = grade
        }
        if let failure { issues.append(SourceIssue(path: path, message: failure)) }
        return (qrels, issues)
    }
}

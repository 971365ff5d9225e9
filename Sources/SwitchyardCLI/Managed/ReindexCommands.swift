import ArgumentParser
import Foundation
import Switchyard

struct ReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild a managed collection blue-green with a new embedder or chunking, validate it, switch the alias atomically.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name.") var collection: String
    @OptionGroup var config: CollectionConfigOptions
    @Option(help: "A BEIR queries.jsonl for validation (default: sampled chunk texts).") var queries: String?
    @Option(help: "Relevance labels (qrels TSV) for --queries: adds the nDCG@10 check.") var qrels: String?
    @Option(name: .customLong("threshold"), help: "Override a validation threshold: NAME=VALUE (repeatable; see docs/reindex.md).")
    var thresholds: [String] = []
    @Option(help: "Write the validation report here (.json, .md or .html).") var report: String?
    @OptionGroup var enqueue: EnqueueOptions

    func run() throws {
        let options = try enqueue.worker.options()
        let reindex = enqueue.worker.reindexSettings()
        let parsed = try parseThresholds(thresholds)
        let request = ReindexRequest(embedder: config.embedder, chunkSize: config.chunkSize, chunkOverlap: config.chunkOverlap,
                                     distance: try config.parsedDistance(), queriesPath: queries, qrelsPath: qrels, thresholds: parsed, reportPath: report)
        try CollectionManager.validate(request, collection: collection)
        let manager = try location.open()
        _ = try ReindexService(manager: manager)
        let op = try manager.requestReindex(collection, request, user: currentUser(enqueue.user))
        try runInForeground(op, manager: manager, options: options, reindex: reindex, noWait: enqueue.noWait, json: enqueue.json)
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Point a managed collection's alias back at its previous kept generation, atomically.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name.") var collection: String
    @Option(help: "Who asks.") var user: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let service = try ReindexService(manager: try location.open())
        let g = try service.rollback(collection, user: currentUser(user))
        if json {
            emit(JSONValue.object(["collection": .string(collection), "serving": .string(g.vectorStoreName), "embedder": .string(g.embedder),
                                   "validation": g.validation ?? .null]).jsonText)
        } else {
            emit("'\(collection)' now serves \(g.vectorStoreName) (embedder \(g.embedder), chunks \(g.chunkSize)/\(g.chunkOverlap))")
        }
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare two collections (each searched with its own embedder): overlap, rank agreement, scores, quality; exit 1 when a check fails.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The old side: a managed collection, an alias or a physical collection.") var old: String
    @Option(help: "The new side.") var new: String
    @Option(help: "Embedder of the old side when the managed layer does not know it.") var oldEmbedder: String?
    @Option(help: "Embedder of the new side when the managed layer does not know it.") var newEmbedder: String?
    @Option(help: "A BEIR queries.jsonl (default: sampled chunk texts).") var queries: String?
    @Option(help: "Relevance labels (qrels TSV) for --queries.") var qrels: String?
    @Option(help: "Documents per query.") var k: Int = 10
    @Option(name: .customLong("threshold"), help: "Override a threshold: NAME=VALUE (repeatable).") var thresholds: [String] = []
    @Option(help: "Write the report here (.json, .md or .html).") var report: String?
    @Flag(help: "Print the JSON report.") var json = false

    func run() throws {
        guard k >= 1 else { throw CLIFailure(message: "--k must be at least 1, got \(k)") }
        if qrels != nil && queries == nil { throw CLIFailure(message: "--qrels needs --queries") }
        if let queries { _ = try ValidationInputs.loadQueries(queries, qrels: qrels) }
        if let report { try ValidationInputs.checkReportPath(report) }
        let parsed = try parseThresholds(thresholds)
        let service = try ReindexService(manager: try location.open())
        let a = try service.side("old", old, embedder: oldEmbedder)
        let b = try service.side("new", new, embedder: newEmbedder)
        var o = Comparison.Options()
        o.k = k
        o.queriesPath = queries
        o.qrelsPath = qrels
        o.thresholds = try Thresholds.make(parsed)
        let gens = [try? service.generationConfig(of: a.collection), try? service.generationConfig(of: b.collection)]
        if let x = gens[0], let y = gens[1] { o.sameChunking = x.chunkSize == y.chunkSize && x.chunkOverlap == y.chunkOverlap }
        let r = try Comparison(manager: service.manager, old: a, new: b, options: o).run()
        if let report { try r.write(to: report) }
        emit(json ? r.json.prettyJSONText : r.markdown)
        // As `reindex` rejects: the report is written and printed first, then a failed check is exit 1.
        guard r.passed else {
            throw CLIFailure(message: "comparison failed: \(r.failing.joined(separator: ", ")) (see the report)", exitCode: 1)
        }
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a managed collection by text (embedded with the serving generation's embedder) or by vector.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "A managed collection, an alias or a physical collection.") var collection: String
    @Option(help: "The query text.") var text: String?
    @Option(help: "A file with the query vector (JSON array).") var vectorFile: String?
    @Option(help: "Results.") var k: Int = 10
    @Option(help: "A Qdrant filter (JSON, inline or @file).") var filter: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard (text == nil) != (vectorFile == nil) else { throw CLIFailure(message: "give exactly one of --text and --vector-file") }
        guard k >= 1 else { throw CLIFailure(message: "--k must be at least 1, got \(k)") }
        let f = try parseFilter(filter)
        let manager = try location.open()
        let collectionName: String
        let hits: [ScoredPoint]
        if let text {
            (collectionName, hits) = try ReindexService(manager: manager).search(collection, text: text, limit: k, filter: f)
        } else {
            let path = vectorFile!
            let raw: String
            do { raw = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw CLIFailure(message: "--vector-file: cannot read '\(path)': \(fileErrorReason(error))")
            }
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(raw) } catch {
                throw CLIFailure(message: "--vector-file '\(path)': malformed JSON: \(error)")
            }
            guard let array = parsed.arrayValue, !array.isEmpty, array.allSatisfy({ $0.numberValue != nil }) else {
                throw CLIFailure(message: "--vector-file '\(path)' must hold a non-empty JSON array of numbers")
            }
            let values = array.compactMap(\.numberValue)
            if let c = try? manager.collection(named: collection) { try manager.requireBackend(of: c) }
            collectionName = try manager.vectors.resolve(collection)
            hits = try manager.vectors.search(collectionName, SearchRequest(vector: values.map(Float.init), limit: k, filter: f, withPayload: true))
        }
        if json {
            emit(JSONValue.object(["collection": .string(collectionName), "hits": .array(hits.map(\.json))]).jsonText)
            return
        }
        emit("\(hits.count) results from \(collectionName)")
        for (i, h) in hits.enumerated() {
            let text = h.payload?["text"]?.stringValue.map { String($0.prefix(100)).replacingOccurrences(of: "\n", with: " ") } ?? ""
            emit(String(format: "%2d. %.4f  %@  %@", i + 1, h.score, "\(h.id)", text))
        }
    }
}

/// `NAME=VALUE` threshold options, checked against the known names.
func parseThresholds(_ options: [String]) throws -> [String: Double] {
    var parsed: [String: Double] = [:]
    for t in options {
        let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let v = Double(parts[1]) else { throw CLIFailure(message: "--threshold '\(t)': use NAME=VALUE with a number") }
        parsed[parts[0]] = v
    }
    _ = try Thresholds.make(parsed)
    return parsed
}


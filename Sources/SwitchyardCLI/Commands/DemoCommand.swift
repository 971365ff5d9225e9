import ArgumentParser
import Foundation
import Switchyard
import SwitchyardDemo

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The main job: index the bundled dataset, then reindex it blue-green to another embedder while readers search through the alias.",
        discussion: """
            Creates a store, a managed collection indexed with --old (an INDEX operation), measures its quality on the labelled \
            queries, then runs a six-checkpoint REINDEX to --new while --readers threads search through the alias: validation on \
            the labels, atomic switch, the old generation kept for rollback. Prints the validation table, the switch latency, the \
            readers' totals and a metrics summary, and writes the HTML report. Exit 1 when validation rejects the new collection or a \
            reader saw an error. Interrupting it leaves a store that `switchyard worker --store DIR` completes or rolls back.
            """)
    @Option(help: "Store directory (default: a new temporary directory).") var dir: String?
    @Option(help: "Dataset name in Datasets/, or a BEIR folder with queries and qrels.") var dataset: String = "wordnet-defs"
    @Option(help: "Reader threads searching through the alias.") var readers: Int = 4
    @Option(help: "Embedder of the first index.") var old: String = "hash-v1"
    @Option(help: "Embedder of the reindex.") var new: String = "hash-v2"
    @Option(help: "Where to write the HTML report (default: report.html in the store).") var report: String?
    @Option(help: "Datasets folder.") var root: String?
    @OptionGroup var qdrant: QdrantOptions

    func run() throws {
        guard readers >= 0 else { throw CLIFailure(message: "--readers must not be negative") }
        if let report { try ValidationInputs.checkReportPath(report) }
        let path = FileManager.default.fileExists(atPath: (dataset as NSString).appendingPathComponent("corpus.jsonl"))
            ? dataset : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: dataset)
        for f in ["queries.jsonl", "qrels/test.tsv"] where !FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(f)) {
            throw CLIFailure(message: "dataset \(path) has no \(f): the demo measures quality on labelled queries")
        }
        let store = dir ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("switchyard-demo-\(UUID().uuidString.prefix(8))")
        if FileManager.default.fileExists(atPath: (store as NSString).appendingPathComponent(Store.databaseFileName)) {
            throw CLIFailure(message: "\(store) already holds a store: give a new --dir")
        }
        var c = ManagedDemo.Configuration(storeDirectory: store, datasetDirectory: path)
        c.readers = readers
        c.oldEmbedder = old
        c.newEmbedder = new
        c.reportPath = report
        c.vectors = try qdrant.backend()
        // The checkpoints are the demo's own output (stdout); in-place progress only on a terminal.
        let display = ProgressDisplay(enabled: isatty(STDERR_FILENO) != 0)
        var lastStage: String?
        let r = try ManagedDemo.run(c, progress: { display.finish(); emit($0) }, onOperation: { op in
            // Every checkpoint passed since the last poll, in order (polling may see several at once).
            let stages = ReindexStage.allCases.map(\.rawValue)
            if op.type == .reindex, let stage = op.checkpoint?["stage"]?.stringValue, stage != lastStage,
               let to = stages.firstIndex(of: stage) {
                display.finish()
                let from = lastStage.flatMap { stages.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
                for s in stages[from...to] { emit("  checkpoint \(s) done") }
                lastStage = stage
            }
            display.update(op)
        })
        display.finish()
        emit("")
        if let v = r.validation?.objectValue { printValidation(v) }
        let switched = printOutcome(r, collection: c.collection)
        if !r.succeeded {
            throw CLIFailure(message: "demo failed: \(switched ? "readers saw \(r.readers.errors) errors and \(r.readers.empty) empty results" : "the new collection was rejected")",
                             exitCode: 1)
        }
    }
}

extension DemoCommand {
    /// The quality table old vs new, the per-query change, and every check.
    func printValidation(_ v: [String: JSONValue]) {
        let old = v["aggregate"]?.objectValue?["old"]?.objectValue, new = v["aggregate"]?.objectValue?["new"]?.objectValue
        func q(_ o: [String: JSONValue]?, _ k: String) -> Double { o?[k]?.numberValue ?? 0 }
        emit("| measure | old (\(self.old)) | new (\(self.new)) | change |")
        emit("|---|---|---|---|")
        for (name, key) in [("nDCG@10", "ndcg_at_k"), ("recall@10", "recall_at_k"), ("MRR@10", "mrr_at_k")] {
            emit(String(format: "| %@ | %.4f | %.4f | %+.4f |", name, q(old, key), q(new, key), q(new, key) - q(old, key)))
        }
        if let ch = v["changes"]?.objectValue, let mean = ch["mean_difference"]?.numberValue, let ci = ch["ci95"]?.objectValue,
           let low = ci["low"]?.numberValue, let high = ci["high"]?.numberValue {
            func n(_ k: String) -> Int { Int(ch[k]?.numberValue ?? 0) }
            emit(String(format: "per query (nDCG@10): %d improved, %d unchanged, %d worsened; mean change %+.4f, 95%% interval [%+.4f, %+.4f] (paired bootstrap)",
                        n("improved"), n("unchanged"), n("worsened"), mean, low, high))
        }
        emit("")
        emit("| check | value | threshold | verdict |")
        emit("|---|---|---|---|")
        for check in v["checks"]?.arrayValue ?? [] {
            guard let o = check.objectValue else { continue }
            let value = o["value"]?.numberValue.map { String(format: "%.4f", $0) } ?? "–"
            emit("| \(o["name"]?.stringValue ?? "") | \(value) | \(o["threshold"]?.stringValue ?? "") | \((o["verdict"]?.stringValue ?? "").uppercased()) |")
        }
        emit("")
    }

    /// The verdict, the switch time, the readers' totals and each operation's metrics.
    /// - Returns: Whether the alias was switched.
    func printOutcome(_ r: ManagedDemo.Result, collection: String) -> Bool {
        let switched = r.reindex.status == .completed
        emit(switched ? "verdict: validation passed, alias '\(collection)' switched to \(r.reindex.result?["new"]?.stringValue ?? "?")"
                      : "verdict: REJECTED — \(r.reindex.error ?? "") ; alias unchanged")
        if let ms = r.reindex.result?["switch_ms"]?.numberValue, let flip = r.reindex.result?["alias_flip_ms"]?.numberValue {
            emit(String(format: "switch: %.2f ms (alias flip %.3f ms)", ms, flip))
        }
        let rd = r.readers
        emit(String(format: "readers: %d queries, %d errors, %d empty results, p50 %.2f ms, p99 %.2f ms, generations seen %d",
                    rd.queries, rd.errors, rd.empty, rd.p50Milliseconds, rd.p99Milliseconds, rd.generations.count))
        if let e = rd.firstError { emit("  first reader error: \(e)") }
        for op in [r.index, r.reindex] {
            let m = Dictionary((r.metrics[op.id] ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            let d = m["duration_seconds"] ?? 0
            emit(String(format: "metrics %@: %.2f s, %.0f vectors written, cpu %.2f s user + %.2f s system, peak memory %.0f MB",
                        op.type.rawValue, d, m["vectors_written"] ?? 0, m["cpu_user_seconds"] ?? 0, m["cpu_system_seconds"] ?? 0,
                        (m["memory_peak_bytes"] ?? 0) / 1_048_576))
        }
        emit("report: \(r.reportPath)")
        emit(String(format: "total: %.1f s; store kept at %@", r.seconds, r.storeDirectory))
        return switched
    }
}

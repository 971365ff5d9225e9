import ArgumentParser
import Foundation
import Switchyard

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Blue-green re-embedding of the bundled dataset while readers search through the alias.",
        discussion: "Indexes the dataset with --old, builds a second collection with --new beside it, compares their quality on the labelled queries, and switches the alias atomically when the new side is at least as good. Exit 1 when the new side is rejected or a reader saw an error.")
    @Option(help: "Store directory (default: a new temporary directory).") var dir: String?
    @Option(help: "Dataset name in Datasets/, or a BEIR folder.") var dataset: String = "wordnet-defs"
    @Option(help: "Reader threads searching through the alias.") var readers: Int = 4
    @Option(help: "Embedder of the serving collection.") var old: String = "hash-v1"
    @Option(help: "Embedder of the new collection.") var new: String = "hash-v2"
    @Option(help: "Datasets folder.") var root: String?

    func run() throws {
        guard readers >= 0 else { throw CLIFailure(message: "--readers must not be negative") }
        let path = FileManager.default.fileExists(atPath: (dataset as NSString).appendingPathComponent("corpus.jsonl"))
            ? dataset : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: dataset)
        let store = dir ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("switchyard-demo-\(UUID().uuidString.prefix(8))")
        var c = BlueGreenDemo.Configuration(storeDirectory: store, datasetDirectory: path)
        c.readers = readers
        c.oldEmbedder = old
        c.newEmbedder = new
        let r = try BlueGreenDemo.run(c, progress: emit)
        func row(_ name: String, _ a: Double, _ b: Double) -> String {
            String(format: "| %@ | %.4f | %.4f | %+.4f |", name, a, b, b - a)
        }
        emit("""

            | measure | old (\(old)) | new (\(new)) | change |
            |---|---|---|---|
            \(row("nDCG@10", r.old.ndcg, r.new.ndcg))
            \(row("recall@10", r.old.recall, r.new.recall))
            \(row("MRR@10", r.old.mrr, r.new.mrr))
            | points | \(r.old.points) | \(r.new.points) | |

            gate: new nDCG@10 >= old - 0.02 -> \(r.switched ? "passed, alias switched" : "REJECTED, alias unchanged")
            switch: \(String(format: "%.2f", r.switchMilliseconds)) ms
            readers: \(r.readerQueries) queries, \(r.readerErrors) errors, \(r.readerEmptyResults) empty results, p50 \(String(format: "%.2f", r.readerP50Milliseconds)) ms, p99 \(String(format: "%.2f", r.readerP99Milliseconds)) ms
            total: \(String(format: "%.1f", r.seconds)) s
            """)
        if !r.switched || r.readerErrors > 0 { throw CLIFailure(message: "demo failed: \(r.switched ? "readers saw \(r.readerErrors) errors" : "new collection rejected")", exitCode: 1) }
    }
}

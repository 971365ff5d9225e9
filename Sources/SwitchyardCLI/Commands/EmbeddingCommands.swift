import ArgumentParser
import Foundation
import Switchyard
import SwitchyardBench

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed a text with an embedder spec (for debugging embedders).")
    @Option(help: "Embedder spec: hash-v1, hash-v2 or hash:dim=…,words=…,chars=… (see docs/embedders.md).") var embedder: String = "hash-v2"
    @Option(help: "The text to embed.") var text: String
    @Flag(help: "Print JSON: identifier, dimension, vector.") var json = false

    func run() throws {
        let e = try Embedders.make(spec: embedder)
        let text = self.text
        let v = try runBlocking { try await e.embed([text])[0] }
        if json {
            emit(JSONValue.object([
                "embedder": .string(e.identifier), "dimension": .int(Int64(e.dimension)),
                "vector": .array(v.map { .double(Double("\($0)") ?? Double($0)) }),
            ]).jsonText)
        } else {
            let nonzero = v.enumerated().filter { $0.element != 0 }
            emit("embedder: \(e.identifier)\ndimension: \(e.dimension)\nnon-zero components: \(nonzero.count)")
            emit(nonzero.prefix(16).map { "[\($0.offset)] \($0.element)" }.joined(separator: "\n"))
        }
    }
}

extension DatasetsCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the bundled text datasets.")
        @Option(help: "Datasets folder (default: the source tree's Datasets/, or $SWITCHYARD_DATASETS).") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let catalog = DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot)
            let infos = try catalog.names().map { try catalog.info($0) }
            if json {
                emit(JSONValue.object(["datasets": .array(infos.map(\.json))]).jsonText)
            } else if infos.isEmpty {
                emit("no datasets in \(catalog.root)")
            } else {
                for i in infos { emit("\(i.name)  documents=\(i.documents) queries=\(i.queries) judgements=\(i.judgements)  \(i.license ?? "")") }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts, size, source and license of a dataset.")
        @Argument(help: "Dataset name.") var name: String
        @Option(help: "Datasets folder.") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let i = try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).info(name)
            emit(json ? i.json.prettyJSONText : """
                name: \(i.name)
                path: \(i.path)
                documents: \(i.documents)
                queries: \(i.queries)
                relevance judgements: \(i.judgements)
                size: \(String(format: "%.2f", Double(i.bytes) / 1_000_000)) MB
                source: \(i.source ?? "-")
                license: \(i.license ?? "-")
                """)
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure an embedder's retrieval quality (nDCG, recall, MRR at k) on a dataset with exact search.")
        @Argument(help: "Dataset name, or a BEIR folder path.") var name: String
        @Option(help: "Embedder specs to compare (repeatable).") var embedder: [String] = ["hash-v1", "hash-v2"]
        @Option(help: "Cut-off k.") var k: Int = 10
        @Option(help: "Datasets folder.") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard k >= 1 else { throw CLIFailure(message: "--k must be at least 1") }
            let dir = FileManager.default.fileExists(atPath: (name as NSString).appendingPathComponent("corpus.jsonl"))
                ? name : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: name)
            let dataset = try BEIRDataset.load(directory: dir)
            let embedders = try embedder.map { try Embedders.make(spec: $0) }
            let k = self.k
            var results: [DatasetEvaluation.Result] = []
            for e in embedders {
                results.append(try runBlocking { try await DatasetEvaluation.run(dataset, embedder: e, k: k, threads: ProcessInfo.processInfo.activeProcessorCount) })
            }
            if json {
                emit(JSONValue.object(["dataset": .string(name), "results": .array(results.map(\.json))]).jsonText)
            } else {
                emit("| embedder | nDCG@\(k) | recall@\(k) | MRR@\(k) | queries |")
                emit("|---|---|---|---|---|")
                for (spec, r) in zip(embedder, results) {
                    emit("| \(spec) (`\(r.embedder)`) | \(String(format: "%.4f", r.ndcg)) | \(String(format: "%.4f", r.recall)) | \(String(format: "%.4f", r.mrr)) | \(r.queries) |")
                }
            }
        }
    }
}

extension DatasetCatalog.Info {
    var json: JSONValue {
        [
            "name": .string(name), "path": .string(path), "documents": .int(Int64(documents)), "queries": .int(Int64(queries)),
            "judgements": .int(Int64(judgements)), "bytes": .int(Int64(bytes)), "source": source.map { .string($0) } ?? .null,
            "license": license.map { .string($0) } ?? .null,
        ]
    }
}

extension DatasetEvaluation.Result {
    var json: JSONValue {
        [
            "embedder": .string(embedder), "k": .int(Int64(k)), "queries": .int(Int64(queries)), "ndcg_at_k": .double(ndcg),
            "recall_at_k": .double(recall), "mrr_at_k": .double(mrr), "embed_s": .double(embedSeconds),
        ]
    }
}

extension BenchCommand {
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Embedding throughput: MB of text per second, one thread, over a dataset's corpus cut into chunks.",
            discussion: "The corpus is joined and cut with the default chunker (600 tokens, overlap 200), as APPEND does; the best of --repeats passes is reported.")
        @Option(help: "Embedder spec.") var embedder: String = "hash-v2"
        @Option(help: "Dataset name or BEIR folder.") var dataset: String = "wordnet-defs"
        @Option(help: "Passes over the corpus (the best is reported).") var repeats: Int = 3
        @Option(help: "Datasets folder.") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard repeats >= 1 else { throw CLIFailure(message: "--repeats must be at least 1") }
            let dir = FileManager.default.fileExists(atPath: (dataset as NSString).appendingPathComponent("corpus.jsonl"))
                ? dataset : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: dataset)
            let corpus = try BEIRDataset.load(directory: dir).corpus.map { d in [d.title ?? "", d.text].filter { !$0.isEmpty }.joined(separator: "\n") }
            let texts = try Chunker().chunks(documentID: "corpus", text: corpus.joined(separator: "\n\n")).map(\.text)
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            let e = try Embedders.make(spec: embedder)
            var best = Double.infinity
            let display = StepDisplay(enabled: !json)
            do {
                defer { display.finish() }  // before the result, and also when embedding throws
                for pass in 0..<repeats {
                    display.update(BenchProgress("embedding \(texts.count) texts with \(e.identifier)", done: pass, total: repeats))
                    let t = ContinuousClock.now
                    _ = try runBlocking { try await e.embed(texts) }
                    let c = (ContinuousClock.now - t).components
                    best = min(best, Double(c.seconds) + Double(c.attoseconds) / 1e18)
                }
                display.update(BenchProgress("embedding \(texts.count) texts with \(e.identifier)", done: repeats, total: repeats))
            }
            let mbps = Double(bytes) / 1_000_000 / best
            if json {
                emit(JSONValue.object(["embedder": .string(e.identifier), "texts": .int(Int64(texts.count)), "bytes": .int(Int64(bytes)),
                                       "seconds": .double(best), "mb_per_s": .double(mbps)]).jsonText)
            } else {
                emit("\(e.identifier): \(texts.count) texts, \(String(format: "%.2f", Double(bytes) / 1_000_000)) MB in \(String(format: "%.3f", best)) s = \(String(format: "%.1f", mbps)) MB/s")
            }
        }
    }
}

import ArgumentParser
import Foundation
import Switchyard
import SwitchyardBench

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed a text with an embedder spec (for debugging embedders).")
    @Option(help: "Embedder spec: hash-v1, hash-v2, hash:dim=…,words=…,chars=…, minilm, minilm:path=DIR or http:url=URL,model=NAME,… (see docs/embedders.md).") var embedder: String = "hash-v2"
    @Option(help: "The text to embed.") var text: String
    @Flag(help: "Print JSON: identifier, dimension, vector (and token ids for a model embedder).") var json = false

    func run() throws {
        let e = try Embedders.make(spec: embedder)
        let text = self.text
        let v = try runBlocking { try await e.embed([text])[0] }
        let ids = (e as? SentenceEmbedder)?.tokenIDs([text])[0]
        if json {
            var o: [String: JSONValue] = [
                "embedder": .string(e.identifier), "dimension": .int(Int64(e.dimension)),
                "vector": .array(v.map { .double(Double("\($0)") ?? Double($0)) }),
            ]
            if let ids { o["token_ids"] = .array(ids.map { .int(Int64($0)) }) }
            emit(JSONValue.object(o).jsonText)
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
        @Option(help: "Threads for model embedders and search (default: all cores).") var threads: Int?
        @Option(help: "Datasets folder.") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard k >= 1 else { throw CLIFailure(message: "--k must be at least 1") }
            let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
            guard threads >= 1 else { throw CLIFailure(message: "--threads must be at least 1") }
            let dir = FileManager.default.fileExists(atPath: (name as NSString).appendingPathComponent("corpus.jsonl"))
                ? name : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: name)
            let dataset = try BEIRDataset.load(directory: dir)
            let embedders = try embedder.map { try Embedders.make(spec: $0, threads: threads) }
            let k = self.k
            var results: [DatasetEvaluation.Result] = []
            for e in embedders {
                results.append(try runBlocking { try await DatasetEvaluation.run(dataset, embedder: e, k: k, threads: threads) })
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
            abstract: "Embedding throughput over a dataset: texts/s, MB/s, and for a model embedder tokens/s, GFLOP/s and the fraction of sgemm's.",
            discussion: """
                By default the corpus is joined and cut with the default chunker (600 tokens, overlap 200), as APPEND does. \
                With --documents each document (title, newline, text) is one text, as Benchmarks/peers/embed.py embeds them \
                with sentence-transformers. The best of --repeats passes is reported for each thread count.
                """)
        @Option(help: "Embedder spec.") var embedder: String = "hash-v2"
        @Option(help: "Dataset name or BEIR folder.") var dataset: String = "wordnet-defs"
        @Flag(help: "One text per document instead of chunks of the joined corpus.") var documents = false
        @Option(help: "Embed only the first N texts.") var limit: Int?
        @Option(help: "Thread counts, comma-separated (model embedders; hashing embedders use one).") var threads: String = "1"
        @Option(help: "Passes over the corpus (the best is reported).") var repeats: Int = 3
        @Option(help: "Datasets folder.") var root: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard repeats >= 1 else { throw CLIFailure(message: "--repeats must be at least 1") }
            let threadCounts = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !threadCounts.isEmpty, threadCounts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw CLIFailure(message: "--threads '\(threads)' must be positive integers separated by commas")
            }
            if let limit, limit < 1 { throw CLIFailure(message: "--limit must be at least 1") }
            let dir = FileManager.default.fileExists(atPath: (dataset as NSString).appendingPathComponent("corpus.jsonl"))
                ? dataset : try DatasetCatalog(root: root ?? DatasetCatalog.defaultRoot).path(of: dataset)
            let corpus = try BEIRDataset.load(directory: dir).corpus
            var texts: [String]
            if documents {
                texts = corpus.map { ($0.title ?? "") + "\n" + $0.text }
            } else {
                let joined = corpus.map { d in [d.title ?? "", d.text].filter { !$0.isEmpty }.joined(separator: "\n") }.joined(separator: "\n\n")
                texts = try Chunker().chunks(documentID: "corpus", text: joined).map(\.text)
            }
            if let limit { texts = Array(texts.prefix(limit)) }
            let display = StepDisplay(enabled: !json)
            let result: EmbedBenchmark.Result
            do {
                defer { display.finish() }  // before the result, and also when embedding throws
                result = try EmbedBenchmark.run(spec: embedder, texts: texts, threads: threadCounts.map { $0! }, repeats: repeats) { display.update($0) }
            }
            if json {
                emit(result.json.jsonText)
                return
            }
            let mb = Double(result.bytes) / 1_000_000
            emit("\(result.embedder): \(result.texts) texts, \(String(format: "%.2f", mb)) MB\(result.tokens.map { ", \($0) tokens" } ?? "")")
            for r in result.rows {
                var line = "  \(r.threads) thread\(r.threads == 1 ? " " : "s"): \(String(format: "%.3f", r.seconds)) s = \(String(format: "%.1f", r.textsPerSecond)) texts/s, \(String(format: "%.2f", mb / r.seconds)) MB/s"
                if let t = r.tokensPerSecond { line += ", \(String(format: "%.0f", t)) tokens/s" }
                if let g = r.gflops, let c = r.sgemmGflops, let f = r.fractionOfSgemm {
                    line += ", \(String(format: "%.1f", g)) GFLOP/s = \(String(format: "%.0f", f * 100))% of sgemm's \(String(format: "%.1f", c))"
                }
                emit(line)
            }
        }
    }
}

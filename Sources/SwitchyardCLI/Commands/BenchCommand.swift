import ArgumentParser
import Foundation
import Switchyard
import SwitchyardBench

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks whose figures compare with other engines.", subcommands: [Search.self, Embed.self, Append.self, Reindex.self, Serve.self])

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest base vectors into a fresh durable store, then time single and batch search.")
        @Option(help: "Base vectors (.fvecs).") var base: String
        @Option(help: "Query vectors (.fvecs).") var queries: String
        @Option(help: "Ground truth neighbours (.ivecs) for recall.") var gt: String?
        @Option(help: "Neighbours per query.") var k: Int = 10
        @Option(help: "cosine, dot, euclid or manhattan.") var metric: String = "cosine"
        @Option(help: "Search threads (default: all cores).") var threads: Int?
        @Option(help: "Single queries timed.") var single: Int = 200
        @Option(help: "Times the whole batch is run; the best is reported, every run in the JSON.") var batchRuns: Int = 1
        @Option(help: "Points per ingest transaction.") var ingestBatch: Int = 5000
        @Option(help: "Build the store here and keep it (default: a temporary directory, removed).") var storeDir: String?
        @Option(help: "Kernel family: auto, avx512, avx2 or generic.") var kernel: String = "auto"
        @Option(help: "SQLite synchronous level: full or normal.") var sync: String = "full"
        @Option(help: "Scalar quantization of the collection: int8 (searches scan the int8 copy, then rescore).") var quantization: String?
        @Option(help: "With --quantization: the share of values kept unclipped, 0.5 to 1 (default 0.99).") var quantile: Double?
        @Option(help: "With --quantization: candidates taken from the int8 scan, as a multiple of k (at least 1).") var oversampling: Double?
        @Flag(help: "With --quantization: rank by the int8 scores, without rescoring.") var noRescore = false
        @Flag(help: "Exact searches scan the float rows only, without the int8 screen (results are the same).") var noScreen = false
        @Flag(help: "Print one JSON object.") var json = false

        /// How the benchmark's collection answers exact searches, for the report.
        func exactLine(_ r: SearchBenchmark.Result, distance: Distance) -> String {
            if r.screening {
                return String(format: "int8 screen with proven bounds (%.1f MB = %.2fx the float rows; rows scored exactly per query: mean %.1f, max %d)",
                              r.screenMB, r.vectorMB > 0 ? r.screenMB / r.vectorMB : 0, r.screenRowsMean ?? 0, r.screenRowsMax ?? 0)
            }
            if noScreen { return "float scan only (--no-screen)" }
            if let why = RowMatrix.screeningExclusion(distance: distance, dimension: r.d, rows: r.n) { return "float scan (\(why))" }
            if r.quantization != nil { return "float scan (a quantized collection keeps no screen; the searches timed scan its int8 copy)" }
            return "float scan (the screen could not bound these rows)"
        }

        func run() throws {
            guard let d = Distance(parsing: metric) else { throw CLIFailure(message: "unknown --metric '\(metric)': use cosine, dot, euclid or manhattan") }
            guard let s = Store.Options.Sync(rawValue: sync.uppercased()) else { throw CLIFailure(message: "--sync must be full or normal") }
            try Kernels.select(kernel)
            BLASRuntime.warnIfSlowOnce()
            var c = SearchBenchmark.Configuration(basePath: base, queriesPath: queries, groundTruthPath: gt)
            c.k = k
            c.distance = d
            c.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
            c.singleQueries = single
            c.batchRuns = batchRuns
            c.ingestBatch = ingestBatch
            c.storeDirectory = storeDir
            c.synchronous = s
            c.quantization = try CollectionsCommand.Create.quantization(quantization, quantile: quantile)
            if c.quantization != nil, d == .manhattan {
                throw CLIFailure(message: "--quantization int8 with --metric manhattan: Manhattan collections keep no int8 copy (their searches stay exact), so there is no int8 search to time")
            }
            if c.quantization == nil, oversampling != nil || noRescore {
                throw CLIFailure(message: "--oversampling and --no-rescore need --quantization int8")
            }
            if let o = oversampling {
                guard o.isFinite, o >= 1 else { throw CLIFailure(message: "--oversampling must be a number of at least 1, got \(o)") }
                c.searchParams.oversampling = o
            }
            c.searchParams.rescore = !noRescore
            c.screening = !noScreen
            let display = StepDisplay(enabled: !json)
            let r: SearchBenchmark.Result
            do {
                defer { display.finish() }  // also when it throws: the error goes on a line of its own
                r = try SearchBenchmark.run(c, progress: display.update)
            }
            if json {
                emit(r.json.jsonText)
            } else {
                emit("""
                    n=\(r.n) d=\(r.d) nq=\(r.nq) k=\(r.k) threads=\(r.threads) kernel=\(r.kernel)
                    blas: \(r.blas)
                    ingest: \(String(format: "%.2f", r.ingestSeconds)) s (\(Int(Double(r.n) / r.ingestSeconds)) vectors/s, durable)
                    single query: p50 \(String(format: "%.3f", r.singleP50Ms)) ms, p99 \(String(format: "%.3f", r.singleP99Ms)) ms
                    batch: \(String(format: "%.0f", r.batchQPS)) queries/s\(r.batchRunsQPS.count > 1 ? " (best of " + r.batchRunsQPS.map { String(format: "%.0f", $0) }.joined(separator: ", ") + ")" : "")
                    recall@\(r.k): \(r.recallAtK.map { String(format: "%.4f", $0) } ?? "n/a (no --gt)")
                    exact search: \(exactLine(r, distance: d))
                    memory: \(String(format: "%.1f", r.rssMB)) MB resident (peak \(String(format: "%.1f", r.peakRSSMB)) MB, \(String(format: "%.1f", r.baseRSSMB)) MB before the store opened), disk \(String(format: "%.1f", r.diskMB)) MB
                    """)
                if let q = r.quantization {
                    emit(String(format: "int8 quantization (quantile %g, oversampling %g, %@, kernel %@): scan structure %.1f MB = %.2fx the float rows (%.1f MB)",
                                q.quantile, r.searchParams.oversampling, r.searchParams.rescore ? "rescored" : "not rescored", r.int8Kernel ?? "-",
                                r.quantizedMB, r.vectorMB > 0 ? r.quantizedMB / r.vectorMB : 0, r.vectorMB))
                }
            }
        }
    }
}

extension BenchCommand {
    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time an APPEND end to end (durable) on a fresh store: chunks per second, where the time goes, and the memory it took.")
        @Option(help: "The source to append (default: the bundled wordnet-defs dataset).") var source: String?
        @Option(help: "Append a generated JSON Lines corpus of this many documents instead of --source.") var synthetic: Int?
        @Option(help: "Words per generated document (with --synthetic).") var words: Int = 300
        @Option(help: "Fail (exit 1) when a run's memory growth exceeds this many MiB.") var maxGrowthMb: Double?
        @Option(help: "Embedder spec.") var embedder: String = "hash-v2"
        @Option(help: "Runs, each on a fresh store.") var repeats: Int = 3
        @Option(help: "SQLite synchronous level: full or normal.") var sync: String = "full"
        @Flag(help: "Print one JSON object per run.") var json = false

        func validate() throws {
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
            guard Store.Options.Sync(rawValue: sync.uppercased()) != nil else { throw ValidationError("--sync must be full or normal, got '\(sync)'") }
            if let synthetic {
                guard source == nil else { throw ValidationError("--synthetic and --source exclude each other") }
                guard synthetic >= 1 else { throw ValidationError("--synthetic must be at least 1, got \(synthetic)") }
            }
            guard words >= 1 else { throw ValidationError("--words must be at least 1, got \(words)") }
            if let maxGrowthMb, !(maxGrowthMb.isFinite && maxGrowthMb > 0) {
                throw ValidationError("--max-growth-mb must be a positive number, got \(maxGrowthMb)")
            }
        }

        func run() throws {
            let s = Store.Options.Sync(rawValue: sync.uppercased())!
            let path = try synthetic != nil ? "" : (source ?? DatasetCatalog(root: DatasetCatalog.defaultRoot).path(of: "wordnet-defs"))
            var c = AppendBenchmark.Configuration(source: path, embedder: embedder)
            c.synchronous = s
            c.synthetic = synthetic.map { SyntheticCorpus(documents: $0, words: words) }
            var overBound: [String] = []
            for i in 1...repeats {
                let display = StepDisplay(enabled: !json)
                let r: AppendBenchmark.Result
                do {
                    defer { display.finish() }
                    r = try AppendBenchmark.run(c) { p in display.update(BenchProgress("run \(i)/\(repeats): \(p.step)", done: p.done, total: p.total)) }
                }
                if let maxGrowthMb, r.memoryGrowthBytes > maxGrowthMb * 1_048_576 {
                    overBound.append(String(format: "run %d grew %.1f MiB, above --max-growth-mb %.1f", i, r.memoryGrowthBytes / 1_048_576, maxGrowthMb))
                }
                if json {
                    var o = r.json.objectValue ?? [:]
                    o["run"] = .int(Int64(i))
                    o["embedder"] = .string(embedder)
                    emit(JSONValue.object(o).jsonText)
                } else {
                    let stages = r.stages.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f s", $0.key, $0.value) }.joined(separator: ", ")
                    emit(String(format: "run %d: %d documents, %d chunks in %.3f s = %.0f chunks/s (%@; cpu %.2f s user, %.2f s system)",
                                i, r.documents, r.chunks, r.seconds, r.chunksPerSecond, stages, r.cpuUserSeconds, r.cpuSystemSeconds))
                    let source = r.sourceBytes > 0 ? String(format: " for a %.1f MiB source", Double(r.sourceBytes) / 1_048_576) : ""
                    emit(String(format: "run %d: memory grew %.1f MiB during the append%@ (process peak %.1f MiB)",
                                i, r.memoryGrowthBytes / 1_048_576, source, r.peakRSSBytes / 1_048_576))
                }
            }
            if !overBound.isEmpty { throw CLIFailure(message: overBound.joined(separator: "; "), exitCode: 1) }
        }
    }
}

extension BenchCommand {
    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time a blue-green reindex alone and with readers, readers' latency idle vs during, and the switch (intent, alias batch, commit).")
        @Option(help: "The source to index (default: the bundled wordnet-defs dataset).") var source: String?
        @Option(help: "Embedder before.") var from: String = "hash-v1"
        @Option(help: "Embedder after.") var to: String = "hash-v2"
        @Option(help: "Readers searching through the alias.") var readers: Int = 4
        @Option(help: "Milliseconds each reader pauses between queries.") var readerIntervalMs: Double = 10
        @Option(help: "Rounds of idle readers then a reindex with readers; the readers' latencies of all rounds are pooled.") var readerRounds: Int = 3
        @Option(help: "Seconds the readers run idle in each round.") var idleSeconds: Double = 1
        @Option(help: "Switches (rollbacks) and bare alias flips timed for the percentiles, at each count of --switch-readers.") var switches: Int = 200
        @Option(help: "Reader counts the switches are timed under, comma-separated.") var switchReaders: String = "0,4,8"
        @Option(help: "Reindexes (each with its switch) timed at each count of --switch-readers.") var switchReindexes: Int = 5
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var qdrant: QdrantOptions

        func run() throws {
            guard readers >= 1 else { throw CLIFailure(message: "--readers must be at least 1, got \(readers)") }
            guard switches >= 1 else { throw CLIFailure(message: "--switches must be at least 1, got \(switches)") }
            guard readerRounds >= 1 else { throw CLIFailure(message: "--reader-rounds must be at least 1, got \(readerRounds)") }
            guard idleSeconds.isFinite, idleSeconds > 0 else { throw CLIFailure(message: "--idle-seconds must be a positive number") }
            var c = ReindexBenchmark.Configuration(source: try source ?? DatasetCatalog(root: DatasetCatalog.defaultRoot).path(of: "wordnet-defs"))
            c.from = from
            c.to = to
            c.readers = readers
            c.readerRounds = readerRounds
            c.idleSeconds = idleSeconds
            c.switches = switches
            c.switchReaders = try switchReaders.split(separator: ",", omittingEmptySubsequences: false).map { part in
                let text = part.trimmingCharacters(in: .whitespaces)
                guard let n = Int(text), n >= 0 else {
                    throw CLIFailure(message: "--switch-readers: '\(text)' is not a reader count (a whole number, 0 or more)")
                }
                return n
            }
            guard switchReindexes >= 0 else { throw CLIFailure(message: "--switch-reindexes must not be negative, got \(switchReindexes)") }
            c.switchReindexes = switchReindexes
            guard readerIntervalMs.isFinite, readerIntervalMs >= 0 else { throw CLIFailure(message: "--reader-interval-ms must be a non-negative number") }
            c.readerInterval = readerIntervalMs / 1000
            c.vectors = try qdrant.backend()
            let display = StepDisplay(enabled: !json)
            let r: ReindexBenchmark.Result
            do {
                defer { display.finish() }
                r = try ReindexBenchmark.run(c, progress: display.update)
            }
            if json { emit(r.json.jsonText); return }
            emit(String(format: "reindex %d vectors %@ -> %@: alone %.2f s (%.0f chunks/s); with %d readers (%.0f ms pauses) %.2f s (%.0f chunks/s, mean of %d)",
                        r.vectors, from, to, r.aloneSeconds, r.aloneChunksPerSecond, readers, readerIntervalMs, r.withReadersSeconds, r.withReadersChunksPerSecond,
                        r.readerRounds))
            emit(String(format: "readers over %d rounds, idle: %d queries, p50 %.2f ms, p99 %.2f ms; during the reindexes: %d queries, %d errors, p50 %.2f ms, p99 %.2f ms (p99 %.2fx idle)",
                        r.readerRounds, r.idle.count, r.idle.p50 * 1000, r.idle.p99 * 1000, r.during.count, r.during.errors, r.during.p50 * 1000, r.during.p99 * 1000,
                        r.idle.p99 > 0 ? r.during.p99 / r.idle.p99 : 0))
            emit("reindex switches (intent, alias batch, commit): " + r.reindexSwitchMilliseconds.map { String(format: "%.2f ms", $0) }.joined(separator: ", ")
                 + "; alias batch inside: " + r.aliasFlipMilliseconds.map { String(format: "%.3f ms", $0) }.joined(separator: ", "))
            let remote = c.vectors != nil
            for l in r.switchLoads {
                let switches = l.reindexSwitchMilliseconds
                emit(String(format: "with %d readers (%d queries, %d errors): reindex switch x%d p50 %.2f ms, max %.2f ms; rollback x%d p50 %.2f ms, p99 %.2f ms; "
                            + "alias flip p50 %.3f ms, p99 %.3f ms (%@), whole call p99 %.2f ms",
                            l.readers, l.readerQueries, l.readerErrors, switches.count, ReindexBenchmark.percentile(switches, 0.5), switches.max() ?? 0,
                            self.switches, l.rollbackP50Milliseconds, l.rollbackP99Milliseconds, l.flipP50Milliseconds, l.flipP99Milliseconds,
                            remote ? "the alias batch's HTTP round trip"
                                : String(format: "alias rows + catalog swap; their own p99 %.3f and %.3f ms", l.flipRowsP99Milliseconds, l.flipCatalogP99Milliseconds),
                            l.flipCallP99Milliseconds))
            }
        }
    }
}

struct DatasetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets", abstract: "Generate, list and evaluate data sets.", subcommands: [List.self, Info.self, Eval.self, Synth.self])

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write deterministic clustered unit vectors with exact cosine ground truth (base.fvecs, query.fvecs, gt.ivecs).")
        @Option(help: "Base vectors.") var n: Int
        @Option(help: "Dimension.") var d: Int
        @Option(help: "Query vectors.") var queries: Int
        @Option(help: "Cluster centres.") var clusters: Int = 100
        @Option(help: "Random seed.") var seed: UInt64 = 42
        @Option(help: "Ground-truth neighbours per query.") var gtK: Int = 100
        @Option(help: "Output directory.") var out: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let p = SyntheticData.Parameters(count: n, dimension: d, queries: queries, clusters: clusters, seed: seed, groundTruthK: gtK)
            let o = try SyntheticData.write(p, to: out)
            let summary: JSONValue = [
                "out": .string(out), "n": .int(Int64(o.base.count)), "d": .int(Int64(d)), "queries": .int(Int64(o.queries.count)),
                "gt_k": .int(Int64(o.groundTruth.dimension)), "seed": .int(Int64(seed)),
            ]
            emit(json ? summary.jsonText : "wrote \(o.base.count) base, \(o.queries.count) query vectors and top-\(o.groundTruth.dimension) ground truth to \(out)")
        }
    }
}

import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorMath
import VectorStore

/// Measures a blue-green reindex on a fresh durable store: throughput alone and with readers searching
/// through the alias, the readers' latency idle vs during the reindex, and the switch (intent, alias batch, commit).
///
/// ```swift
/// let r = try ReindexBenchmark.run(.init(source: "Datasets/wordnet-defs"))
/// print(r.json.jsonText)
/// ```
public enum ReindexBenchmark {
    public struct Configuration: Sendable {
        public var source: String
        public var from = "hash-v1"
        public var to = "hash-v2"
        public var readers = 4
        /// Pause between one reader's queries (think time): readers that never pause would use every
        /// core and measure only the scheduler.
        public var readerInterval = 0.01
        /// Seconds the idle readers run in each round.
        public var idleSeconds = 1.0
        /// Rounds of idle readers followed by a reindex of "busy" with readers (back and forth between the two
        /// embedders); the latencies of all rounds are pooled. Interleaved, a noisy moment of a shared machine
        /// falls on both sides alike, and the pooled p99 rests on more than one window's five slowest queries.
        public var readerRounds = 3
        /// Alias switches timed (through rollback: intent, alias batch, commit, as a reindex's switch) for the
        /// percentiles, and bare alias flips, at each reader count of `switchReaders`.
        public var switches = 200
        /// Reader counts the switches are timed under (readers searching the switched collection's alias).
        public var switchReaders = [0, 4, 8]
        /// Reindexes (each with its own switch) timed at each reader count of `switchReaders`.
        public var switchReindexes = 5
        /// Where the vectors live (`nil`: the benchmark's own store; or a Qdrant server).
        public var vectors: (any VectorBackend)?
        /// Readers' queries (texts); default: the source's `queries.jsonl` when it is a BEIR dataset.
        public var queries: [String] = []

        public init(source: String) { self.source = source }
    }

    public struct Latency: Sendable {
        public var count: Int
        public var errors: Int
        public var p50: Double
        public var p99: Double

        /// Percentiles of `seconds` (any order).
        init(_ seconds: [Double], errors: Int) {
            count = seconds.count
            self.errors = errors
            p50 = ReindexBenchmark.percentile(seconds, 0.5)
            p99 = ReindexBenchmark.percentile(seconds, 0.99)
        }
    }

    /// The switch timed with `readers` readers searching through the alias being switched.
    public struct SwitchLoad: Sendable {
        public var readers: Int
        /// Each reindex's switch transaction (intent, alias batch, commit) and the alias batch inside it.
        public var reindexSwitchMilliseconds: [Double]
        public var reindexFlipMilliseconds: [Double]
        /// Rollbacks: the same three steps, on the caller's thread.
        public var rollbackP50Milliseconds: Double
        public var rollbackP99Milliseconds: Double
        /// Bare alias flips: the flip itself (alias rows + catalog swap) and the whole call (with the commit's fsync).
        public var flipP50Milliseconds: Double
        public var flipP99Milliseconds: Double
        public var flipCallP99Milliseconds: Double
        /// The flip's two parts (embedded store only; 0 for a remote backend): the alias rows in the transaction,
        /// and the catalog swap after the commit.
        public var flipRowsP99Milliseconds: Double
        public var flipCatalogP99Milliseconds: Double
        public var readerQueries: Int
        public var readerErrors: Int

        public var json: JSONValue {
            [
                "readers": .int(Int64(readers)),
                "reindex_switch_ms": .array(reindexSwitchMilliseconds.map { .double($0) }),
                "reindex_switch_p50_ms": .double(ReindexBenchmark.percentile(reindexSwitchMilliseconds, 0.5)),
                "reindex_switch_max_ms": .double(reindexSwitchMilliseconds.max() ?? 0),
                "reindex_alias_flip_ms": .array(reindexFlipMilliseconds.map { .double($0) }),
                "rollback_p50_ms": .double(rollbackP50Milliseconds), "rollback_p99_ms": .double(rollbackP99Milliseconds),
                "alias_flip_p50_ms": .double(flipP50Milliseconds), "alias_flip_p99_ms": .double(flipP99Milliseconds),
                "alias_flip_call_p99_ms": .double(flipCallP99Milliseconds),
                "alias_flip_rows_p99_ms": .double(flipRowsP99Milliseconds), "alias_flip_catalog_p99_ms": .double(flipCatalogP99Milliseconds),
                "reader_queries": .int(Int64(readerQueries)), "reader_errors": .int(Int64(readerErrors)),
            ]
        }
    }

    /// The value below which a share `p` of the samples lie (nearest rank; 0 without samples).
    public static func percentile(_ samples: [Double], _ p: Double) -> Double {
        let s = samples.sorted()
        return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
    }

    public struct Result: Sendable {
        public var vectors: Int
        public var aloneSeconds: Double
        public var aloneChunksPerSecond: Double
        /// The reindexes with readers: their mean time and throughput.
        public var withReadersSeconds: Double
        public var withReadersChunksPerSecond: Double
        /// Readers' latency over all rounds, idle and during the reindexes.
        public var idle: Latency
        public var during: Latency
        public var readerRounds: Int
        /// The switches of the reindexes above (alone, then each round's with readers) and the alias batch inside each.
        public var reindexSwitchMilliseconds: [Double]
        public var aliasFlipMilliseconds: [Double]
        /// The switch under 0, 4 and 8 readers (``Configuration/switchReaders``).
        public var switchLoads: [SwitchLoad]

        public var json: JSONValue {
            func lat(_ l: Latency) -> JSONValue {
                ["queries": .int(Int64(l.count)), "errors": .int(Int64(l.errors)), "p50_ms": .double(l.p50 * 1000), "p99_ms": .double(l.p99 * 1000)]
            }
            return [
                "vectors": .int(Int64(vectors)),
                "reindex_alone_s": .double(aloneSeconds), "reindex_alone_chunks_per_s": .double(aloneChunksPerSecond),
                "reindex_with_readers_s": .double(withReadersSeconds), "reindex_with_readers_chunks_per_s": .double(withReadersChunksPerSecond),
                "readers_idle": lat(idle), "readers_during_reindex": lat(during), "reader_rounds": .int(Int64(readerRounds)),
                "reader_p99_ratio": .double(idle.p99 > 0 ? during.p99 / idle.p99 : 0),
                "reindex_switch_ms": .array(reindexSwitchMilliseconds.map { .double($0) }),
                "reindex_alias_flip_ms": .array(aliasFlipMilliseconds.map { .double($0) }),
                "switch_under_readers": .array(switchLoads.map(\.json)),
            ]
        }
    }

    /// Runs the benchmark in a temporary directory (removed afterwards).
    public static func run(_ c: Configuration, progress: (BenchProgress) -> Void = { _ in }) throws(OperationsError) -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-bench-reindex-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store: Store
        do { store = try Store.open(at: dir) } catch { throw OperationsError(.storage, error.description) }
        defer { try? store.close() }
        let manager = try CollectionManager(store: store, vectors: c.vectors)
        let service = try ReindexService(manager: manager)
        try manager.setLimits(ResourceLimits(owner: "bench", maxCollections: 10, maxDocuments: Int.max / 4, maxStorageBytes: Int.max / 4,
                                             maxOperationsPerHour: 100_000))
        // The worker's own poll interval: the loop wakes when the reindex ends, and a faster poll (each reads
        // the operation record) would spend CPU at the readers' priority, which they then wait for.
        let wo = Worker.Options()
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        let worker = Worker(manager: manager, options: wo, handlers: [.reindex: ReindexHandler(settings: settings)])
        progress(BenchProgress("indexing \(c.source) twice with \(c.from)"))
        for name in ["alone", "busy"] {
            try manager.createCollection(CollectionSpec(name: name, owner: "bench", embedder: c.from), sources: [c.source], user: "bench")
        }
        try worker.runUntilIdle()
        let vectors = try manager.collection(named: "alone").vectorCount
        var queries = c.queries
        if queries.isEmpty { queries = BEIRDataset.loadQueries(path: (c.source as NSString).appendingPathComponent("queries.jsonl")).0.map(\.text) }
        if queries.isEmpty { queries = ["a query", "another query", "something else"] }

        // One query per reader first, untimed: the first search of a process loads what it needs.
        for q in queries.prefix(c.readers) { _ = try service.search("busy", text: q, limit: 10, withPayload: false) }
        progress(BenchProgress("reindex alone"))
        let alone = try reindex("alone", to: c.to, manager: manager, worker: worker)

        var idle: [Double] = [], during: [Double] = []
        var idleErrors = 0, duringErrors = 0
        var busy: [(seconds: Double, result: [String: JSONValue])] = []
        for round in 0..<c.readerRounds {
            let of = c.readerRounds > 1 ? " (round \(round + 1) of \(c.readerRounds))" : ""
            progress(BenchProgress("readers idle for \(c.idleSeconds) s" + of))
            let quiet = try readers(c.readers, interval: c.readerInterval, service: service, queries: queries) { Thread.sleep(forTimeInterval: c.idleSeconds) }
            idle += quiet.latencies
            idleErrors += quiet.errors
            progress(BenchProgress("reindex with \(c.readers) readers" + of))
            var caught: OperationsError?
            let loaded = try readers(c.readers, interval: c.readerInterval, service: service, queries: queries) {
                do { busy.append(try reindex("busy", to: round % 2 == 0 ? c.to : c.from, manager: manager, worker: worker)) } catch {
                    caught = CollectionManager.classify(error, doing: "the reindex")
                }
            }
            if let caught { throw caught }
            during += loaded.latencies
            duringErrors += loaded.errors
        }
        let busySeconds = busy.isEmpty ? 0 : busy.map(\.seconds).reduce(0, +) / Double(busy.count)

        var loads: [SwitchLoad] = []
        for count in c.switchReaders {
            let step = "switches with \(count) readers"
            progress(BenchProgress(step, done: 0, total: c.switchReindexes + c.switches))
            var load: SwitchLoad!
            var caught: OperationsError?
            let t = try readers(count, interval: c.readerInterval, service: service, queries: queries, collection: "alone") {
                do throws(OperationsError) {
                    load = try switchLoad(c, readers: count, manager: manager, worker: worker, service: service, store: store) { done in
                        progress(BenchProgress(step, done: done, total: c.switchReindexes + c.switches))
                    }
                } catch { caught = error }
            }
            if let caught { throw caught }
            load.readerQueries = t.queries
            load.readerErrors = t.errors
            loads.append(load)
        }
        let results = [alone.result] + busy.map(\.result)
        return Result(
            vectors: vectors, aloneSeconds: alone.seconds, aloneChunksPerSecond: Double(vectors) / alone.seconds,
            withReadersSeconds: busySeconds, withReadersChunksPerSecond: busySeconds > 0 ? Double(vectors) / busySeconds : 0,
            idle: Latency(idle, errors: idleErrors), during: Latency(during, errors: duringErrors), readerRounds: c.readerRounds,
            reindexSwitchMilliseconds: results.compactMap { $0["switch_ms"]?.numberValue },
            aliasFlipMilliseconds: results.compactMap { $0["alias_flip_ms"]?.numberValue },
            switchLoads: loads)
    }

    /// Reindexes "alone" back and forth, then rolls it back and flips a bare alias, timing each switch.
    private static func switchLoad(_ c: Configuration, readers: Int, manager: CollectionManager, worker: Worker, service: ReindexService,
                                   store: Store, done: (Int) -> Void) throws(OperationsError) -> SwitchLoad {
        var switchMs: [Double] = []
        var flipMs: [Double] = []
        for i in 0..<c.switchReindexes {
            let r = try reindex("alone", to: i % 2 == 0 ? c.from : c.to, manager: manager, worker: worker).result
            if let v = r["switch_ms"]?.numberValue { switchMs.append(v) }
            if let v = r["alias_flip_ms"]?.numberValue { flipMs.append(v) }
            done(i + 1)
        }
        var samples: [Double] = []
        for i in 0..<c.switches {
            let t0 = ContinuousClock.now
            try service.rollback("alone", user: "bench")
            samples.append((ContinuousClock.now - t0).seconds * 1000)
            done(c.switchReindexes + i + 1)
        }
        let generations = try service.generations(of: "alone").filter { $0.status != .dropped }.map(\.vectorStoreName)
        var flips: [Double] = []
        var calls: [Double] = []
        var rowParts: [Double] = []
        var catalogParts: [Double] = []
        if generations.count >= 2 {
            for i in 0..<c.switches {
                var actions: [AliasAction] = i == 0 ? [] : [.delete(alias: "bench_flip")]
                actions.append(.create(alias: "bench_flip", collection: generations[i % 2]))
                if let embedded = manager.vectors as? Store, embedded === store {
                    let t = try CollectionManager.guarded("flipping an alias") { try store.updateAliases(actions, alongside: { _ in }) }
                    flips.append((t.aliasRowsSeconds + t.catalogSeconds) * 1000)
                    calls.append(t.totalSeconds * 1000)
                    rowParts.append(t.aliasRowsSeconds * 1000)
                    catalogParts.append(t.catalogSeconds * 1000)
                } else {
                    // A remote backend: the alias batch's round trip is the flip.
                    let t0 = ContinuousClock.now
                    try CollectionManager.guarded("flipping an alias") { try manager.vectors.updateAliases([actions.last!]) }
                    let ms = (ContinuousClock.now - t0).seconds * 1000
                    flips.append(ms)
                    calls.append(ms)
                }
            }
            // The next level starts from no bench alias.
            try CollectionManager.guarded("removing the benchmark's alias") { try manager.vectors.updateAliases([.delete(alias: "bench_flip")]) }
        }
        return SwitchLoad(readers: readers, reindexSwitchMilliseconds: switchMs, reindexFlipMilliseconds: flipMs,
                          rollbackP50Milliseconds: ReindexBenchmark.percentile(samples, 0.5), rollbackP99Milliseconds: ReindexBenchmark.percentile(samples, 0.99),
                          flipP50Milliseconds: ReindexBenchmark.percentile(flips, 0.5), flipP99Milliseconds: ReindexBenchmark.percentile(flips, 0.99),
                          flipCallP99Milliseconds: ReindexBenchmark.percentile(calls, 0.99),
                          flipRowsP99Milliseconds: ReindexBenchmark.percentile(rowParts, 0.99),
                          flipCatalogP99Milliseconds: ReindexBenchmark.percentile(catalogParts, 0.99), readerQueries: 0, readerErrors: 0)
    }

    private static func reindex(_ name: String, to embedder: String, manager: CollectionManager, worker: Worker)
        throws(OperationsError) -> (seconds: Double, result: [String: JSONValue])
    {
        let t0 = ContinuousClock.now
        let op = try manager.requestReindex(name, ReindexRequest(embedder: embedder), user: "bench")
        let done = try worker.runOperation(op.id)
        guard done.status == .completed else { throw OperationsError(.storage, "the benchmark's reindex \(done.status.rawValue): \(done.error ?? "")") }
        return ((ContinuousClock.now - t0).seconds, done.result ?? [:])
    }

    /// Runs `body` while `count` readers search "busy" through its alias; returns what they saw.
    private static func readers(_ count: Int, interval: Double, service: ReindexService, queries: [String], collection: String = "busy",
                                _ body: () throws(OperationsError) -> Void) throws(OperationsError) -> AliasReaders.Tally {
        let readers = AliasReaders(service: service, collection: collection, queries: queries, pause: interval)
        readers.start(count)
        var failure: OperationsError?
        do { try body() } catch { failure = error }
        let t = readers.stop()
        if let failure { throw failure }
        return t
    }
}

import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorMath
import VectorStore

/// `switchyard bench search`: ingest base vectors into a fresh durable store, then time single
/// queries and one batch over all queries, and measure recall against ground truth.
public enum SearchBenchmark {
    public struct Configuration: Sendable {
        public var basePath: String
        public var queriesPath: String
        public var groundTruthPath: String?
        public var k = 10
        public var distance: Distance = .cosine
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Single queries timed (after 10 warm-up queries).
        public var singleQueries = 200
        /// Times the whole batch is run; the best run is reported (a shared machine's noise only slows a run down).
        public var batchRuns = 1
        /// Points per upsert transaction while ingesting.
        public var ingestBatch = 5000
        /// Where to build the store; a temporary directory (removed afterwards) when `nil`.
        public var storeDirectory: String?
        public var synchronous: Store.Options.Sync = .full
        /// Scalar quantization of the collection (searches scan its int8 copy, then rescore).
        public var quantization: ScalarQuantization?
        /// How the searches use the int8 copy (with ``quantization``).
        public var searchParams = QuantizationParams()
        /// Screen exact searches with an int8 copy (``Store/Options/exactScreening``); off: the float scan alone.
        public var screening = true

        public init(basePath: String, queriesPath: String, groundTruthPath: String? = nil) {
            self.basePath = basePath
            self.queriesPath = queriesPath
            self.groundTruthPath = groundTruthPath
        }
    }

    /// The figures, with the keys of the CLI's JSON output.
    public struct Result: Sendable {
        public var n: Int
        public var d: Int
        public var nq: Int
        public var k: Int
        public var threads: Int
        public var blas: String
        public var kernel: String
        public var ingestSeconds: Double
        public var singleP50Ms: Double
        public var singleP99Ms: Double
        /// The best of the batch runs.
        public var batchQPS: Double
        /// Every batch run's queries per second, in order.
        public var batchRunsQPS: [Double] = []
        public var recallAtK: Double?
        public var rssMB: Double
        public var peakRSSMB: Double
        /// Resident memory before the store was opened (runtime, libraries, the query set).
        public var baseRSSMB: Double
        public var diskMB: Double
        /// With quantization: its settings, the int8 kernel, and the memory of the float rows and of the int8 copy.
        public var quantization: ScalarQuantization? = nil
        public var searchParams = QuantizationParams()
        public var int8Kernel: String? = nil
        public var vectorMB = 0.0
        public var quantizedMB = 0.0
        /// Whether exact searches were screened, and the memory of the screen's int8 copy.
        public var screening = true
        public var screenMB = 0.0
        /// Rows the screen left to score exactly per query (mean and largest, over up to 100 queries).
        public var screenRowsMean: Double?
        public var screenRowsMax: Int?

        /// The JSON object `switchyard bench search --json` prints.
        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "engine": "switchyard", "n": .int(Int64(n)), "d": .int(Int64(d)), "nq": .int(Int64(nq)), "k": .int(Int64(k)),
                "threads": .int(Int64(threads)), "blas": .string(blas), "kernel": .string(kernel),
                "ingest_s": .double(ingestSeconds), "ingest_vps": .double(Double(n) / ingestSeconds),
                "single_p50_ms": .double(singleP50Ms), "single_p99_ms": .double(singleP99Ms),
                "batch_qps": .double(batchQPS), "rss_mb": .double(rssMB), "peak_rss_mb": .double(peakRSSMB), "base_rss_mb": .double(baseRSSMB),
                "disk_mb": .double(diskMB), "batch_api": "searchBatch", "vectors_mb": .double(vectorMB),
                "batch_runs_qps": .array(batchRunsQPS.map { .double($0) }),
                "screening": .bool(screening), "screen_mb": .double(screenMB),
            ]
            if let m = screenRowsMean, let x = screenRowsMax {
                o["screen_rows_mean"] = .double(m)
                o["screen_rows_max"] = .int(Int64(x))
            }
            if let quantization {
                o["quantization"] = quantization.json
                o["oversampling"] = .double(searchParams.oversampling)
                o["rescore"] = .bool(searchParams.rescore)
                o["int8_kernel"] = int8Kernel.map { .string($0) } ?? .null
                o["quantized_mb"] = .double(quantizedMB)
            }
            if let r = recallAtK {
                o["recall_at_k"] = .double(r)
                if k == 10 { o["recall_at_10"] = .double(r) }
            }
            return .object(o)
        }
    }

    /// Runs the benchmark.
    ///
    /// - Throws: ``StoreError`` for unreadable or inconsistent files (e.g. base and queries of different dimensions).
    public static func run(_ c: Configuration, progress: (BenchProgress) -> Void = { _ in }) throws(StoreError) -> Result {
        guard c.k >= 1 else { throw .invalid("--k must be at least 1") }
        guard c.threads >= 1 else { throw .invalid("--threads must be at least 1") }
        guard c.singleQueries >= 0 else { throw .invalid("--single must not be negative") }
        guard c.batchRuns >= 1 else { throw .invalid("--batch-runs must be at least 1") }
        guard c.ingestBatch >= 1 else { throw .invalid("--ingest-batch must be at least 1") }
        let reader = try TexmexReader(path: c.basePath)
        let queries = try TexmexReader.readFloats(c.queriesPath)
        guard queries.dimension == reader.dimension else {
            throw .invalid("queries have dimension \(queries.dimension), base vectors \(reader.dimension)")
        }
        let gt = try c.groundTruthPath.map { path throws(StoreError) in try TexmexReader.readInts(path) }
        if let gt { try check(groundTruth: gt, c, queries: queries.count, base: reader.count) }
        let baseRSS = ProcessMemory.current().residentMB
        let temporary = c.storeDirectory == nil
        let dir = c.storeDirectory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("switchyard-bench-\(UUID().uuidString)")
        defer { if temporary { try? FileManager.default.removeItem(atPath: dir) } }
        var options = Store.Options()
        options.searchThreads = c.threads
        options.synchronous = c.synchronous
        options.preload = false
        options.exactScreening = c.screening
        let store = try Store.open(at: dir, options: options)
        let name = "bench"
        if try store.collectionExists(name) { try store.dropCollection(name) }
        try store.createCollection(name, dimension: reader.dimension, distance: c.distance, quantization: c.quantization)

        let t0 = ContinuousClock.now
        try ingest(reader, into: store, collection: name, batch: c.ingestBatch, from: c.basePath, progress: progress)
        let ingestSeconds = (ContinuousClock.now - t0).seconds

        let requests = (0..<queries.count).map { i in
            var r = SearchRequest(vector: queries.row(i), limit: c.k, withPayload: false)
            if c.quantization != nil { r.quantization = c.searchParams }
            return r
        }
        progress(BenchProgress("single queries", done: 0, total: c.singleQueries))
        guard !requests.isEmpty else { throw .invalid("'\(c.queriesPath)' holds no queries") }
        for r in requests.prefix(10) { _ = try store.search(name, r) }
        var latencies: [Double] = []
        for i in 0..<c.singleQueries {
            let r = requests[i % requests.count]
            let s = ContinuousClock.now
            _ = try store.search(name, r)
            latencies.append((ContinuousClock.now - s).seconds * 1000)
            // Outside the timed call; the display draws at most 10 times a second.
            progress(BenchProgress("single queries", done: i + 1, total: c.singleQueries))
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return latencies[min(latencies.count - 1, Int((p * Double(latencies.count - 1)).rounded()))]
        }
        progress(BenchProgress("batch of \(requests.count) queries", done: 0, total: c.batchRuns))
        var batch: [[ScoredPoint]] = []
        var runsQPS: [Double] = []
        for run in 0..<c.batchRuns {
            let tb = ContinuousClock.now
            let hits = try store.searchBatch(name, requests)
            runsQPS.append(Double(requests.count) / (ContinuousClock.now - tb).seconds)
            if run == 0 { batch = hits }
            progress(BenchProgress("batch of \(requests.count) queries", done: run + 1, total: c.batchRuns))
        }

        let recall = gt.map { recallAtK(batch, groundTruth: $0, k: c.k) }
        let mem = ProcessMemory.current()
        let disk = ProcessMemory.directorySize(dir)
        let held = try store.memory(name)
        var result = Result(
            n: reader.count, d: reader.dimension, nq: queries.count, k: c.k, threads: c.threads, blas: BLASRuntime.name,
            kernel: Kernels.name, ingestSeconds: ingestSeconds, singleP50Ms: percentile(0.5), singleP99Ms: percentile(0.99),
            batchQPS: runsQPS.max() ?? 0, recallAtK: recall, rssMB: mem.residentMB, peakRSSMB: mem.peakMB,
            baseRSSMB: baseRSS,
            diskMB: Double(disk) / 1_000_000)
        result.batchRunsQPS = runsQPS
        result.vectorMB = Double(held.vectorBytes) / 1_000_000
        // Screened only when a screen copy exists: a quantized collection keeps none (its exact searches scan the
        // float rows), nor does a matrix `RowMatrix.screeningExclusion` names.
        result.screening = c.screening && held.screenBytes > 0
        result.screenMB = Double(held.screenBytes) / 1_000_000
        let rows = try store.screenedRows(name, queries: (0..<min(100, queries.count)).map { queries.row($0) }, k: c.k).compactMap { $0 }
        if c.quantization == nil, !rows.isEmpty {
            result.screenRowsMean = Double(rows.reduce(0, +)) / Double(rows.count)
            result.screenRowsMax = rows.max()
        }
        if let q = c.quantization {
            result.quantization = q
            result.searchParams = c.searchParams
            result.int8Kernel = Kernels.int8Name
            result.quantizedMB = Double(held.quantizedBytes) / 1_000_000
        }
        return result
    }
}

extension SearchBenchmark {
    /// Ground truth must cover the queries with at least k neighbours each, every one a base vector.
    static func check(groundTruth gt: IntBlock, _ c: Configuration, queries: Int, base: Int) throws(StoreError) {
        guard gt.count >= queries else { throw .invalid("ground truth has \(gt.count) rows for \(queries) queries") }
        guard gt.dimension >= c.k else { throw .invalid("ground truth has \(gt.dimension) neighbours per query, fewer than k = \(c.k)") }
        // Only the first k ids of each query's row are compared: each must name a base vector.
        for q in 0..<queries {
            if let bad = gt.row(q).prefix(c.k).first(where: { $0 < 0 || Int($0) >= base }) {
                throw .invalid("ground truth '\(c.groundTruthPath ?? "")' row \(q) holds id \(bad), outside the \(base) base vectors (0…\(base - 1))")
            }
        }
    }

    /// Streams the base vectors into the collection, `batch` rows per durable upsert.
    static func ingest(_ reader: TexmexReader, into store: Store, collection name: String, batch: Int, from path: String,
                       progress: (BenchProgress) -> Void) throws(StoreError) {
        let step = "ingesting \(reader.count) × \(reader.dimension) from \(path)"
        progress(BenchProgress(step, done: 0, total: reader.count))
        try store.reserveCapacity(name, additional: reader.count)
        var next: UInt64 = 0
        var values: [Float] = []
        var ids: [PointID] = []
        while case let rows = try reader.read(into: &values, maxRows: batch), rows > 0 {
            ids.removeAll(keepingCapacity: true)
            for i in 0..<rows { ids.append(.number(next + UInt64(i))) }
            try values.withUnsafeBufferPointer { buf throws(StoreError) in
                _ = try store.upsert(name, ids: ids, vectors: buf)
            }
            next += UInt64(rows)
            progress(BenchProgress(step, done: Int(next), total: reader.count))
        }
    }

    /// The share of the true top-k found in each result list.
    static func recallAtK(_ batch: [[ScoredPoint]], groundTruth gt: IntBlock, k: Int) -> Double {
        var hits = 0
        for (i, res) in batch.enumerated() {
            let truth = Set(gt.row(i).prefix(k).map { UInt64($0) })
            for p in res { if case .number(let n) = p.id, truth.contains(n) { hits += 1 } }
        }
        return Double(hits) / Double(k * max(1, batch.count))
    }
}

/// Resident memory of this process, from `/proc/self/status` (0 where unavailable).
public struct ProcessMemory: Sendable {
    public var residentMB: Double
    public var peakMB: Double

    public static func current() -> ProcessMemory {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return ProcessMemory(residentMB: 0, peakMB: 0)
        }
        func field(_ name: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return ProcessMemory(residentMB: field("VmRSS"), peakMB: field("VmHWM"))
    }

    /// Total size of the regular files under `path`.
    public static func directorySize(_ path: String) -> Int {
        guard let e = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        for case let f as String in e {
            let a = try? FileManager.default.attributesOfItem(atPath: (path as NSString).appendingPathComponent(f))
            total += (a?[.size] as? NSNumber)?.intValue ?? 0
        }
        return total
    }
}

import CBLAS
import CKernels
import Locks

/// One search result: a matrix row and its score in the distance's own convention
/// (similarity for cosine/dot, distance for euclid/manhattan).
public struct SearchHit: Sendable, Equatable {
    public var row: Int32
    public var score: Float

    public init(row: Int32, score: Float) {
        self.row = row
        self.score = score
    }
}

/// How a batch of queries is scored.
public enum BatchStrategy: String, Sendable, CaseIterable {
    /// Pick per batch from its size (see ``ExactSearch/gemmCrossover``); a screened matrix
    /// (``MatrixView/isScreened``) is searched through its int8 screen (``ScreenedSearch``).
    case auto
    /// One SIMD scan per query, queries spread over threads.
    case simd
    /// `cblas_sgemm` over (query block × row block) tiles with fused top-k, then exact re-scoring.
    case gemm
    /// The packed AVX-512 micro-kernel over (8 queries × row block) tiles with fused top-k, then exact
    /// re-scoring; falls back to `gemm` where AVX-512 is not in use.
    case packed
}

/// Exact (brute-force) top-k search over a ``MatrixView``.
///
/// Results are deterministic: ranked by score, ties broken by the smaller ``RowKey``. Scores come from the
/// SIMD kernel in use (``Kernels``), on both the single-query and the batch path, so the two paths agree.
/// Cosine is searched as a dot product: callers store and query unit vectors.
public enum ExactSearch {
    /// Rows scored per kernel call (one block of scores lives in cache).
    static let rowBlock = 1024
    /// Below this many rows a single query runs on one thread (dispatch costs more than it saves).
    public static let minRowsPerThread = 8192
    /// Batches with `queries × dimension` below this use the SIMD path, above it `sgemm`
    /// (measured with `switchyard debug crossover`; see docs/performance.md).
    public static let gemmCrossover = 1536
    /// …and at least this many queries: the packed kernel computes 8 query slots whatever the batch, so
    /// below 4 queries one SIMD scan per query is faster at any dimension (docs/performance.md).
    public static let gemmMinQueries = 4
    /// Extra candidates kept per query before the final double-precision ranking, so that float32
    /// rounding (of the SIMD kernel or of BLAS) cannot push a true top-k row out.
    static let gemmSlack = 8

    /// Candidates kept before the final ranking: k + slack, at most `total` (overflow-safe).
    @inline(__always)
    static func candidateCount(k: Int, total: Int) -> Int {
        k >= total - gemmSlack ? total : k + gemmSlack
    }

    // MARK: - Single query

    /// The `k` best rows for one query.
    ///
    /// - Parameters:
    ///   - matrix: the rows to search.
    ///   - query: `matrix.dimension` floats (unit length for cosine).
    ///   - k: results wanted (≥ 1).
    ///   - distance: how rows are scored.
    ///   - rows: when given, only these rows are candidates (a filter's survivors).
    ///   - threads: worker threads; large matrices are split into that many row ranges.
    /// - Returns: up to `k` hits, best first.
    /// - Complexity: O(n·d) arithmetic over the candidate rows, O(n) memory traffic, O(k) extra memory per thread.
    public static func search(
        _ matrix: MatrixView, query: UnsafePointer<Float>, k: Int, distance: Distance,
        rows: UnsafeBufferPointer<Int32>? = nil, threads: Int = 1
    ) -> [SearchHit] {
        let total = rows?.count ?? matrix.count
        guard total > 0, k > 0 else { return [] }
        if rows == nil, let hits = ScreenedSearch.search(matrix, query: query, k: k, distance: distance, threads: threads) {
            return hits
        }
        let k = min(k, total)
        let measure = Measure(distance)
        let kk = candidateCount(k: k, total: total)
        let parts = max(1, min(threads, total / minRowsPerThread))
        let collected: [TopKCollector]
        if parts == 1 {
            collected = [scan(matrix, query: query, k: kk, measure: measure, rows: rows, range: 0..<total)]
        } else {
            // Each part scans its own row range into its own collector.
            let partials = Locked<[(part: Int, collector: TopKCollector)]>([])
            let inputs = ReadOnlyInputs(query: query, rows: rows)
            ParallelLoop.run(iterations: parts) { p in
                let lo = total * p / parts, hi = total * (p + 1) / parts
                let c = scan(matrix, query: inputs.query, k: kk, measure: measure, rows: inputs.rows, range: lo..<hi)
                partials.withLock { $0.append((p, c)) }
            }
            // Merged in part order, whatever order the parts finished in: the same offers every time,
            // so even scores without a total order (NaN from overflowing inputs) give the same result.
            collected = partials.withLock { $0 }.sorted { $0.part < $1.part }.map(\.collector)
        }
        var merged = TopKCollector(k: kk, rowKeys: matrix.keys)
        for c in collected {
            for e in c.sorted() { merged.offer(key: e.key, row: e.row) }
        }
        return rescore(matrix, query: query, candidates: merged, k: k, distance: distance)
    }

    /// Scans candidates `range` (row numbers, or positions in `rows`) in cache-sized blocks.
    static func scan(
        _ m: MatrixView, query: UnsafePointer<Float>, k: Int, measure: Measure,
        rows: UnsafeBufferPointer<Int32>?, range: Range<Int>
    ) -> TopKCollector {
        var collector = TopKCollector(k: k, rowKeys: m.keys)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock)
        defer { buffer.deallocate() }
        var start = range.lowerBound
        while start < range.upperBound {
            let n = min(rowBlock, range.upperBound - start)
            if let rows, let base = rows.baseAddress {
                sy_score_gather(measure.rawValue, m.storage, m.dimension, base + start, n, query, buffer)
                if measure != .dot { negate(buffer, n) }
                collector.offer(block: buffer, count: n, rows: base + start)
            } else {
                sy_score_rows(measure.rawValue, m.storage + start * m.dimension, n, m.dimension, query, buffer)
                if measure != .dot { negate(buffer, n) }
                collector.offer(block: buffer, count: n, firstRow: start)
            }
            start += n
        }
        return collector
    }

    @inline(__always)
    static func negate(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = -p[i] }
    }

    // MARK: - Batch

    /// The `k` best rows for each of `count` queries.
    ///
    /// - Parameters:
    ///   - queries: `count × matrix.dimension` floats, row-major.
    ///   - strategy: `.auto` uses the tiled path when `count ≥ gemmMinQueries` and `count × dimension ≥ gemmCrossover`
    ///     (Manhattan always uses SIMD).
    /// - Returns: one best-first list per query.
    public static func searchBatch(
        _ matrix: MatrixView, queries: UnsafePointer<Float>, count nq: Int, k: Int, distance: Distance,
        threads: Int = 1, strategy: BatchStrategy = .auto
    ) -> [[SearchHit]] {
        guard nq > 0 else { return [] }
        guard matrix.count > 0, k > 0 else { return Array(repeating: [], count: nq) }
        let k = min(k, matrix.count)
        if strategy == .auto,
           let hits = ScreenedSearch.searchBatch(matrix, queries: queries, count: nq, k: k, distance: distance, threads: threads) {
            return hits
        }
        let measure = Measure(distance)
        var useGemm: Bool
        var packed = sy_has_packed_gemm() != 0
        switch strategy {
        case .auto: useGemm = nq >= gemmMinQueries && nq * matrix.dimension >= gemmCrossover
        case .simd: useGemm = false
        case .gemm: useGemm = true; packed = false
        case .packed: useGemm = true
        }
        if measure == .l1 { useGemm = false }
        let d = matrix.dimension
        let workers = max(1, min(threads, nq))
        // One range of queries, answered in order.
        let body: @Sendable (UnsafePointer<Float>, Range<Int>) -> [[SearchHit]]
        if !useGemm {
            body = { q, range in range.map { i in search(matrix, query: q + i * d, k: k, distance: distance, threads: 1) } }
            if nq < threads {
                // Few queries: give each query all threads over row ranges.
                return (0..<nq).map { i in search(matrix, query: queries + i * d, k: k, distance: distance, threads: threads) }
            }
        } else {
            BLASRuntime.configureOnce()
            if packed && threads > 1 && matrix.count >= threads * packedRowsPerThread {
                return packedRowSplit(matrix, queries, nq, k, distance, threads: threads)
            }
            if packed {
                body = { q, range in packedRange(matrix, q, range, k, distance) }
            } else {
                body = { q, range in gemmRange(matrix, q, range, k, distance) }
            }
        }
        if workers == 1 { return body(queries, 0..<nq) }
        // Each worker answers a contiguous range of queries into its own array; they are put back in
        // query order once all have finished.
        let parts = Locked<[(Int, [[SearchHit]])]>([])
        let inputs = ReadOnlyInputs(query: queries, rows: nil)
        ParallelLoop.run(iterations: workers) { w in
            let lo = nq * w / workers, hi = nq * (w + 1) / workers
            let hits = body(inputs.query, lo..<hi)
            parts.withLock { $0.append((lo, hits)) }
        }
        return parts.withLock { $0 }.sorted { $0.0 < $1.0 }.flatMap { $0.1 }
    }

    /// Query block rows and row block columns of one `sgemm` tile.
    static let gemmQueryBlock = 64
    static let gemmRowBlock = 2048

    static func gemmRange(
        _ m: MatrixView, _ queries: UnsafePointer<Float>, _ range: Range<Int>, _ k: Int, _ distance: Distance
    ) -> [[SearchHit]] {
        let d = m.dimension
        let measure = Measure(distance)
        let kk = candidateCount(k: k, total: m.count)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: gemmQueryBlock * gemmRowBlock)
        defer { tile.deallocate() }
        var out: [[SearchHit]] = []
        out.reserveCapacity(range.count)
        var qStart = range.lowerBound
        while qStart < range.upperBound {
            let qb = min(gemmQueryBlock, range.upperBound - qStart)
            var collectors = (0..<qb).map { _ in TopKCollector(k: kk, rowKeys: m.keys) }
            var rStart = 0
            while rStart < m.count {
                let nb = min(gemmRowBlock, m.count - rStart)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qb), Int32(nb), Int32(d),
                    1, queries + qStart * d, Int32(d), m.storage + rStart * d, Int32(d), 0, tile, Int32(nb))
                if measure == .l2Squared {
                    // ‖x − q‖² = ‖x‖² − 2x·q + ‖q‖²; the key drops the per-query constant ‖q‖².
                    let norms = m.squaredNorms + rStart
                    for qi in 0..<qb {
                        let row = tile + qi * nb
                        for j in 0..<nb { row[j] = 2 * row[j] - norms[j] }
                    }
                }
                for qi in 0..<qb {
                    collectors[qi].offer(block: tile + qi * nb, count: nb, firstRow: rStart)
                }
                rStart += nb
            }
            for qi in 0..<qb {
                out.append(rescore(m, query: queries + (qStart + qi) * d, candidates: collectors[qi], k: k, distance: distance))
            }
            qStart += qb
        }
        return out
    }

    /// Final ranking: the candidates' measures recomputed in double precision, ranked by them (ties to
    /// the smaller key) and cut to `k`. Float32 kernels choose the candidates (k + slack of them);
    /// double precision settles near-ties below float32 resolution the same way on every path and
    /// every kernel level, and identical rows still tie exactly.
    static func rescore(_ m: MatrixView, query: UnsafePointer<Float>, candidates: TopKCollector, k: Int, distance: Distance) -> [SearchHit] {
        rescore(m, query: query, rows: candidates.sorted().map(\.row), k: k, distance: distance)
    }

    /// The best `k` of `rows` (distinct) by their measures in double precision, ties to the smaller key.
    static func rescore(_ m: MatrixView, query: UnsafePointer<Float>, rows: [Int32], k: Int, distance: Distance) -> [SearchHit] {
        let measure = Measure(distance)
        let raws = [Double](unsafeUninitializedCapacity: rows.count) { buffer, count in
            rows.withUnsafeBufferPointer { r in
                sy_score_gather_f64(measure.rawValue, m.storage, m.dimension, r.baseAddress, rows.count, query, buffer.baseAddress)
            }
            count = rows.count
        }
        var scored: [(key: Double, raw: Double, row: Int32)] = []
        scored.reserveCapacity(rows.count)
        for (row, raw) in zip(rows, raws) { scored.append((measure == .dot ? raw : -raw, raw, row)) }
        let keys = m.keys
        scored.sort { a, b in a.key != b.key ? a.key > b.key : keys[Int(a.row)] < keys[Int(b.row)] }
        return scored.prefix(k).map { e in
            let score: Double = distance == .euclid ? e.raw.squareRoot() : e.raw
            return SearchHit(row: e.row, score: Float(score))
        }
    }

    /// Rows per packed block (a block of panels stays in L2 while the queries pass over it).
    static let packedRowBlock = 512

    /// Packed batches split their rows, not their queries, over threads once each thread gets this many
    /// rows: every row block is then packed once, not once per thread.
    static let packedRowsPerThread = 8 * packedRowBlock

    static func packedRange(
        _ m: MatrixView, _ queries: UnsafePointer<Float>, _ range: Range<Int>, _ k: Int, _ distance: Distance
    ) -> [[SearchHit]] {
        let kk = candidateCount(k: k, total: m.count)
        let collectors = packedCandidates(m, queries + range.lowerBound * m.dimension, range.count, rows: 0..<m.count,
                                          kk: kk, measure: Measure(distance))
        return collectors.indices.map { i in
            rescore(m, query: queries + (range.lowerBound + i) * m.dimension, candidates: collectors[i], k: k, distance: distance)
        }
    }

    /// The packed path with `threads` row ranges: each thread packs and scans its own rows for every
    /// query, then the per-range candidates are merged and re-scored, queries spread over the threads.
    static func packedRowSplit(
        _ m: MatrixView, _ queries: UnsafePointer<Float>, _ nq: Int, _ k: Int, _ distance: Distance, threads: Int
    ) -> [[SearchHit]] {
        let kk = candidateCount(k: k, total: m.count)
        let measure = Measure(distance)
        let inputs = ReadOnlyInputs(query: queries, rows: nil)
        let parts = Locked<[(part: Int, candidates: [TopKCollector])]>([])
        ParallelLoop.run(iterations: threads) { p in
            let rows = (m.count * p / threads)..<(m.count * (p + 1) / threads)
            let c = packedCandidates(m, inputs.query, nq, rows: rows, kk: kk, measure: measure)
            parts.withLock { $0.append((p, c)) }
        }
        // Merged in row-range order, whatever order the ranges finished in.
        let ranges = ReadOnlyCandidates(ranges: parts.withLock { $0 }.sorted { $0.part < $1.part }.map(\.candidates))
        let results = Locked<[(Int, [[SearchHit]])]>([])
        ParallelLoop.run(iterations: threads) { p in
            let lo = nq * p / threads, hi = nq * (p + 1) / threads
            let hits = (lo..<hi).map { i in
                var merged = TopKCollector(k: kk, rowKeys: m.keys)
                for r in ranges.ranges { for e in r[i].sorted() { merged.offer(key: e.key, row: e.row) } }
                return rescore(m, query: inputs.query + i * m.dimension, candidates: merged, k: k, distance: distance)
            }
            results.withLock { $0.append((lo, hits)) }
        }
        return results.withLock { $0 }.sorted { $0.0 < $1.0 }.flatMap { $0.1 }
    }

    /// The best `kk` candidates of each of `nq` queries among `rows`, by the packed AVX-512 kernel: rows are
    /// packed block by block (the block stays in L2) and every group of 8 queries passes over the block.
    static func packedCandidates(
        _ m: MatrixView, _ queries: UnsafePointer<Float>, _ nq: Int, rows: Range<Int>, kk: Int, measure: Measure
    ) -> [TopKCollector] {
        let d = m.dimension
        guard nq > 0 else { return [] }
        let panelFloats = sy_panel_floats(packedRowBlock, d)
        let panels = UnsafeMutableRawPointer.allocate(byteCount: panelFloats * 4, alignment: 64).bindMemory(to: Float.self, capacity: panelFloats)
        defer { panels.deallocate() }
        // Rows that reached their query's threshold in one call: at most every row for every query.
        let found = UnsafeMutablePointer<sy_candidate_t>.allocate(capacity: 8 * packedRowBlock)
        defer { found.deallocate() }
        let thresholds = UnsafeMutablePointer<Float>.allocate(capacity: 8)
        defer { thresholds.deallocate() }
        // Queries in groups of 8; the last group padded with zero rows.
        let groups = (nq + 7) / 8
        let qbuf = UnsafeMutablePointer<Float>.allocate(capacity: groups * 8 * d)
        qbuf.initialize(repeating: 0, count: groups * 8 * d)
        defer {
            qbuf.deinitialize(count: groups * 8 * d)
            qbuf.deallocate()
        }
        qbuf.update(from: queries, count: nq * d)
        var collectors = (0..<nq).map { _ in TopKCollector(k: kk, rowKeys: m.keys) }
        var rStart = rows.lowerBound
        while rStart < rows.upperBound {
            let nb = min(packedRowBlock, rows.upperBound - rStart)
            sy_pack_panels(m.storage + rStart * d, nb, d, panels)
            let norms = measure == .l2Squared ? m.squaredNorms + rStart : nil
            for g in 0..<groups {
                let live = min(8, nq - g * 8)
                for qi in 0..<8 { thresholds[qi] = qi < live ? collectors[g * 8 + qi].threshold : .infinity }
                let n = sy_packed_scan_8(qbuf + g * 8 * d, d, panels, nb, norms, thresholds, found)
                for c in UnsafeBufferPointer(start: found, count: n) {
                    collectors[g * 8 + Int(c.query)].offer(key: c.score, row: Int32(rStart) + c.row)
                }
            }
            rStart += nb
        }
        return collectors
    }
}

/// The caller's query and candidate rows, handed to ``ParallelLoop``'s helper threads.
///
/// @unchecked Sendable: the pointers are only read, the caller keeps the buffers alive for its whole
/// (synchronous) call, and `ParallelLoop.run` returns only after every iteration has finished. Results
/// never travel through raw memory: each worker returns its own arrays through a lock.
private struct ReadOnlyInputs: @unchecked Sendable {
    let query: UnsafePointer<Float>
    let rows: UnsafeBufferPointer<Int32>?
}

/// Each row range's candidates, read by the threads that merge them.
///
/// @unchecked Sendable: the collectors are only read once built (each thread merges its own queries), and
/// the row keys they point to belong to the caller's matrix view, alive for the whole synchronous call.
private struct ReadOnlyCandidates: @unchecked Sendable {
    let ranges: [[TopKCollector]]
}

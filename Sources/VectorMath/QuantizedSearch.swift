import CKernels
import Locks

/// How one search uses a collection's int8 copy: Qdrant's `params.quantization`.
public struct QuantizationParams: Sendable, Hashable {
    /// Search the float vectors only, as if there were no int8 copy.
    public var ignore: Bool
    /// Re-score the int8 scan's candidates with the float vectors (exact scores, exact order among them).
    public var rescore: Bool
    /// Candidates taken from the int8 scan: `oversampling × limit` (at least `limit`).
    public var oversampling: Double

    public init(ignore: Bool = false, rescore: Bool = true, oversampling: Double = 1) {
        self.ignore = ignore
        self.rescore = rescore
        self.oversampling = oversampling
    }
}

/// Top-k search over the int8 copy of a ``MatrixView`` (``QuantizedRows``): the scan ranks every row by
/// its int8 key, keeps `oversampling × k` candidates, then ranks those by their exact float measure
/// (`rescore`, the default) or by the int8 approximation.
///
/// Results follow ``ExactSearch``'s conventions (scores in the distance's own convention, ties to the
/// smaller ``RowKey``). Manhattan is never quantized: callers search it with ``ExactSearch``.
public enum QuantizedSearch {
    /// Rows per scan block: 2,048 rows of 384 codes (768 KiB) stay in L2 while a batch's queries pass.
    static let rowBlock = 2048

    /// Candidates kept from the int8 scan.
    static func candidateCount(k: Int, oversampling: Double, total: Int) -> Int {
        let wanted = (Double(k) * Swift.max(1, oversampling)).rounded(.up)
        return wanted >= Double(total) ? total : Swift.max(k, Int(wanted))
    }

    /// The `k` best rows for one query (the matrix must be quantized: ``MatrixView/isQuantized``).
    public static func search(_ m: MatrixView, query: UnsafePointer<Float>, k: Int, distance: Distance,
                              params: QuantizationParams = QuantizationParams(), threads: Int = 1) -> [SearchHit] {
        guard let qv = m.quantized, m.count > 0, k > 0 else { return [] }
        let k = min(k, m.count)
        let encoded = qv.rows.encodeQuery(query, fineness: QuantizedRows.approximateFineness(path: sy_q8_path()))
        let kk = candidateCount(k: k, oversampling: params.oversampling, total: m.count)
        // Row ranges start on panel boundaries.
        let parts = max(1, min(threads, m.count / ExactSearch.minRowsPerThread))
        let bounds = (0...parts).map { p in p == parts ? m.count : (m.count * p / parts) / 16 * 16 }
        var merged = TopKCollector(k: kk, rowKeys: m.keys)
        if parts == 1 {
            merged = scan(m, qv, encoded, kk: kk, rows: 0..<m.count)
        } else {
            let partials = Locked<[(part: Int, collector: TopKCollector)]>([])
            ParallelLoop.run(iterations: parts) { p in
                let c = scan(m, qv, encoded, kk: kk, rows: bounds[p]..<bounds[p + 1])
                partials.withLock { $0.append((p, c)) }
            }
            for c in partials.withLock({ $0 }).sorted(by: { $0.part < $1.part }).map(\.collector) {
                for e in c.sorted() { merged.offer(key: e.key, row: e.row) }
            }
        }
        return finish(m, qv, query: query, encoded: encoded, candidates: merged, k: k, distance: distance, rescore: params.rescore)
    }

    /// Rows `rows` (starting on a panel boundary) scored block by block into one collector.
    static func scan(_ m: MatrixView, _ qv: QuantizedView, _ query: QuantizedRows.EncodedQuery, kk: Int, rows: Range<Int>) -> TopKCollector {
        var collector = TopKCollector(k: kk, rowKeys: m.keys)
        scan(qv, query, rows: rows, into: &collector)
        return collector
    }

    /// Rows `rows` (starting on a panel boundary) scored block by block; keys reaching the sink's threshold are
    /// offered to it.
    static func scan<Sink: CandidateSink>(_ qv: QuantizedView, _ query: QuantizedRows.EncodedQuery, rows: Range<Int>, into sink: inout Sink) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock)
        defer { buffer.deallocate() }
        var start = rows.lowerBound
        while start < rows.upperBound {
            let n = min(rowBlock, rows.upperBound - start)
            keys(qv, query, rows: start..<(start + n), into: buffer)
            for i in 0..<n where buffer[i] >= sink.threshold { sink.offer(key: buffer[i], row: Int32(start + i)) }
            start += n
        }
    }

    /// The int8 keys of rows `rows` (starting on a panel boundary) for one query, into `out`.
    static func keys(_ qv: QuantizedView, _ query: QuantizedRows.EncodedQuery, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let path = sy_q8_path()
        let panels = qv.panels + (rows.lowerBound / 16) * 64 * qv.groups
        let a = qv.rows.keyScale(query)
        if query.fineness <= 1 {
            query.codes.withUnsafeBufferPointer { u in
                sy_q8_scores(path, panels, qv.groups, rows.count, u.baseAddress!, a, qv.bias + rows.lowerBound, out)
            }
        } else {
            query.wide.withUnsafeBufferPointer { u in
                sy_q16_scores(path, panels, qv.groups, rows.count, u.baseAddress!, a, qv.bias + rows.lowerBound, out)
            }
        }
    }

    /// The final `k`: the candidates re-scored exactly, or ranked by their int8 keys with approximate scores.
    static func finish(_ m: MatrixView, _ qv: QuantizedView, query: UnsafePointer<Float>, encoded: QuantizedRows.EncodedQuery,
                       candidates: TopKCollector, k: Int, distance: Distance, rescore: Bool) -> [SearchHit] {
        if rescore { return ExactSearch.rescore(m, query: query, candidates: candidates, k: k, distance: distance) }
        let norm = Double(sy_score_one_f64(Measure.dot.rawValue, query, query, m.dimension))
        return candidates.sorted().prefix(k).map { e in
            let measure = qv.rows.approximateMeasure(key: e.key, query: encoded, squaredQueryNorm: norm)
            return SearchHit(row: e.row, score: Float(distance == .euclid ? measure.squareRoot() : measure))
        }
    }

    /// The `k` best rows for each of `count` queries; queries are spread over `threads`.
    public static func searchBatch(_ m: MatrixView, queries: UnsafePointer<Float>, count nq: Int, k: Int, distance: Distance,
                                   params: QuantizationParams = QuantizationParams(), threads: Int = 1) -> [[SearchHit]] {
        guard nq > 0 else { return [] }
        guard m.quantized != nil, m.count > 0, k > 0 else { return Array(repeating: [], count: nq) }
        // Fewer queries than a kernel group (or than threads): one scan per query, its rows over the threads.
        if nq < 8 || nq < threads {
            return (0..<nq).map { i in search(m, query: queries + i * m.dimension, k: k, distance: distance, params: params, threads: threads) }
        }
        let workers = max(1, min(threads, nq))
        if workers == 1 { return batchRange(m, queries, 0..<nq, k: k, distance: distance, params: params) }
        let parts = Locked<[(Int, [[SearchHit]])]>([])
        let inputs = QueryPointer(base: queries)
        ParallelLoop.run(iterations: workers) { w in
            let lo = nq * w / workers, hi = nq * (w + 1) / workers
            let hits = batchRange(m, inputs.base, lo..<hi, k: k, distance: distance, params: params)
            parts.withLock { $0.append((lo, hits)) }
        }
        return parts.withLock { $0 }.sorted { $0.0 < $1.0 }.flatMap { $0.1 }
    }

    /// Queries `range`, 8 at a time through the fused kernel, block of rows by block of rows.
    static func batchRange(_ m: MatrixView, _ queries: UnsafePointer<Float>, _ range: Range<Int>, k: Int, distance: Distance,
                           params: QuantizationParams) -> [[SearchHit]] {
        guard let qv = m.quantized, !range.isEmpty else { return [] }
        let k = min(k, m.count)
        let d = m.dimension
        let nq = range.count
        let kk = candidateCount(k: k, oversampling: params.oversampling, total: m.count)
        let fineness = QuantizedRows.approximateFineness(path: sy_q8_path())
        let encoded = range.map { i in qv.rows.encodeQuery(queries + i * d, fineness: fineness) }
        var collectors = (0..<nq).map { _ in TopKCollector(k: kk, rowKeys: m.keys) }
        scanBatch(qv, encoded, rows: m.count, into: &collectors)
        return (0..<nq).map { i in
            finish(m, qv, query: queries + (range.lowerBound + i) * d, encoded: encoded[i], candidates: collectors[i], k: k,
                   distance: distance, rescore: params.rescore)
        }
    }
}

extension QuantizedSearch {
    /// Every row scored for each of `encoded`'s queries, 8 queries at a time through the fused kernel, block of
    /// rows by block of rows; keys reaching a query's threshold are offered to its sink (`sinks[i]` for query i).
    static func scanBatch<Sink: CandidateSink>(_ qv: QuantizedView, _ encoded: [QuantizedRows.EncodedQuery], rows: Int,
                                               into sinks: inout [Sink]) {
        let nq = encoded.count
        guard let fineness = encoded.first?.fineness else { return }
        precondition(encoded.allSatisfy { $0.fineness == fineness }, "a batch's queries share one fineness")
        let groups = (nq + 7) / 8
        let codes = 4 * qv.groups
        // Per group of 8 queries, byte codes: word g * 8 + i holds query i's codes 4g ..< 4g + 4; 16-bit codes:
        // query i's codes in turn. Padding queries get zero codes (t = 0, u = 128·M).
        var words: [Int32] = []
        var wide: [UInt16] = []
        if fineness <= 1 {
            let zero = UInt32(128 * fineness) * 0x0101_0101
            words = [Int32](repeating: Int32(bitPattern: zero), count: groups * 8 * qv.groups)
            for (i, e) in encoded.enumerated() {
                e.codes.withUnsafeBytes { raw in
                    for g in 0..<qv.groups {
                        words[(i / 8) * 8 * qv.groups + g * 8 + i % 8] = raw.loadUnaligned(fromByteOffset: g * 4, as: Int32.self)
                    }
                }
            }
        } else {
            wide = [UInt16](repeating: UInt16(128 * fineness), count: groups * 8 * codes)
            for (i, e) in encoded.enumerated() { wide.replaceSubrange(i * codes..<(i + 1) * codes, with: e.wide) }
        }
        let a = qv.rows.keyScale(encoded[0])
        let found = UnsafeMutablePointer<sy_candidate_t>.allocate(capacity: 8 * rowBlock)
        defer { found.deallocate() }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock)
        defer { scratch.deallocate() }
        let path = sy_q8_path()
        var thresholds = [Float](repeating: 0, count: 8)
        // One buffer for the whole scan: offers through it skip the array's per-access uniqueness check.
        sinks.withUnsafeMutableBufferPointer { sinks in
            words.withUnsafeBufferPointer { w in
                wide.withUnsafeBufferPointer { u in
                    var start = 0
                    while start < rows {
                        let nb = min(rowBlock, rows - start)
                        let panels = qv.panels + (start / 16) * 64 * qv.groups
                        for g in 0..<groups {
                            let live = min(8, nq - g * 8)
                            for qi in 0..<8 { thresholds[qi] = qi < live ? sinks[g * 8 + qi].threshold : .infinity }
                            let n = fineness <= 1
                                ? sy_q8_scan_8(path, panels, qv.groups, nb, w.baseAddress! + g * 8 * qv.groups, a,
                                               qv.bias + start, thresholds, found, scratch)
                                : sy_q16_scan_8(path, panels, qv.groups, nb, u.baseAddress! + g * 8 * codes, a,
                                                qv.bias + start, thresholds, found, scratch)
                            // A padding query's threshold is +∞, and a key of +∞ (data whose int8 terms overflow) reaches it.
                            for c in UnsafeBufferPointer(start: found, count: n) where Int(c.query) < live {
                                sinks[g * 8 + Int(c.query)].offer(key: c.score, row: Int32(start) + c.row)
                            }
                        }
                        start += nb
                    }
                }
            }
        }
    }
}

/// Where a scan offers the rows whose key reaches ``threshold`` (a top-k collector, or the screened search's).
protocol CandidateSink {
    /// Keys below this are not offered.
    var threshold: Float { get }
    mutating func offer(key: Float, row: Int32)
}

extension TopKCollector: CandidateSink {}

/// The caller's queries, read by ``ParallelLoop``'s helpers during the (synchronous) batch call.
struct QueryPointer: @unchecked Sendable {
    // @unchecked: only read; the caller keeps the buffer alive until `searchBatch` returns.
    let base: UnsafePointer<Float>
}

import CKernels
import Foundation
import Locks

/// Exact top-k search that scores every row in int8 first, with a proven bound on each int8 score's error,
/// and recomputes in double precision only the rows the bounds cannot rule out.
///
/// The matrix keeps an int8 copy of its rows (``RowMatrix/enableScreening(distance:minRows:)``: the sampled
/// range without quantile clipping, values outside it clamped), with each row's quantization error
/// `e_x = ‖x − x̂‖`. For a query `q` with its own error `e_q = ‖q − q̂‖`,
///
///     q·x − q̂·x̂ = q·(x − x̂) + (q − q̂)·x̂,   so   |q·x − q̂·x̂| ≤ ‖q‖·e_x + e_q·(‖x‖ + e_x)   (Cauchy–Schwarz)
///
/// and the int8 key (``QuantizedRows``) is `q̂·x̂` less a per-query constant, up to float rounding, which a
/// slack covers. Doubled for Euclid, whose key is `2 q·x − ‖x‖²`. With `B(x)` that bound:
///
/// 1. The scan keeps the `k` best keys and every row whose key is within `2 · max B` of the `k`-th best so far.
/// 2. `τ` = the `k`-th largest `key − B(x)` among them. At least `k` rows score at least `τ`, so every row of the
///    true top `k` scores at least `τ`, and its key at least `τ − B(x)`: it was kept in step 1.
/// 3. The rows with `key + B(x) ≥ τ` are scored in double precision and ranked (ties to the smaller
///    ``RowKey``), as ``ExactSearch`` ranks its candidates.
///
/// The result is therefore the exact top `k` whatever the data: the bounds decide only how many rows are
/// recomputed (a few dozen per query on typical embeddings). Manhattan, filtered searches, matrices with a
/// non-finite row or norm, and queries whose bounds overflow fall back to the float scan.
public enum ScreenedSearch {
    /// One query's bounds, in units of the int8 key.
    struct Bounds {
        /// ‖q‖ and ‖q − q̂‖, rounded up.
        let queryNorm: Double
        let queryResidual: Double
        /// 1 (dot) or 2 (Euclid: the key is `2 q·x − ‖x‖²`).
        let factor: Double
        /// Float rounding in the key and in the stored norms.
        let slack: Double
        /// The bound of every row (from the copy's largest residual and norm).
        let largest: Double
        /// How a float32 squared norm is turned into a norm that is never too small (``norm(_:)``).
        let norms: NormCover

        /// The bound of a row with residual `e` and squared norm `squaredNorm`.
        @inline(__always)
        func of(residual e: Float, squaredNorm: Float) -> Double {
            factor * (queryNorm * Double(e) + queryResidual * (norms.norm(squaredNorm) + Double(e))) + slack
        }
    }

    /// A float32 sum of `d` squares is within `(d + 2)·2⁻²⁴` of the exact sum, relatively, in any summation order,
    /// plus `2⁻¹⁵⁰` per operation where the squares or partial sums underflow (tiny components: a row whose
    /// components are all below about 1e-23 has a float32 squared norm of 0).
    struct NormCover {
        /// `1 + max(1e-4, (d + 2)·2⁻²⁴)`: covers the relative error of the sum (twice over, since the square root
        /// halves it).
        let factor: Double
        /// `(d + 1)·2⁻¹⁴⁹`: covers the underflow of every square and partial sum.
        let floor: Double

        init(dimension d: Int) {
            factor = 1 + Swift.max(1e-4, Double(d + 2) * 0x1p-24)
            floor = Double(d + 1) * 0x1p-149
        }

        /// A norm at least the exact norm of a row whose float32 squared norm is `squaredNorm`.
        @inline(__always)
        func norm(_ squaredNorm: Float) -> Double { norm(squared: Double(squaredNorm)) }

        @inline(__always)
        func norm(squared: Double) -> Double { (squared + floor).squareRoot() * factor }

        /// An upper bound of the exact squared norm's distance from `squaredNorm`, for squared norms up to `largest`.
        func squaredError(largest: Double) -> Double { largest * (factor - 1) * 2 + floor }
    }

    /// A query's codes for the screen: as fine as the kernel path in use allows (``QuantizedRows/fineness(path:)``),
    /// so that its own error `e_q` all but vanishes from the bounds (on AVX2, 128 times finer codes at the same cost).
    static func encode(_ sv: QuantizedView, _ query: UnsafePointer<Float>) -> QuantizedRows.EncodedQuery {
        sv.rows.encodeQuery(query, fineness: Double(sv.rows.fineness(path: sy_q8_path())))
    }

    /// The bounds of one query, or nil when they are not finite (the caller scans in float).
    static func bounds(_ sv: QuantizedView, query: UnsafePointer<Float>, encoded: QuantizedRows.EncodedQuery, dimension d: Int) -> Bounds? {
        let rows = sv.rows
        var squared = 0.0
        for i in 0..<d { squared += Double(query[i]) * Double(query[i]) }
        let queryNorm = squared.squareRoot() * (1 + 1e-12)
        let factor: Double = rows.measure == .l2Squared ? 2 : 1
        let step = Double(rows.step), center = Double(rows.center)
        let norms = NormCover(dimension: d)
        // rows.maxNorm is the largest float32 ‖x‖ (rounded up): the same cover as each row's.
        let maxNorm = norms.norm(squared: Double(rows.maxNorm) * Double(rows.maxNorm))
        // The key's terms, bounded: a·Σu·s ≤ step²·255·127 per component (a = step²/M, u ≤ 255·M for query codes
        // M times finer), the bias's code sum ≤ 127 per component, the constant d·center² + center·(step/M)·Σt
        // (|t| ≤ 127·M); each is rounded a few times in float32 (2⁻²⁴ each): 2⁻¹⁸ covers them with room to spare.
        let fineness = encoded.fineness
        let components = Double(4 * sv.groups)
        let terms = step * step * 255 * 127 * components + (abs(center) * step + 128 * step * step) * 127 * components
            + components * center * center + abs(center) * step * 127 * components + queryNorm * maxNorm
        var slack = factor * terms * 0x1p-18
        // Where those float32 terms underflow (data whose range is below about 1e-19, or about 3e-16 for the
        // multiplier step²/M with M = 128), each is off by up to 2⁻¹⁵⁰
        // absolutely, not relatively, and is then multiplied by at most 255·M·127·components (a·Σu·s) or summed
        // over the components: a few such terms, covered eight times over.
        slack += factor * (8 * 255 * 127 * fineness + 64) * components * 0x1p-149
        // Euclid's bias also holds the float32 ‖x‖².
        if rows.measure == .l2Squared { slack += norms.squaredError(largest: maxNorm * maxNorm) }
        let largest = factor * (queryNorm * Double(rows.maxResidual) + encoded.residual * (maxNorm + Double(rows.maxResidual))) + slack
        guard queryNorm.isFinite, encoded.residual.isFinite, slack.isFinite, largest.isFinite, largest < 1e30 else { return nil }
        return Bounds(queryNorm: queryNorm, queryResidual: encoded.residual, factor: factor, slack: slack, largest: largest,
                      norms: norms)
    }

    /// The screen of `m` when it can answer a top-`k` search by `distance`.
    static func usableScreen(_ m: MatrixView, k: Int, distance: Distance) -> QuantizedView? {
        // When most rows are wanted anyway, the float scan is as quick.
        guard k > 0, k <= m.count / 4 else { return nil }
        return boundedScreen(m, distance: distance)
    }

    /// The screen of `m` when every row's error is bounded and it was built for `distance`'s measure.
    static func boundedScreen(_ m: MatrixView, distance: Distance) -> QuantizedView? {
        guard let sv = m.screen, sv.count == m.count, m.count > 0, sv.rows.isBounded,
              sv.rows.measure == Measure(distance), Measure(distance) != .l1 else { return nil }
        return sv
    }

    // MARK: - Searching

    /// The exact `k` best rows for one query, or nil when the matrix is not screened or the screen cannot bound
    /// this query (the caller scans in float).
    public static func search(_ m: MatrixView, query: UnsafePointer<Float>, k: Int, distance: Distance, threads: Int = 1) -> [SearchHit]? {
        guard let sv = usableScreen(m, k: k, distance: distance) else { return nil }
        let encoded = encode(sv, query)
        guard let b = bounds(sv, query: query, encoded: encoded, dimension: m.dimension) else { return nil }
        let margin = Float(2 * b.largest).nextUp
        // Row ranges start on panel boundaries.
        let parts = max(1, min(threads, m.count / ExactSearch.minRowsPerThread))
        let edges = (0...parts).map { p in p == parts ? m.count : (m.count * p / parts) / 16 * 16 }
        var found: [(key: Float, row: Int32)]
        if parts == 1 {
            var sink = ScreenCollector(k: k, margin: margin, rowKeys: m.keys)
            QuantizedSearch.scan(sv, encoded, rows: 0..<m.count, into: &sink)
            found = sink.found
        } else {
            let partials = Locked<[(part: Int, found: [(key: Float, row: Int32)])]>([])
            ParallelLoop.run(iterations: parts) { p in
                var sink = ScreenCollector(k: k, margin: margin, rowKeys: m.keys)
                QuantizedSearch.scan(sv, encoded, rows: edges[p]..<edges[p + 1], into: &sink)
                partials.withLock { $0.append((p, sink.found)) }
            }
            // A row the whole matrix needs is within the margin of the k-th best key of the whole matrix, so within
            // the margin of its own range's k-th best key: the ranges kept it.
            found = partials.withLock { $0 }.sorted { $0.part < $1.part }.flatMap(\.found)
        }
        return finish(m, sv, query: query, found: found, bounds: b, k: k, distance: distance)
    }

    /// The exact `k` best rows for each of `count` queries, or nil when the matrix is not screened or the screen
    /// cannot bound one of them (the caller scans in float). Queries are spread over `threads`.
    public static func searchBatch(_ m: MatrixView, queries: UnsafePointer<Float>, count nq: Int, k: Int, distance: Distance,
                                   threads: Int = 1) -> [[SearchHit]]? {
        guard nq > 0, let sv = usableScreen(m, k: k, distance: distance) else { return nil }
        let d = m.dimension
        // Fewer queries than a kernel group (or than threads): one scan per query, its rows over the threads.
        if nq < 8 || nq < threads {
            var out: [[SearchHit]] = []
            for i in 0..<nq {
                guard let hits = search(m, query: queries + i * d, k: k, distance: distance, threads: threads) else { return nil }
                out.append(hits)
            }
            return out
        }
        let encoded = (0..<nq).map { i in encode(sv, queries + i * d) }
        var found: [Bounds] = []
        for i in 0..<nq {
            guard let b = Self.bounds(sv, query: queries + i * d, encoded: encoded[i], dimension: d) else { return nil }
            found.append(b)
        }
        let bounds = found
        let workers = max(1, min(threads, nq))
        let inputs = QueryPointer(base: queries)
        if workers == 1 { return batchRange(m, sv, queries, encoded, bounds, 0..<nq, k: k, distance: distance) }
        let parts = Locked<[(Int, [[SearchHit]])]>([])
        ParallelLoop.run(iterations: workers) { w in
            let lo = nq * w / workers, hi = nq * (w + 1) / workers
            let hits = batchRange(m, sv, inputs.base, encoded, bounds, lo..<hi, k: k, distance: distance)
            parts.withLock { $0.append((lo, hits)) }
        }
        return parts.withLock { $0 }.sorted { $0.0 < $1.0 }.flatMap { $0.1 }
    }

    /// Queries `range` through the fused int8 kernel, then each query's candidates re-scored.
    static func batchRange(_ m: MatrixView, _ sv: QuantizedView, _ queries: UnsafePointer<Float>, _ encoded: [QuantizedRows.EncodedQuery],
                           _ bounds: [Bounds], _ range: Range<Int>, k: Int, distance: Distance) -> [[SearchHit]] {
        var sinks = range.map { i in ScreenCollector(k: k, margin: Float(2 * bounds[i].largest).nextUp, rowKeys: m.keys) }
        QuantizedSearch.scanBatch(sv, Array(encoded[range]), rows: m.count, into: &sinks)
        return sinks.indices.map { j in
            let i = range.lowerBound + j
            return finish(m, sv, query: queries + i * m.dimension, found: sinks[j].found, bounds: bounds[i], k: k, distance: distance)
        }
    }

    /// Steps 2 and 3: the rows the bounds cannot rule out, ranked by their exact measure.
    static func finish(_ m: MatrixView, _ sv: QuantizedView, query: UnsafePointer<Float>, found: [(key: Float, row: Int32)],
                       bounds b: Bounds, k: Int, distance: Distance) -> [SearchHit] {
        var rows = candidates(m, sv, found: found, bounds: b, k: k)
        if rows.count > k + 16 { rows = narrowed(m, query: query, rows: rows, bounds: b, k: k, distance: distance) }
        return ExactSearch.rescore(m, query: query, rows: rows, k: k, distance: distance)
    }

    /// The same rule once more with float32 SIMD scores, whose rounding error is bounded too: a float32 sum of `d`
    /// products is within `(d + 2)·2⁻²³ · Σ|terms|` of the exact one (`Σ|q_i x_i| ≤ ‖q‖‖x‖` for dot; the terms of
    /// a squared distance are its own value). Only the rows left are scored in double precision.
    static func narrowed(_ m: MatrixView, query: UnsafePointer<Float>, rows: [Int32], bounds b: Bounds, k: Int,
                         distance: Distance) -> [Int32] {
        let measure = Measure(distance)
        let d = m.dimension
        var scores = [Float](repeating: 0, count: rows.count)
        rows.withUnsafeBufferPointer { r in
            scores.withUnsafeMutableBufferPointer { sy_score_gather(measure.rawValue, m.storage, d, r.baseAddress!, rows.count, query, $0.baseAddress!) }
        }
        let u = Double(d + 2) * 0x1p-23
        // Ranking keys (larger is better) and their error bounds.
        var keys = [Double](repeating: 0, count: rows.count)
        var radius = [Double](repeating: 0, count: rows.count)
        for i in rows.indices {
            let s = Double(scores[i])
            if measure == .dot {
                keys[i] = s
                radius[i] = u * b.queryNorm * b.norms.norm(m.squaredNorms[Int(rows[i])]) + Double(d) * 0x1p-148
            } else {
                keys[i] = -s
                radius[i] = u * abs(s) * 1.01 + Double(d) * 0x1p-148
            }
            guard s.isFinite, radius[i].isFinite else { return rows }
        }
        var lower = rows.indices.map { keys[$0] - radius[$0] }
        let tau = kthLargest(&lower, k)
        return rows.indices.compactMap { i in keys[i] + radius[i] >= tau ? rows[i] : nil }
    }

    /// The rows whose upper bound reaches the `k`-th largest lower bound.
    static func candidates(_ m: MatrixView, _ sv: QuantizedView, found: [(key: Float, row: Int32)], bounds b: Bounds, k: Int) -> [Int32] {
        guard found.count > k else { return found.map(\.row) }
        let radius = found.map { e in b.of(residual: sv.residuals[Int(e.row)], squaredNorm: m.squaredNorms[Int(e.row)]) }
        var lower = found.indices.map { i in Double(found[i].key) - radius[i] }
        // The k-th largest lower bound.
        let tau = kthLargest(&lower, k)
        return found.indices.compactMap { i in Double(found[i].key) + radius[i] >= tau ? found[i].row : nil }
    }

    /// The `k`-th largest of `values` (1-based; `values` is reordered), by quickselect.
    static func kthLargest(_ values: inout [Double], _ k: Int) -> Double {
        var lo = 0, hi = values.count - 1
        let target = k - 1
        while lo < hi {
            let pivot = values[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while values[i] > pivot { i += 1 }
                while values[j] < pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return values[target] }
        }
        return values[target]
    }

    // MARK: - Diagnostics

    /// How many rows the screen leaves to recompute for this query (nil: not screened): what `bench search`
    /// reports as the screen's work.
    public static func recomputedRows(_ m: MatrixView, query: UnsafePointer<Float>, k: Int, distance: Distance) -> Int? {
        guard let sv = usableScreen(m, k: k, distance: distance) else { return nil }
        let encoded = encode(sv, query)
        guard let b = bounds(sv, query: query, encoded: encoded, dimension: m.dimension) else { return nil }
        var sink = ScreenCollector(k: k, margin: Float(2 * b.largest).nextUp, rowKeys: m.keys)
        QuantizedSearch.scan(sv, encoded, rows: 0..<m.count, into: &sink)
        return candidates(m, sv, found: sink.found, bounds: b, k: k).count
    }

    /// The finest query codes the screen uses on the kernel path in use (1 on AVX-512 VNNI; 128 on AVX2 and
    /// generic up to 518 components, coarser above): see ``QuantizedRows/fineness(path:)``. Nil when the matrix is
    /// not screened for `distance`.
    public static func queryFineness(_ m: MatrixView, distance: Distance) -> Int? {
        boundedScreen(m, distance: distance).map { $0.rows.fineness(path: sy_q8_path()) }
    }

    /// For every row: the exact measure's ranking key (`q·x` for dot, `2 q·x − ‖x‖²` for Euclid, in double precision),
    /// the int8 estimate of it and the bound on their difference. Nil when the matrix is not screened. For tests of the
    /// bound itself.
    /// - Parameter fineness: the query codes' fineness (a power of two, at most ``queryFineness(_:distance:)``);
    ///   nil: the search's own.
    public static func rowBounds(_ m: MatrixView, query: UnsafePointer<Float>, distance: Distance,
                                 fineness: Int? = nil) -> [(exact: Double, estimate: Double, bound: Double)]? {
        guard let sv = boundedScreen(m, distance: distance) else { return nil }
        let finest = sv.rows.fineness(path: sy_q8_path())
        precondition(fineness.map { $0 >= 1 && $0 <= finest && $0 & ($0 - 1) == 0 } ?? true,
                     "fineness \(fineness ?? 0) is not a power of two up to the kernels' \(finest)")
        let encoded = fineness.map { sv.rows.encodeQuery(query, fineness: Double($0)) } ?? encode(sv, query)
        guard let b = bounds(sv, query: query, encoded: encoded, dimension: m.dimension) else { return nil }
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: max(1, m.count))
        defer { keys.deallocate() }
        QuantizedSearch.keys(sv, encoded, rows: 0..<m.count, into: keys)
        let d = m.dimension
        // The per-query constant the keys leave out, doubled for Euclid.
        let constant = sv.rows.queryConstant(encoded)
        return (0..<m.count).map { r in
            let row = m.storage + r * d
            let dot = sy_score_one_f64(Measure.dot.rawValue, row, query, d)
            let norm = sy_score_one_f64(Measure.dot.rawValue, row, row, d)
            let exact = b.factor == 2 ? 2 * dot - norm : dot
            return (exact, Double(keys[r]) + b.factor * constant,
                    b.of(residual: sv.residuals[r], squaredNorm: m.squaredNorms[r]))
        }
    }
}

/// A scan's sink for ``ScreenedSearch``: the `k` best keys, and every row whose key came within `margin` of the
/// `k`-th best at the time it was offered (older entries that fell out of the margin are pruned as it grows).
struct ScreenCollector: CandidateSink {
    private var top: TopKCollector
    let margin: Float
    private(set) var found: [(key: Float, row: Int32)] = []
    /// Entries past which `found` is pruned.
    private var limit: Int

    init(k: Int, margin: Float, rowKeys: UnsafePointer<RowKey>) {
        top = TopKCollector(k: k, rowKeys: rowKeys)
        self.margin = margin
        limit = max(4096, 8 * k)
    }

    /// −∞ until `k` rows were seen; rounded down so that float rounding cannot exclude a row within the margin.
    var threshold: Float { (top.threshold - margin).nextDown }

    @inline(__always)
    mutating func offer(key: Float, row: Int32) {
        guard key >= threshold else { return }
        found.append((key, row))
        top.offer(key: key, row: row)
        if found.count >= limit {
            let t = threshold
            found.removeAll { $0.key < t }
            limit = max(limit, 2 * found.count)
        }
    }
}

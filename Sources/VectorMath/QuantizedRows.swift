import CKernels
import Foundation

/// Qdrant's scalar quantization (int8) of a ``RowMatrix``'s rows: one signed byte per component, with the
/// collection's values clipped to the central `quantile` of their distribution.
///
/// Training takes the `(1 − quantile) / 2` and `(1 + quantile) / 2` quantiles `lo`, `hi` of the components
/// (of a sample of at most ``sampleSize`` of them) and maps `[lo, hi]` onto −127…127: `center = (lo + hi) / 2`,
/// `step = (hi − lo) / 254`, code `s = clamp(round((x − center) / step), −127, 127)`. Queries are encoded the
/// same way and shifted to unsigned (`u = t + 128`), so that
///
///     q·x ≈ Σ (center + step·t)(center + step·s)
///         = step² · Σ u·s + (center·step − 128·step²) · Σ s + (d·center² + center·step · Σ t)
///
/// A query may also be encoded M times finer (``encodeQuery(_:fineness:)``: a step of `step / M`, `u = t + 128·M`):
/// the same bias then holds with `step² / M` as the multiplier, and `center·(step / M)·Σ t` in the constant.
/// The exact screen does this where the kernels take 16-bit query codes (AVX2 and generic, M up to 128); the
/// approximate search takes 6-bit codes there (M = 1/4), which AVX2 multiplies more than twice as fast.
///
/// The first two terms form the ranking key (`a · Σ u·s + bias[row]`, see `CKernels/int8.c`); the last is the
/// same for every row of one query. For Euclid the key is `2 q·x − ‖x‖²` (‖q‖² dropped) with the exact norm.
///
/// The codes are kept beside the float rows and follow every append, replacement and removal. The scale is
/// retrained (every row re-encoded) whenever the rows have doubled since the last training, up to
/// ``retrainLimit`` rows, so that an index built from a few rows is not stuck with their range; the cost is
/// amortised O(d) per appended row, and a retrain holds the collection's write lock while it runs.
public final class QuantizedRows {
    /// Components sampled for the quantiles.
    public static let sampleSize = 100_000
    public let dimension: Int
    /// 4-component groups per row (the last padded with zero codes).
    let groups: Int
    public let quantile: Double
    /// `.dot` (cosine and dot) or `.l2Squared`; Manhattan is not quantized.
    let measure: Measure
    public private(set) var count = 0
    private var capacity = 0
    private var panels: UnsafeMutablePointer<Int8>
    /// Σ s of each row.
    private var codeSums: UnsafeMutablePointer<Int32>
    /// Each row's bias in the ranking key.
    private var bias: UnsafeMutablePointer<Float>
    /// Each row's quantization error ‖x − x̂‖ (x̂ the decoded codes), rounded up: the bounds of exact screening
    /// (``ScreenedSearch``).
    private var residuals: UnsafeMutablePointer<Float>
    /// Upper bounds of every row's residual and norm since the last training (kept, not lowered, when rows go).
    public private(set) var maxResidual: Float = 0
    public private(set) var maxNorm: Float = 0
    /// Rows whose residual or norm was not finite since the last training: no bound holds for them.
    private var unbounded = false
    public private(set) var center: Float = 0
    public private(set) var step: Float = 1
    /// Rows at the last training (0: never trained).
    public private(set) var trainedRows = 0

    /// - Parameters:
    ///   - dimension: at most 65,536, so that Σ u·s (|u·s| ≤ 255 · 127 per component) fits in 32 bits.
    ///   - quantile: the share of values kept unclipped, in [0.5, 1].
    init(dimension: Int, quantile: Double, measure: Measure) {
        precondition(dimension <= 65_536, "int8 quantization supports at most 65,536 components")
        precondition(quantile >= 0.5 && quantile <= 1, "the quantization quantile must be in [0.5, 1]")
        self.dimension = dimension
        self.groups = (dimension + 3) / 4
        self.quantile = quantile
        self.measure = measure
        panels = Self.allocate(Int8.self, count: 64)
        codeSums = Self.allocate(Int32.self, count: 16)
        bias = Self.allocate(Float.self, count: 16)
        residuals = Self.allocate(Float.self, count: 16)
    }

    deinit {
        free(panels)
        free(codeSums)
        free(bias)
        free(residuals)
    }

    private static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        alignedAllocate(type, count: count, zeroed: true)
    }

    /// Bytes held (capacity, not only rows in use): the scan structure's resident memory.
    public var allocatedBytes: Int {
        let rows = (capacity + 15) / 16 * 16
        return sy_q8_panel_bytes(rows, groups) + rows * (MemoryLayout<Int32>.stride + 2 * MemoryLayout<Float>.stride)
    }

    /// The key's multiplier of Σ u·s.
    var scale: Float { measure == .l2Squared ? 2 * step * step : step * step }

    /// Makes room for at least `rows` rows (the float matrix reserves both together).
    func reserve(_ rows: Int) {
        let rows = (rows + 15) / 16 * 16
        guard rows > capacity else { return }
        let newPanels = Self.allocate(Int8.self, count: sy_q8_panel_bytes(rows, groups))
        let used = (count + 15) / 16
        if used > 0 { memcpy(newPanels, panels, used * 64 * groups) }
        free(panels)
        panels = newPanels
        let newSums = Self.allocate(Int32.self, count: rows)
        newSums.update(from: codeSums, count: count)
        free(codeSums)
        codeSums = newSums
        let newBias = Self.allocate(Float.self, count: rows)
        newBias.update(from: bias, count: count)
        free(bias)
        bias = newBias
        let newResiduals = Self.allocate(Float.self, count: rows)
        newResiduals.update(from: residuals, count: count)
        free(residuals)
        residuals = newResiduals
        capacity = rows
    }

    /// Encodes `x` into `codes` (4 × groups bytes, padding zero) and returns Σ codes.
    @inline(__always)
    private func encode(_ x: UnsafePointer<Float>, into codes: UnsafeMutablePointer<Int8>) -> Int32 {
        sy_q8_encode(x, dimension, center, 1 / step, codes, groups * 4)
    }

    private func rowBias(sum: Int32, squaredNorm: Float) -> Float {
        let perSum = center * step - 128 * step * step
        return measure == .l2Squared ? 2 * perSum * Float(sum) - squaredNorm : perSum * Float(sum)
    }

    private func store(row: Int, vector: UnsafePointer<Float>, squaredNorm: Float) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: groups * 4) { codes in
            let sum = encode(vector, into: codes.baseAddress!)
            sy_q8_put_row(panels, groups, row, codes.baseAddress!)
            codeSums[row] = sum
            bias[row] = rowBias(sum: sum, squaredNorm: squaredNorm)
            let e = residual(vector, codes.baseAddress!)
            residuals[row] = e
            let norm = squaredNorm.squareRoot().nextUp
            if e.isFinite && norm.isFinite && squaredNorm.isFinite {
                maxResidual = Swift.max(maxResidual, e)
                maxNorm = Swift.max(maxNorm, norm)
            } else {
                unbounded = true
            }
        }
    }

    /// ‖x − x̂‖ in double precision, rounded up to a float (x̂ = center + step·s).
    private func residual(_ x: UnsafePointer<Float>, _ codes: UnsafePointer<Int8>) -> Float {
        Float(sy_q8_residual(x, codes, dimension, center, step).squareRoot() * (1 + 1e-9)).nextUp
    }

    /// Whether every row's error is bounded (every residual and norm finite): exact screening may use the copy.
    public var isBounded: Bool { !unbounded && maxResidual.isFinite && maxNorm.isFinite }

    // MARK: - Following the float rows

    /// Re-estimates the scale from `rows` (`n × dimension` floats) and re-encodes every row.
    func train(rows: UnsafePointer<Float>, norms: UnsafePointer<Float>, count n: Int) {
        let total = n * dimension
        var sample: [Float] = []
        if total > 0 {
            // A stride sharing no factor with the dimension visits every component position, not only
            // those at multiples of a common factor (at 100,000 × 384 a stride of 384 would sample only
            // each row's first component).
            var stride = Swift.max(1, total / Self.sampleSize)
            while stride > 1 && Self.gcd(stride, dimension) != 1 { stride += 1 }
            sample.reserveCapacity(total / stride + 1)
            var i = 0
            while i < total {
                if rows[i].isFinite { sample.append(rows[i]) }
                i += stride
            }
        }
        sample.sort()
        if let first = sample.first, let last = sample.last {
            let m = Double(sample.count - 1)
            let lo = sample[Int((m * (1 - quantile) / 2).rounded(.down))]
            let hi = sample[Int((m * (1 + quantile) / 2).rounded(.up))]
            center = (lo + hi) / 2
            let range = hi - lo
            // All values equal: any step keeps them exact; take one that cannot overflow the codes.
            step = range > 0 ? range / 254 : Swift.max(abs(first), abs(last), 1) / 127
        } else {
            center = 0
            step = 1
        }
        reserve(n)
        count = n
        maxResidual = 0
        maxNorm = 0
        unbounded = false
        for r in 0..<n { store(row: r, vector: rows + r * dimension, squaredNorm: norms[r]) }
        trainedRows = n
    }

    /// The codes of `x` under a scale: `clamp(round((x − center) · (1 / step)), −127, 127)`, half to even, NaN → 0,
    /// as every row and query is encoded (by the kernel level in use).
    public static func codes(of x: [Float], center: Float, step: Float) -> [Int8] {
        var out = [Int8](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in _ = sy_q8_encode(p.baseAddress!, x.count, center, 1 / step, o.baseAddress!, x.count) }
        }
        return out
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// Rows past which the scale is no longer re-estimated: a sample from this many rows is representative,
    /// and a retrain re-encodes every row under the collection's write lock (searches wait for it).
    public static let retrainLimit = 262_144

    /// Appends row `count` (already appended to the float matrix); retrains once the rows have doubled
    /// (until ``retrainLimit``).
    /// - Returns: whether the caller must retrain (the rows doubled since the last training).
    func append(_ vector: UnsafePointer<Float>, squaredNorm: Float) -> Bool {
        if trainedRows < Self.retrainLimit && count >= 2 * Swift.max(trainedRows, 8) { return true }
        if count == capacity { reserve(Swift.max(64, capacity + capacity / 2)) }
        store(row: count, vector: vector, squaredNorm: squaredNorm)
        count += 1
        return false
    }

    func replace(row: Int, with vector: UnsafePointer<Float>, squaredNorm: Float) {
        store(row: row, vector: vector, squaredNorm: squaredNorm)
    }

    func swapRemove(row: Int) {
        let last = count - 1
        if row != last {
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: groups * 4) { codes in
                sy_q8_get_row(panels, groups, last, codes.baseAddress!)
                sy_q8_put_row(panels, groups, row, codes.baseAddress!)
            }
            codeSums[row] = codeSums[last]
            bias[row] = bias[last]
            residuals[row] = residuals[last]
        }
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: groups * 4) { codes in
            codes.initialize(repeating: 0)
            sy_q8_put_row(panels, groups, last, codes.baseAddress!)
        }
        count -= 1
    }

    // MARK: - Queries

    /// A query encoded for the kernels, with the constant its rows' keys leave out.
    struct EncodedQuery {
        /// With `fineness` M ≤ 1: `4 × groups` unsigned codes u = t + 128·M (padding 128·M, a zero code).
        var codes: [UInt8]
        /// With `fineness` M > 1: `4 × groups` 16-bit codes u = t + 128·M. Empty otherwise.
        var wide: [UInt16]
        /// M: the query's codes t, in −⌊127·M⌋ … ⌊127·M⌋, are on a step of `step / M` (a power of two from 1/4 to 128).
        var fineness: Double
        /// Σ t (signed codes).
        var sum: Int32
        /// ‖q − q̂‖ (q̂ the decoded codes), rounded up.
        var residual: Double
    }

    /// The finest query codes the kernels of `path` can take for these rows: 1 for AVX-512 VNNI (its products
    /// take bytes), otherwise the largest power of two M ≤ 128 for which every row's Σ |u·s| (at most 255·M · 127
    /// per component; the padding's codes are 0) fits in 32 bits, and with it every partial sum: M · d ≤ 66,311,
    /// so 128 up to 518 components, 64 up to 1,036, and so on.
    func fineness(path: Int32) -> Int {
        guard path != Int32(SY_Q8_VNNI.rawValue) else { return 1 }
        var m = 128
        while m > 1 && 255 * m * 127 * dimension > Int(Int32.max) { m /= 2 }
        return m
    }

    /// The query codes of the approximate int8 search (Qdrant's) on `path`: bytes for AVX-512 VNNI (`vpdpbusd`
    /// takes 0 … 255); 6 bits elsewhere (M = 1/4, u = t + 32 in 1 … 63, 63 levels), which AVX2 multiplies 32 at a
    /// time with `vpmaddubsw` instead of 16 with `vpmaddwd`, and whose four products with a row's codes sum
    /// exactly in 16 bits (4 · 63 · 127 < 2¹⁵), so that two groups share one widening `vpmaddwd`. The rows' codes,
    /// clipped to the central quantile, keep their 255 levels (the exact screen reads them too); the coarser
    /// query costs little recall, since the candidates are rescored (see docs/performance.md).
    static func approximateFineness(path: Int32) -> Double { path == Int32(SY_Q8_VNNI.rawValue) ? 1 : 0.25 }

    /// Encodes `q` on the rows' scale, its codes `fineness` times finer (a power of two from 1/4 to 128, within
    /// ``fineness(path:)`` for the kernels that will take it).
    func encodeQuery(_ q: UnsafePointer<Float>, fineness: Double = 1) -> EncodedQuery {
        precondition(fineness >= 0.25 && fineness <= 128 && fineness.significand == 1, "query fineness must be a power of two from 1/4 to 128")
        if fineness != 1 { return encodeScaled(q, fineness: fineness) }
        var signed = [Int8](repeating: 0, count: groups * 4)
        let sum = signed.withUnsafeMutableBufferPointer { sy_q8_encode(q, dimension, center, 1 / step, $0.baseAddress!, groups * 4) }
        let residual = signed.withUnsafeBufferPointer { Double(self.residual(q, $0.baseAddress!)) }
        // Shifted to unsigned for the kernels: u = t + 128 (the padding's 0 becomes 128).
        let codes = signed.map { UInt8(Int16($0) + 128) }
        return EncodedQuery(codes: codes, wide: [], fineness: 1, sum: sum, residual: residual)
    }

    /// t = clamp(round((q − center) / (step / M)), −⌊127·M⌋, ⌊127·M⌋), half to even, NaN → 0, in double precision;
    /// the residual against `center + (step / M)·t` in double precision (`step / M` is exact: M is a power of two; the
    /// sum's own rounding, about 2⁻⁵³ of ‖q̂‖, is covered by the residual's rounding up and the bounds' slack).
    private func encodeScaled(_ q: UnsafePointer<Float>, fineness m: Double) -> EncodedQuery {
        let fine = Double(step) / m, c = Double(center), limit = (127 * m).rounded(.down), offset = Int(128 * m)
        var t = [Int](repeating: 0, count: groups * 4)
        var sum = 0, squared = 0.0
        for i in 0..<dimension {
            let x = Double(q[i])
            var v = (x - c) / fine
            v = v.isNaN ? 0 : Swift.min(Swift.max(v, -limit), limit)
            t[i] = Int(v.rounded(.toNearestOrEven))
            sum += t[i]
            let e = x - (c + fine * Double(t[i]))
            squared += e * e
        }
        let residual = Double(Float(squared.squareRoot() * (1 + 1e-9)).nextUp)
        if m < 1 { return EncodedQuery(codes: t.map { UInt8($0 + offset) }, wide: [], fineness: m, sum: Int32(sum), residual: residual) }
        return EncodedQuery(codes: [], wide: t.map { UInt16($0 + offset) }, fineness: m, sum: Int32(sum), residual: residual)
    }

    /// The key's multiplier of Σ u·s for `query`: ``scale`` / M.
    func keyScale(_ query: EncodedQuery) -> Float { scale / Float(query.fineness) }

    /// What every row's key leaves out of `q̂·x̂` for this query: `d·center² + center·(step / M)·Σt`.
    func queryConstant(_ query: EncodedQuery) -> Double {
        Double(dimension) * Double(center) * Double(center)
            + Double(center) * Double(step) / query.fineness * Double(query.sum)
    }

    /// The approximate measure of a row from its key: q·x for `.dot`, ‖x − q‖² for `.l2Squared`.
    func approximateMeasure(key: Float, query: EncodedQuery, squaredQueryNorm: Double) -> Double {
        let constant = queryConstant(query)
        return measure == .l2Squared ? Swift.max(0, squaredQueryNorm - Double(key) - 2 * constant) : Double(key) + constant
    }

    /// A read-only view for one search (valid while the owning matrix is read-locked).
    var view: QuantizedView {
        QuantizedView(panels: panels, bias: bias, residuals: residuals, groups: groups, count: count, rows: self)
    }
}

/// The quantized rows during one ``RowMatrix/withView(_:)`` call.
struct QuantizedView: @unchecked Sendable {
    // @unchecked: as MatrixView, raw pointers valid while the owner keeps writers out; only read.
    let panels: UnsafePointer<Int8>
    let bias: UnsafePointer<Float>
    let residuals: UnsafePointer<Float>
    let groups: Int
    let count: Int
    let rows: QuantizedRows
}

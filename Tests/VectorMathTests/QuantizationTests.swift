import Testing
import VectorMath
import _SwitchyardTestSupport

extension QuantizedSearch {
    static func search(_ m: RowMatrix, _ query: [Float], k: Int, distance: Distance, params: QuantizationParams, threads: Int = 1) -> [SearchHit] {
        query.withUnsafeBufferPointer { q in
            m.withView { search($0, query: q.baseAddress!, k: k, distance: distance, params: params, threads: threads) }
        }
    }

    static func searchBatch(_ m: RowMatrix, _ queries: [[Float]], k: Int, distance: Distance, params: QuantizationParams, threads: Int) -> [[SearchHit]] {
        let flat = queries.flatMap { $0 }
        return flat.withUnsafeBufferPointer { q in
            m.withView { searchBatch($0, queries: q.baseAddress!, count: queries.count, k: k, distance: distance, params: params, threads: threads) }
        }
    }
}

@Suite("Scalar quantization (int8)")
struct QuantizationTests {
    static let quantized: [Distance] = [.cosine, .dot, .euclid]

    /// The exact measure of every row (Qdrant's convention), indexed by row.
    static func exactScores(_ ds: Dataset, _ q: [Float]) -> [Double] {
        (0..<ds.count).map { r in
            var dot = 0.0, l2 = 0.0
            for j in 0..<ds.dimension {
                let x = Double(ds.data[r * ds.dimension + j]), y = Double(q[j])
                dot += x * y
                l2 += (x - y) * (x - y)
            }
            return ds.distance == .euclid ? l2.squareRoot() : dot
        }
    }

    /// The largest gap between a row's int8 score (no rescoring, every row returned) and its exact score,
    /// and the largest exact score's magnitude (at least 1).
    static func worstError(_ ds: Dataset, _ m: RowMatrix, _ q: [Float]) -> (worst: Double, scale: Double) {
        let exact = exactScores(ds, q)
        let hits = QuantizedSearch.search(m, q, k: ds.count, distance: ds.distance, params: QuantizationParams(rescore: false))
        #expect(hits.count == ds.count)
        let worst = hits.map { abs(Double($0.score) - exact[Int($0.row)]) }.max() ?? 0
        return (worst, max(1, exact.map(abs).max() ?? 1))
    }

    @Test("every int8 path gives the same keys, single and batch", arguments: quantized)
    func pathsAgree(distance: Distance) throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            // 70 components: 17 full groups and a padded one; 1,000 rows: a partial last panel.
            let ds = Dataset(count: 1000, dimension: 70, distance: distance, seed: 8080, duplicates: 5, zeros: 2)
            let m = ds.makeMatrix()
            m.enableQuantization(quantile: 0.99, distance: distance)
            let queries = ds.queries(11, seed: 3)
            let everything = QuantizationParams(rescore: false)
            var seen: [String: [[SearchHit]]] = [:]
            for level in KernelsTests.available {
                try Kernels.select(level)
                let singles = queries.map { QuantizedSearch.search(m, $0, k: ds.count, distance: distance, params: everything) }
                let batch = QuantizedSearch.searchBatch(m, queries, k: ds.count, distance: distance, params: everything, threads: 2)
                let same = batch == singles
                #expect(same, "\(level) (\(Kernels.int8Name)): batch differs from single")
                seen["\(level) (\(Kernels.int8Name))"] = singles
            }
            // AVX-512 VNNI takes byte query codes, the other paths 6-bit ones (see QuantizedRows.approximateFineness):
            // the paths of each kind agree with each other.
            for vnni in [true, false] {
                let same = seen.filter { $0.key.contains("avx512-vnni") == vnni }
                guard let reference = same.values.first else { continue }
                for (name, results) in same {
                    let differing = zip(results, reference).filter { $0 != $1 }.count
                    #expect(differing == 0, "\(name): \(differing) queries differ from another int8 path")
                }
            }
        }
    }

    @Test("6-bit query codes at the extreme codes: the paired 16-bit sums are exact on every path, single and batch")
    func extremeCodesAgree() throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            // 1 component group, 17 (an odd one left over by the paired kernels) and 18.
            for d in [4, 68, 72] {
                // Rows of all +1 and all −1 get the codes ±127, queries of all ±1 the 6-bit codes u = 63 and 1: four
                // products of a pair of groups reach 4 · 63 · 127 = 32,004, just within a signed 16-bit lane.
                var ds = Dataset(count: 100, dimension: d, distance: .dot, seed: UInt64(d))
                for r in 0..<ds.count where r % 3 != 2 {
                    for j in 0..<d { ds.data[r * d + j] = r % 3 == 0 ? 1 : -1 }
                }
                let m = ds.makeMatrix()
                m.enableQuantization(quantile: 0.99, distance: .dot)
                let alternating = (0..<d).map { Float($0 % 2 == 0 ? 1 : -1) }
                let queries = [[Float](repeating: 1, count: d), [Float](repeating: -1, count: d), alternating]
                    + ds.queries(6, seed: 5)
                let everything = QuantizationParams(rescore: false)
                var byLevel: [String: [[SearchHit]]] = [:]
                for level in KernelsTests.available {
                    try Kernels.select(level)
                    let singles = queries.map { QuantizedSearch.search(m, $0, k: ds.count, distance: .dot, params: everything) }
                    let batch = QuantizedSearch.searchBatch(m, queries, k: ds.count, distance: .dot, params: everything, threads: 1)
                    #expect(batch == singles, "d \(d) \(level) (\(Kernels.int8Name)): batch differs from single")
                    // An all-ones query against the all-ones rows. The rows' range is [−1, 1] (step 2/254, center 0): the rows
                    // decode to 1, the query to 124/127 on the 6-bit codes (31 steps of 8/254, four row steps each), to 1 on VNNI's byte
                    // codes. A sum that wrapped in 16 bits would be far off.
                    let top = try #require(singles[0].first)
                    let expected = Double(d) * (Kernels.int8Name == "avx512-vnni" ? 1 : 124.0 / 127)
                    #expect(abs(Double(top.score) - expected) <= 1e-4 * Double(d), "d \(d) \(level): \(top.score), expected \(expected)")
                    if Kernels.int8Name != "avx512-vnni" { byLevel[level] = singles }
                }
                if let reference = byLevel["generic"] {
                    for (level, results) in byLevel where results != reference {
                        Issue.record("d \(d): \(level)'s keys differ from the generic level's at the extreme codes")
                    }
                }
            }
        }
    }

    @Test("every kernel level encodes the same codes: rounding half to even, clamping, NaN and infinities")
    func encodingAgrees() throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            var rng = SplitMix64(seed: 77)
            let step: Float = 0.25, center: Float = 0.125
            // Halfway values (…·step + center ± step/2), clamp edges, specials, then random values; 8-wide and tails.
            var x: [Float] = [0.125, 0.25, 0.375, -0.125, 0.625, -0.375, 31.875, 31.625, 32, -31.625, -31.875, 1e30, -1e30,
                              .infinity, -.infinity, .nan, -0.0, 0.0, .leastNonzeroMagnitude, 0.2500001, 0.2499999]
            for _ in 0..<203 { x.append(Float(rng.nextInt(below: 100_000)) / 1000 - 50) }
            let expected: [Int8] = x.map { v in
                let t = (v - center) * (1 / step)
                let clamped = t > 127 ? 127 : (t < -127 ? -127 : (t.isNaN ? 0 : t))
                return Int8(clamped.rounded(.toNearestOrEven))
            }
            for level in KernelsTests.available {
                try Kernels.select(level)
                for length in [x.count, 8, 13, 1] {
                    let codes = QuantizedRows.codes(of: Array(x.prefix(length)), center: center, step: step)
                    let wrong = zip(codes, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
                    #expect(wrong.isEmpty, "\(level), \(length) components: components \(wrong.prefix(5)) differ")
                }
            }
        }
    }

    @Test("approximate scores are close to the exact ones for every row", arguments: quantized)
    func approximationIsClose(distance: Distance) {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 3000, dimension: 64, distance: distance, seed: 99)
            let m = ds.makeMatrix()
            m.enableQuantization(quantile: 0.99, distance: distance)
            for q in ds.queries(5, seed: 1) {
                let (worst, scale) = Self.worstError(ds, m, q)
                #expect(worst <= 0.03 * scale, "worst error \(worst) for scores up to \(scale)")
            }
        }
    }

    @Test("with rescoring, recall@10 against the exact search is high and scores are exact", arguments: quantized)
    func rescoredRecall(distance: Distance) {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 6000, dimension: 48, distance: distance, seed: 7)
            let m = ds.makeMatrix()
            m.enableQuantization(quantile: 0.99, distance: distance)
            var found = 0, wanted = 0
            for q in ds.queries(40, seed: 2) {
                let exact = ExactSearch.search(m, q, k: 10, distance: distance)
                let hits = QuantizedSearch.search(m, q, k: 10, distance: distance, params: QuantizationParams(oversampling: 3), threads: 2)
                let truth = Set(exact.map(\.row))
                found += hits.filter { truth.contains($0.row) }.count
                wanted += truth.count
                // Rescored: every score is the exact one (ExactSearch's double-precision scores of the same rows).
                let exactByRow = Dictionary(uniqueKeysWithValues: ExactSearch.search(
                    m, q, k: hits.count, distance: distance, rows: hits.map(\.row)).map { ($0.row, $0.score) })
                #expect(exactByRow.count == hits.count)
                for h in hits { #expect(h.score == exactByRow[h.row]) }
            }
            #expect(Double(found) / Double(wanted) >= 0.97, "recall \(Double(found) / Double(wanted))")
        }
    }

    @Test("the int8 copy follows appends (with retraining), replacements and removals", arguments: quantized)
    func followsWrites(distance: Distance) {
        KernelLevelLock.withStableKernel {
            var ds = Dataset(count: 2500, dimension: 40, distance: distance, seed: 1234)
            // Quantization on from the first row: the scale is retrained as the rows double.
            let m = RowMatrix(dimension: ds.dimension)
            m.enableQuantization(quantile: 0.95, distance: distance)
            ds.data.withUnsafeBufferPointer { buf in
                for r in 0..<ds.count { m.append(buf.baseAddress! + r * ds.dimension, key: ds.keys[r]) }
            }
            #expect(m.quantized?.count == ds.count)
            #expect((m.quantized?.trainedRows ?? 0) >= ds.count / 2)
            // Replace some rows, remove others (the last row moves into the gap), as the store does.
            var rng = SplitMix64(seed: 5)
            for _ in 0..<100 {
                let r = rng.nextInt(below: ds.count)
                var v = rng.nextVector(dimension: ds.dimension)
                if distance == .cosine { v = Vectors.normalized(v) }
                v.withUnsafeBufferPointer { m.replace(row: r, with: $0.baseAddress!) }
                for j in 0..<ds.dimension { ds.data[r * ds.dimension + j] = v[j] }
            }
            for _ in 0..<300 {
                let r = rng.nextInt(below: ds.count)
                let last = ds.count - 1
                m.swapRemove(row: r)
                if r != last {
                    ds.copyRow(last, to: r)
                    ds.keys[r] = ds.keys[last]
                }
                ds.data.removeLast(ds.dimension)
                ds.keys.removeLast()
            }
            #expect(m.quantized?.count == ds.count)
            // Every row's approximation still matches its own vector: a code left at the wrong row would not.
            for q in ds.queries(3, seed: 9) {
                let (worst, scale) = Self.worstError(ds, m, q)
                #expect(worst <= 0.05 * scale, "worst error \(worst)")
            }
        }
    }

    @Test("the scan structure takes about a quarter of the float rows' memory")
    func memory() {
        let ds = Dataset(count: 4096, dimension: 384, distance: .cosine, seed: 3)
        let m = ds.makeMatrix()
        let q = m.enableQuantization(quantile: 0.99, distance: .cosine)
        let floats = m.count * m.dimension * 4
        #expect(Double(q?.allocatedBytes ?? .max) <= 0.3 * Double(floats))
        #expect(RowMatrix(dimension: 4).enableQuantization(quantile: 0.99, distance: .manhattan) == nil)
    }
}

import CKernels
import Testing
import VectorMath
import _SwitchyardTestSupport

@Suite("Kernels")
struct KernelsTests {
    static let levels = ["generic", "avx2", "avx512"]

    /// The levels this CPU runs (selection clamps to the detected one).
    static var available: [String] {
        let best = levels.firstIndex(of: Kernels.detectedName) ?? 0
        return Array(levels[...best])
    }

    @Test("selecting a level clamps to the CPU and is reported")
    func select() throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            #expect(Self.levels.contains(Kernels.detectedName))
            for name in Self.levels {
                let got = try Kernels.select(name)
                let want = Self.available.contains(name) ? name : Kernels.detectedName
                #expect(got == want)
                #expect(Kernels.name == want)
            }
            #expect(try Kernels.select("AVX-512") == (Self.available.contains("avx512") ? "avx512" : Kernels.detectedName))
            #expect(try Kernels.select("best") == Kernels.detectedName)
            #expect(try Kernels.select("auto") == Kernels.detectedName)
        }
    }

    @Test("an unknown level is an error and changes nothing")
    func unknown() {
        KernelLevelLock.withExclusiveKernel {
            let before = Kernels.name
            let error = #expect(throws: VectorMathError.self) { try Kernels.select("sse9") }
            #expect(error?.description.contains("sse9") == true)
            #expect(Kernels.name == before)
        }
    }

    /// Every available level's measures and search results equal the generic level's within tolerance.
    @Test("every available level agrees with the generic level", arguments: Distance.allCases)
    func levelsAgree(distance: Distance) throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            // Dimensions that exercise the 64/32/16/8-wide loops, the masks and the scalar tails.
            for d in [1, 3, 8, 15, 16, 31, 32, 47, 64, 100, 129] {
                let ds = Dataset(count: 300, dimension: d, distance: distance, seed: 500 + UInt64(d), duplicates: 8, zeros: 2)
                let m = ds.makeMatrix()
                let queries = ds.queries(4, seed: 3)
                let twins = ds.twins()
                try Kernels.select("generic")
                let genericMeasures = Self.measures(ds, queries[0])
                let genericHits = queries.map { ExactSearch.search(m, $0, k: ds.count, distance: distance) }
                for level in Self.available where level != "generic" {
                    try Kernels.select(level)
                    let measures = Self.measures(ds, queries[0])
                    for (g, x) in zip(genericMeasures, measures) {
                        #expect(abs(Double(g) - Double(x)) <= 1e-4 * max(1, abs(Double(g))), "\(level) d \(d): \(x) vs generic \(g)")
                    }
                    for (qi, q) in queries.enumerated() {
                        let hits = ExactSearch.search(m, q, k: 10, distance: distance)
                        // Compared with the generic level's result as the reference.
                        let reference = genericHits[qi].map { ReferenceSearch.Hit(row: Int($0.row), score: Double($0.score)) }
                        let p = ReferenceSearch.problems(
                            actual: hits.map { (Int($0.row), $0.score) }, reference: reference, k: 10, keys: ds.keys,
                            twins: twins)
                        #expect(p.isEmpty, "\(level) d \(d) query \(qi): \(p.prefix(5))")
                        // And with the double-precision scan.
                        let rp = ds.problems(hits, ds.reference(q), k: 10, twins: twins)
                        #expect(rp.isEmpty, "\(level) d \(d) query \(qi) vs reference: \(rp.prefix(5))")
                    }
                }
            }
        }
    }

    @Test("the double-precision measure that ranks the final candidates is the same, bit for bit, on every level")
    func doubleMeasuresAgree() throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            var rng = SplitMix64(seed: 31)
            for d in [1, 7, 8, 9, 16, 23, 384, 385] {
                // Components of very different magnitudes, so that the order of the additions shows in the last bits.
                let a = (0..<d).map { _ in Float(rng.nextInt(below: 2_000_001) - 1_000_000) * (rng.nextInt(below: 3) == 0 ? 1e-6 : 1e3) }
                let b = (0..<d).map { _ in Float(rng.nextInt(below: 2_000_001) - 1_000_000) * 1e-6 }
                for measure in [Int32(SY_MEASURE_DOT.rawValue), Int32(SY_MEASURE_L2SQ.rawValue), Int32(SY_MEASURE_L1.rawValue)] {
                    var values: [String: Double] = [:]
                    // Rescoring goes through the gathering form: rows 2, 0, 3, 3 and 1 of a matrix whose row 3 is `a`.
                    let rows = (0..<4).flatMap { r in r == 3 ? a : a.map { $0 * Float(r + 2) } }
                    let picked: [Int32] = [2, 0, 3, 3, 1]
                    for level in Self.available {
                        try Kernels.select(level)
                        values[level] = sy_score_one_f64(measure, a, b, d)
                        var gathered = [Double](repeating: .nan, count: picked.count)
                        sy_score_gather_f64(measure, rows, d, picked, picked.count, b, &gathered)
                        for (j, r) in picked.enumerated() {
                            let one = rows.withUnsafeBufferPointer { sy_score_one_f64(measure, $0.baseAddress! + Int(r) * d, b, d) }
                            #expect(gathered[j].bitPattern == one.bitPattern, "\(level) d \(d) measure \(measure): gathered row \(r)")
                        }
                    }
                    let reference = try #require(values["generic"])
                    for (level, v) in values {
                        #expect(v.bitPattern == reference.bitPattern, "d \(d) measure \(measure): \(level) \(v), generic \(reference)")
                    }
                    // And close to the sum in order (the products of two floats are exact in double precision).
                    var plain = 0.0, magnitude = 0.0
                    for j in 0..<d {
                        let x = Double(a[j]), y = Double(b[j])
                        let term = measure == Int32(SY_MEASURE_DOT.rawValue) ? x * y : (measure == Int32(SY_MEASURE_L2SQ.rawValue) ? (x - y) * (x - y) : abs(x - y))
                        plain += term
                        magnitude += abs(term)
                    }
                    #expect(abs(reference - plain) <= 1e-12 * magnitude, "d \(d) measure \(measure): \(reference) vs \(plain)")
                }
            }
        }
    }

    /// Under every level (the packed AVX-512 strategy falls back where AVX-512 is not in use), every
    /// batch strategy agrees with the double-precision scan and with that level's single-query search.
    @Test("every batch strategy works under every level", arguments: Distance.allCases)
    func batchUnderEveryLevel(distance: Distance) throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            let ds = Dataset(count: 1100, dimension: 20, distance: distance, seed: 91, duplicates: 20, zeros: 2)
            let m = ds.makeMatrix()
            let queries = ds.queries(18, seed: 4)
            let references = queries.map { ds.reference($0) }
            let twins = ds.twins()
            for level in Self.available {
                try Kernels.select(level)
                let singles = queries.map { ExactSearch.search(m, $0, k: 7, distance: distance) }
                for strategy in BatchStrategy.allCases {
                    let batch = ExactSearch.searchBatch(m, queries, k: 7, distance: distance, threads: 2, strategy: strategy)
                    for (qi, hits) in batch.enumerated() {
                        let p = ds.problems(hits, references[qi], k: 7, twins: twins)
                        #expect(p.isEmpty, "\(level) \(strategy) query \(qi): \(p.prefix(5))")
                        #expect(hits == singles[qi], "\(level) \(strategy) query \(qi) differs from search()")
                    }
                }
            }
        }
    }

    /// Every measure of every row against `query`, through the batch entry point.
    static func measures(_ ds: Dataset, _ query: [Float]) -> [Float] {
        var out: [Float] = []
        ds.data.withUnsafeBufferPointer { data in
            query.withUnsafeBufferPointer { q in
                for r in 0..<ds.count {
                    for k in [Measure.dot, .l2Squared, .l1] {
                        out.append(Vectors.measure(k, data.baseAddress! + r * ds.dimension, q.baseAddress!, dimension: ds.dimension))
                    }
                }
            }
        }
        return out
    }
}

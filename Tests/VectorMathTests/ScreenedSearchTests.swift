import Testing
import VectorMath
import _SwitchyardTestSupport

extension ScreenedSearch {
    static func rowBounds(_ m: RowMatrix, _ q: [Float], distance: Distance, fineness: Int? = nil) -> [(exact: Double, estimate: Double, bound: Double)]? {
        q.withUnsafeBufferPointer { p in m.withView { rowBounds($0, query: p.baseAddress!, distance: distance, fineness: fineness) } }
    }

    static func recomputedRows(_ m: RowMatrix, _ q: [Float], k: Int, distance: Distance) -> Int? {
        q.withUnsafeBufferPointer { p in m.withView { recomputedRows($0, query: p.baseAddress!, k: k, distance: distance) } }
    }
}

@Suite("Exact search screened by int8 with proven bounds equals a naive double-precision scan")
struct ScreenedSearchTests {
    static let screened: [Distance] = [.cosine, .dot, .euclid]

    /// Rows around a few centres (many near-ties), with outliers far outside the rest's range.
    static func clustered(count n: Int, dimension d: Int, distance: Distance, seed: UInt64) -> Dataset {
        var ds = Dataset(count: n, dimension: d, distance: distance, seed: seed, duplicates: n / 50, zeros: 2)
        var rng = SplitMix64(seed: seed &+ 1)
        let centres = (0..<4).map { _ in rng.nextVector(dimension: d) }
        for r in 0..<n {
            let c = centres[r % centres.count]
            var v = (0..<d).map { j in c[j] + 0.05 * ds.data[r * d + j] }
            if r % 97 == 5 { v[rng.nextInt(below: d)] *= 40 }
            if distance == .cosine { v = Vectors.normalized(v) }
            for j in 0..<d { ds.data[r * d + j] = v[j] }
        }
        return ds
    }

    static func screenedMatrix(_ ds: Dataset) -> RowMatrix {
        let m = ds.makeMatrix()
        m.enableScreening(distance: ds.distance, minRows: 0)
        return m
    }

    @Test("the int8 estimate of every row is within its bound", arguments: screened, [7, 64, 384])
    func boundHolds(distance: Distance, dimension: Int) throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            for (name, ds) in [("random", Dataset(count: 600, dimension: dimension, distance: distance, seed: 31, duplicates: 10, zeros: 3)),
                               ("clustered", Self.clustered(count: 600, dimension: dimension, distance: distance, seed: 32))] {
                let m = Self.screenedMatrix(ds)
                // The keys of the paths that take 16-bit query codes (AVX2, generic), which must agree bit for bit.
                var wideKeys: [String: [[Double]]] = [:]
                for level in KernelsTests.available {
                    try Kernels.select(level)
                    let fineness = try #require(m.withView { ScreenedSearch.queryFineness($0, distance: distance) })
                    for (qi, q) in ds.queries(3, seed: 9).enumerated() {
                        let rows = try #require(ScreenedSearch.rowBounds(m, q, distance: distance))
                        if fineness > 1 { wideKeys[level, default: []].append(rows.map(\.estimate)) }
                        let broken = rows.enumerated().filter { abs($0.element.exact - $0.element.estimate) > $0.element.bound }
                        #expect(broken.isEmpty, "\(name) \(level) query \(qi): rows \(broken.prefix(3).map { "\($0.offset): |\($0.element.exact) − \($0.element.estimate)| > \($0.element.bound)" })")
                        // Byte query codes (what AVX-512 VNNI takes) are bounded as well, and finer ones tighten the bound.
                        if fineness > 1 {
                            let coarse = try #require(ScreenedSearch.rowBounds(m, q, distance: distance, fineness: 1))
                            let loose = coarse.enumerated().filter { abs($0.element.exact - $0.element.estimate) > $0.element.bound }
                            #expect(loose.isEmpty, "\(name) \(level) query \(qi), byte codes: rows \(loose.prefix(3).map(\.offset))")
                            // (The zero query's bound is the slack alone, whatever its codes.)
                            let fine = rows.map(\.bound).reduce(0, +), bytes = coarse.map(\.bound).reduce(0, +)
                            #expect(fine < 0.8 * bytes || !q.contains { $0 != 0 },
                                    "\(name) \(level) query \(qi): bounds \(fine) with fineness \(fineness), \(bytes) with byte codes")
                        }
                        // Not vacuous: the bound is far below the spread of the scores (the clustered rows' outliers
                        // stretch the int8 range, and so every bound, by design).
                        let exact = rows.map(\.exact)
                        let spread = (exact.max()! - exact.min()!)
                        if name == "random" && dimension >= 64 && spread > 0 {
                            let median = rows.map(\.bound).sorted()[rows.count / 2]
                            #expect(median < 0.1 * spread, "\(name) query \(qi): median bound \(median), spread \(spread)")
                        }
                    }
                }
                if let (first, keys) = wideKeys.first {
                    for (level, other) in wideKeys where other != keys {
                        Issue.record("\(name): the 16-bit query codes give other keys on \(level) than on \(first)")
                    }
                }
            }
        }
    }

    @Test("16-bit query codes at the limit of 32-bit sums: the largest codes, 518 and 519 components")
    func fineCodesAtTheLimit() throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            for d in [518, 519] {
                // Rows of all +1 and all −1 get the extreme codes ±127; queries of all ±1 the extreme 16-bit codes, so
                // Σ u·s reaches 255·M·127·d: 2,147,255,040 at d = 518 with M = 128, just below 2³¹; at d = 519, M = 128 would
                // pass it, and the fineness is 64.
                var ds = Dataset(count: 64, dimension: d, distance: .dot, seed: UInt64(d))
                for r in 0..<ds.count where r % 3 != 2 {
                    for j in 0..<d { ds.data[r * d + j] = r % 3 == 0 ? 1 : -1 }
                }
                let m = Self.screenedMatrix(ds)
                var keys: [String: [[Double]]] = [:]
                for level in KernelsTests.available {
                    try Kernels.select(level)
                    let fineness = try #require(m.withView { ScreenedSearch.queryFineness($0, distance: .dot) })
                    for sign in [Float(1), -1] {
                        let q = [Float](repeating: sign, count: d)
                        let rows = try #require(ScreenedSearch.rowBounds(m, q, distance: .dot))
                        let broken = rows.enumerated().filter { abs($0.element.exact - $0.element.estimate) > $0.element.bound }
                        #expect(broken.isEmpty, "d \(d) \(level) (fineness \(fineness)), query \(sign): rows \(broken.prefix(3).map(\.offset))")
                        if fineness > 1 { keys[level, default: []].append(rows.map(\.estimate)) }
                        #expect(ds.problems(ExactSearch.search(m, q, k: 5, distance: .dot), ds.reference(q), k: 5, twins: ds.twins()).isEmpty)
                    }
                    if fineness > 1 { #expect(fineness == (d == 518 ? 128 : 64), "d \(d): fineness \(fineness)") }
                    // The batch kernel at the same limit: 9 queries (a fused group of 8 and a tail), the extremes first.
                    let batchQueries = [[Float](repeating: 1, count: d), [Float](repeating: -1, count: d)] + ds.queries(6, seed: 4)
                    let batch = ExactSearch.searchBatch(m, batchQueries, k: 5, distance: .dot, threads: 1, strategy: .auto)
                    for (qi, q) in batchQueries.enumerated() {
                        let p = ds.problems(batch[qi], ds.reference(q), k: 5, twins: ds.twins())
                        #expect(p.isEmpty, "d \(d) \(level) batch query \(qi): \(p.prefix(3))")
                    }
                }
                if let (first, reference) = keys.first {
                    for (level, other) in keys where other != reference { Issue.record("d \(d): keys differ on \(level) and \(first)") }
                }
            }
        }
    }

    @Test("the screening rule in words matches what a matrix does: Manhattan, more than 65,536 dimensions, too few rows")
    func exclusionMatchesMatrix() {
        for (distance, dimension) in [(Distance.cosine, 65_536), (.dot, 65_537), (.manhattan, 8), (.euclid, 8)] {
            let m = RowMatrix(dimension: dimension, capacity: 2)
            let row = [Float](repeating: 0.5, count: dimension)
            for i in 0..<2 { row.withUnsafeBufferPointer { _ = m.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: UInt64(i))) } }
            m.enableScreening(distance: distance, minRows: 0)
            let why = RowMatrix.screeningExclusion(distance: distance, dimension: dimension)
            #expect(m.withView(\.isScreened) == (why == nil), "\(distance) d \(dimension): \(why ?? "screenable")")
        }
        #expect(RowMatrix.screeningExclusion(distance: .dot, dimension: 65_537) == "the screen takes at most 65536 dimensions")
        #expect(RowMatrix.screeningExclusion(distance: .manhattan, dimension: 8) == "Manhattan distance is never screened")
        #expect(RowMatrix.screeningExclusion(distance: .cosine, dimension: 8, rows: 16_383) == "collections under 16384 points are not screened")
        #expect(RowMatrix.screeningExclusion(distance: .cosine, dimension: 8, rows: 16_384) == nil)
    }

    @Test("single and batch searches equal the reference, on every kernel path", arguments: screened, [7, 33, 384])
    func equalsReference(distance: Distance, dimension: Int) throws {
        try KernelLevelLock.withExclusiveKernel {
            defer { _ = try? Kernels.select("auto") }
            for (name, ds) in [("random", Dataset(count: 600, dimension: dimension, distance: distance, seed: 41, duplicates: 20, zeros: 4)),
                               ("clustered", Self.clustered(count: 600, dimension: dimension, distance: distance, seed: 42))] {
                let m = Self.screenedMatrix(ds)
                let plain = ds.makeMatrix()
                #expect(m.withView(\.isScreened) && !plain.withView(\.isScreened))
                // 8 queries: the batch goes through the fused kernel (one full group of 8).
                let queries = ds.queries(6, seed: 5)
                let references = queries.map { ds.reference($0) }
                let twins = ds.twins()
                for level in KernelsTests.available {
                    try Kernels.select(level)
                    for k in [1, 10, 60] {
                        let batch = ExactSearch.searchBatch(m, queries, k: k, distance: distance, threads: 2, strategy: .auto)
                        for (qi, q) in queries.enumerated() {
                            let reference = references[qi]
                            for threads in [1, 2] {
                                let hits = ExactSearch.search(m, q, k: k, distance: distance, threads: threads)
                                let p = ds.problems(hits, reference, k: k, twins: twins)
                                #expect(p.isEmpty, "\(name) \(level) k \(k) threads \(threads) query \(qi): \(p.prefix(5))")
                            }
                            let p = ds.problems(batch[qi], reference, k: k, twins: twins)
                            #expect(p.isEmpty, "\(name) \(level) batch k \(k) query \(qi): \(p.prefix(5))")
                        }
                    }
                }
            }
        }
    }

    @Test("a large matrix split over threads, and a batch over threads", arguments: screened)
    func largeMultiThreaded(distance: Distance) {
        KernelLevelLock.withStableKernel {
            let n = 2 * ExactSearch.minRowsPerThread + 3001
            let ds = Self.clustered(count: n, dimension: 48, distance: distance, seed: 7)
            let m = Self.screenedMatrix(ds)
            // 11 queries: a full group of 8 for the fused batch kernel and a tail of 3.
            let queries = ds.queries(9, seed: 3)
            let references = queries.map { ds.reference($0) }
            let twins = ds.twins()
            for k in [1, 25] {
                let batch = ExactSearch.searchBatch(m, queries, k: k, distance: distance, threads: 2, strategy: .auto)
                for (qi, q) in queries.enumerated() {
                    let reference = references[qi]
                    let one = ExactSearch.search(m, q, k: k, distance: distance, threads: 1)
                    let two = ExactSearch.search(m, q, k: k, distance: distance, threads: 2)
                    #expect(ds.problems(two, reference, k: k, twins: twins).isEmpty, "query \(qi) k \(k)")
                    #expect(one == two, "threads change the result (query \(qi), k \(k))")
                    #expect(batch[qi] == one, "batch differs from single (query \(qi), k \(k))")
                }
            }
        }
    }

    @Test("the screen follows appends (with retraining), replacements and removals", arguments: screened)
    func followsChanges(distance: Distance) {
        KernelLevelLock.withStableKernel {
            // Starts from rows in a narrow range, then grows with rows far outside it (clipped until retrained).
            var ds = Dataset(count: 3000, dimension: 40, distance: distance, seed: 99, duplicates: 20)
            let m = RowMatrix(dimension: ds.dimension)
            m.enableScreening(distance: distance, minRows: 100)
            var rng = SplitMix64(seed: 4)
            let d = ds.dimension
            if distance != .cosine { for i in 0..<(700 * d) { ds.data[i] *= 0.01 } }
            var screenedAsExpected = true
            for r in 0..<ds.count {
                ds.data.withUnsafeBufferPointer { buf in _ = m.append(buf.baseAddress! + r * d, key: ds.keys[r]) }
                screenedAsExpected = screenedAsExpected && m.withView(\.isScreened) == (m.count >= 100)
            }
            #expect(screenedAsExpected)
            // Replace and remove some rows, in the matrix and in the dataset alike.
            for _ in 0..<200 {
                let r = rng.nextInt(below: ds.count)
                var v = rng.nextVector(dimension: ds.dimension).map { $0 * 3 }
                if distance == .cosine { v = Vectors.normalized(v) }
                m.replace(row: r, with: v)
                for j in 0..<ds.dimension { ds.data[r * ds.dimension + j] = v[j] }
            }
            for _ in 0..<300 {
                let r = rng.nextInt(below: ds.count)
                m.swapRemove(row: r)
                let last = ds.count - 1
                if r != last {
                    ds.copyRow(last, to: r)
                    ds.keys[r] = ds.keys[last]
                }
                ds.data.removeLast(ds.dimension)
                ds.keys.removeLast()
            }
            let twins = ds.twins()
            for (qi, q) in ds.queries(10, seed: 12).enumerated() {
                let hits = ExactSearch.search(m, q, k: 10, distance: distance)
                #expect(ds.problems(hits, ds.reference(q), k: 10, twins: twins).isEmpty, "query \(qi)")
            }
        }
    }

    /// Screens `rows` (dot) and checks that single and batch searches return exactly the reference's top `k`.
    static func expectExactTop(_ rows: [[Float]], query: [Float], k: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let d = query.count
        let keys = rows.indices.map { RowKey(kind: 0, high: 0, low: UInt64($0)) }
        let m = RowMatrix(dimension: d)
        for (r, v) in rows.enumerated() { m.append(v, key: keys[r]) }
        m.enableScreening(distance: .dot, minRows: 0)
        #expect(ScreenedSearch.recomputedRows(m, query, k: k, distance: .dot) != nil, "not screened", sourceLocation: sourceLocation)
        let reference = ReferenceSearch.rank(data: rows.flatMap { $0 }, dimension: d, keys: keys, query: query, distance: .dot)
        let want = reference.prefix(k).map { Int32($0.row) }
        #expect(ExactSearch.search(m, query, k: k, distance: .dot).map(\.row) == want, sourceLocation: sourceLocation)
        for hits in ExactSearch.searchBatch(m, Array(repeating: query, count: 9), k: k, distance: .dot, threads: 1, strategy: .auto) {
            #expect(hits.map(\.row) == want, "batch", sourceLocation: sourceLocation)
        }
    }

    @Test("tiny components: float32 underflow in the int8 key and in the squared norms is covered")
    func tinyComponents() {
        KernelLevelLock.withStableKernel {
            // Rows on the grid of s = 1.5·2⁻⁷⁵: step² underflows to a subnormal float, whose error (relative 1/9)
            // (with byte query codes; the 16-bit codes' multiplier step²/128 underflows to 0, and the slack covers it)
            // is multiplied by the codes' sums; row 0 scores 1000 s², row 1 900 s² but gets the larger key.
            let s = Float(1.5) * 0x1p-75
            var grid: [[Float]] = [[10 * s, 0, 0, 0], [9 * s, -127 * s, 0, 0]]
            grid += Array(repeating: [0, 0, 127 * s, -127 * s], count: 62)
            Self.expectExactTop(grid, query: [100 * s, 0, 0, 0], k: 1)

            // Rows around a = 2⁻⁷⁷ with the same codes, so the float32 scores decide: row P scores a + 0.75 ulp(a)
            // but its float32 score rounds to a; row Q scores a + 0.625 ulp(a) and rounds to a + ulp(a). P's float32
            // squared norm underflows to 0, so a bound built on it alone would drop P.
            let a = Float(0x1p-77), tail = Float(0x1p-103)
            var tiny: [[Float]] = Array(repeating: [-1, -1, -1], count: 40)
            tiny.append([a, 3 * tail, 3 * tail])  // P, row 40
            tiny.append([a, 5 * tail, 0])  // Q
            for j in 0..<24 { tiny.append([a * (0.5 + Float(j) / 100), 0, 0]) }
            Self.expectExactTop(tiny, query: [1, 1, 1], k: 1)
        }
    }

    @Test("identical rows: ties come in key order")
    func allTied() {
        KernelLevelLock.withStableKernel {
            var ds = Dataset(count: 400, dimension: 16, distance: .dot, seed: 3)
            for r in 1..<ds.count { ds.copyRow(0, to: r) }
            let m = Self.screenedMatrix(ds)
            let q = ds.queries(1, seed: 8)[0]
            let hits = ExactSearch.search(m, q, k: 30, distance: .dot)
            #expect(ds.problems(hits, ds.reference(q), k: 30, twins: ds.twins()).isEmpty)
            #expect(ScreenedSearch.recomputedRows(m, q, k: 30, distance: .dot) == ds.count)
        }
    }

    @Test("few rows are recomputed on random data; Manhattan, small matrices and unbounded rows are not screened")
    func scope() {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 20_000, dimension: 128, distance: .cosine, seed: 5)
            let m = ds.makeMatrix()
            m.enableScreening(distance: .cosine)
            #expect(m.withView(\.isScreened), "\(ds.count) rows ≥ \(RowMatrix.screenMinRows)")
            let counts = ds.queries(8, seed: 1).dropLast().compactMap { ScreenedSearch.recomputedRows(m, $0, k: 10, distance: .cosine) }
            #expect(counts.count == 8)
            #expect(counts.allSatisfy { $0 >= 10 && $0 < ds.count / 50 }, "rows recomputed: \(counts)")

            let small = Dataset(count: 500, dimension: 8, distance: .dot, seed: 2).makeMatrix()
            small.enableScreening(distance: .dot)
            #expect(!small.withView(\.isScreened))
            let manhattan = Dataset(count: 500, dimension: 8, distance: .manhattan, seed: 2).makeMatrix()
            manhattan.enableScreening(distance: .manhattan, minRows: 0)
            #expect(!manhattan.withView(\.isScreened))

            // A row whose norm overflows float32: no bound holds, the float scan answers.
            let huge = Self.screenedMatrix(Dataset(count: 500, dimension: 8, distance: .dot, seed: 2))
            huge.append([Float](repeating: 3e30, count: 8), key: RowKey(kind: 0, high: 0, low: 1 << 40))
            let q = [Float](repeating: 1, count: 8)
            #expect(q.withUnsafeBufferPointer { p in huge.withView { ScreenedSearch.search($0, query: p.baseAddress!, k: 3, distance: .dot) } } == nil)
            #expect(ExactSearch.search(huge, q, k: 1, distance: .dot).first?.row == 500)
        }
    }
}

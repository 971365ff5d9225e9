import Testing
import VectorMath
import _SwitchyardTestSupport

@Suite("ExactSearch equals a naive double-precision scan")
struct ExactSearchTests {
    static let dimensions = [1, 7, 33, 67]

    @Test("single query, every k, with and without a row subset", arguments: Distance.allCases, dimensions)
    func singleQuery(distance: Distance, dimension: Int) {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 700, dimension: dimension, distance: distance, seed: 1000 + UInt64(dimension),
                             duplicates: 40, zeros: 6)
            let m = ds.makeMatrix()
            var rng = SplitMix64(seed: 7)
            var subset = (0..<ds.count).filter { _ in rng.nextInt(below: 10) < 4 }
            subset.shuffle(using: &rng)
            // The subset keeps some duplicates and their twins.
            subset.append(contentsOf: ds.duplicateRows.prefix(10).filter { !subset.contains($0) })
            let subsetSet = Set(subset)
            let twins = ds.twins()
            #expect(twins.count > 0)
            for (qi, q) in ds.queries(6, seed: 99).enumerated() {
                let full = ds.reference(q)
                let filtered = ds.reference(q, candidates: subset)
                for k in [1, 10, 50, ds.count + 3] {
                    for threads in [1, 2] {
                        let hits = ExactSearch.search(m, q, k: k, distance: distance, threads: threads)
                        let p = ds.problems(hits, full, k: k, twins: twins)
                        #expect(p.isEmpty, "query \(qi) k \(k) threads \(threads): \(p.prefix(5))")
                        let fhits = ExactSearch.search(m, q, k: k, distance: distance, rows: subset.map(Int32.init), threads: threads)
                        let fp = ds.problems(fhits, filtered, k: k, twins: twins, candidates: subsetSet)
                        #expect(fp.isEmpty, "filtered query \(qi) k \(k) threads \(threads): \(fp.prefix(5))")
                    }
                }
            }
        }
    }

    @Test("large matrix split over threads, with and without a row subset", arguments: Distance.allCases)
    func largeMultiThreaded(distance: Distance) {
        KernelLevelLock.withStableKernel {
            // More than 2 × minRowsPerThread rows, so two threads really split the scan.
            let n = 2 * ExactSearch.minRowsPerThread + 3000
            let ds = Dataset(count: n, dimension: 8, distance: distance, seed: 77, duplicates: 200, zeros: 3)
            let m = ds.makeMatrix()
            var rng = SplitMix64(seed: 5)
            let subset = (0..<n).filter { _ in rng.nextInt(below: 20) != 0 }  // ~95%: still two parts
            #expect(subset.count >= 2 * ExactSearch.minRowsPerThread)
            let subsetSet = Set(subset)
            let twins = ds.twins()
            for (qi, q) in ds.queries(2, seed: 31).enumerated() {
                let full = ds.reference(q)
                let filtered = ds.reference(q, candidates: subset)
                for k in [1, 25] {
                    let one = ExactSearch.search(m, q, k: k, distance: distance, threads: 1)
                    let two = ExactSearch.search(m, q, k: k, distance: distance, threads: 2)
                    let p = ds.problems(two, full, k: k, twins: twins)
                    #expect(p.isEmpty, "query \(qi) k \(k): \(p.prefix(5))")
                    #expect(one == two, "threads change the result (query \(qi), k \(k))")
                    let rows = subset.map(Int32.init)
                    let fone = ExactSearch.search(m, q, k: k, distance: distance, rows: rows, threads: 1)
                    let ftwo = ExactSearch.search(m, q, k: k, distance: distance, rows: rows, threads: 2)
                    let fp = ds.problems(ftwo, filtered, k: k, twins: twins, candidates: subsetSet)
                    #expect(fp.isEmpty, "filtered query \(qi) k \(k): \(fp.prefix(5))")
                    #expect(fone == ftwo, "threads change the filtered result (query \(qi), k \(k))")
                }
            }
        }
    }

    @Test("batch search: every strategy and thread count equals the reference and the single-query path",
          arguments: Distance.allCases)
    func batch(distance: Distance) {
        KernelLevelLock.withStableKernel {
            // More rows than one sgemm row block and more queries than one query block.
            let ds = Dataset(count: 2500, dimension: 16, distance: distance, seed: 4242, duplicates: 60, zeros: 4)
            let m = ds.makeMatrix()
            let queries = ds.queries(68, seed: 17)
            let references = queries.map { ds.reference($0) }
            let twins = ds.twins()
            for k in [1, 10] {
                let single = queries.map { ExactSearch.search(m, $0, k: k, distance: distance) }
                for strategy in BatchStrategy.allCases {
                    for threads in [1, 2] {
                        let batch = ExactSearch.searchBatch(m, queries, k: k, distance: distance, threads: threads, strategy: strategy)
                        #expect(batch.count == queries.count)
                        for (qi, hits) in batch.enumerated() {
                            let p = ds.problems(hits, references[qi], k: k, twins: twins)
                            #expect(p.isEmpty, "\(strategy) threads \(threads) k \(k) query \(qi): \(p.prefix(5))")
                            #expect(hits == single[qi], "\(strategy) threads \(threads) k \(k) query \(qi) differs from search()")
                        }
                    }
                }
            }
        }
    }

    @Test("fewer queries than threads (each query gets the threads)", arguments: Distance.allCases, BatchStrategy.allCases)
    func fewQueries(distance: Distance, strategy: BatchStrategy) {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 300, dimension: 9, distance: distance, seed: 8, duplicates: 10, zeros: 1)
            let m = ds.makeMatrix()
            let q = ds.queries(1, seed: 2)[0]
            let batch = ExactSearch.searchBatch(m, [q], k: 12, distance: distance, threads: 2, strategy: strategy)
            #expect(batch.count == 1)
            #expect(ds.problems(batch[0], ds.reference(q), k: 12, twins: ds.twins()).isEmpty)
        }
    }

    /// Enough rows for the packed path to split rows (not queries) over threads, at a dimension that is
    /// not a multiple of the 16-component transpose (a vectorised part and a scalar tail).
    @Test("large packed batches split over row ranges equal the reference", arguments: Distance.allCases)
    func packedRowSplit(distance: Distance) {
        KernelLevelLock.withStableKernel {
            let ds = Dataset(count: 20_011, dimension: 40, distance: distance, seed: 515, duplicates: 40, zeros: 2)
            let m = ds.makeMatrix()
            let queries = ds.queries(13, seed: 23)
            let references = queries.map { ds.reference($0) }
            let twins = ds.twins()
            for threads in [1, 2, 3] {
                let batch = ExactSearch.searchBatch(m, queries, k: 10, distance: distance, threads: threads, strategy: .packed)
                for (qi, hits) in batch.enumerated() {
                    let p = ds.problems(hits, references[qi], k: 10, twins: twins)
                    #expect(p.isEmpty, "threads \(threads) query \(qi): \(p.prefix(5))")
                }
            }
        }
    }

    /// Many exact copies of the best row: more than the sgemm path's slack, spread over row blocks,
    /// with keys in an order unrelated to row order. The copies must come first, smallest key first.
    @Test("many identical best rows come in key order on every path", arguments: Distance.allCases)
    func manyDuplicates(distance: Distance) {
        KernelLevelLock.withStableKernel {
            var ds = Dataset(count: 5000, dimension: 24, distance: distance, seed: 606)
            var rng = SplitMix64(seed: 9)
            let source = 17
            var copies: Set<Int> = [source]
            while copies.count < 40 {
                let r = rng.nextInt(below: ds.count)
                if copies.insert(r).inserted { ds.copyRow(source, to: r) }
            }
            let m = ds.makeMatrix()
            // The query is the row itself (best for cosine, euclid, manhattan); for dot, a scaled copy.
            var q = ds.row(source)
            if distance == .dot { q = q.map { $0 * 4 } }
            let inKeyOrder = copies.sorted { ds.keys[$0] < ds.keys[$1] }.map(Int32.init)
            let reference = ds.reference(q)
            let twins = ds.twins()
            for k in [5, 40] {
                var results: [(String, [SearchHit])] = []
                results.append(("search", ExactSearch.search(m, q, k: k, distance: distance)))
                results.append(("search rows", ExactSearch.search(m, q, k: k, distance: distance, rows: (0..<Int32(ds.count)).reversed())))
                for strategy in BatchStrategy.allCases {
                    for threads in [1, 2] {
                        let batch = ExactSearch.searchBatch(m, [q, q, q], k: k, distance: distance, threads: threads, strategy: strategy)
                        for b in batch { results.append(("\(strategy) threads \(threads)", b)) }
                    }
                }
                for (name, hits) in results {
                    if distance != .dot {
                        #expect(hits.map(\.row) == Array(inKeyOrder.prefix(k)), "\(name) k \(k)")
                    }
                    let p = ds.problems(hits, reference, k: k, twins: twins)
                    #expect(p.isEmpty, "\(name) k \(k): \(p.prefix(5))")
                }
            }
        }
    }

    @Test("degenerate sizes return nothing or everything")
    func degenerate() {
        let m = RowMatrix(dimension: 3)
        let q: [Float] = [1, 2, 3]
        #expect(ExactSearch.search(m, q, k: 5, distance: .dot).isEmpty)
        #expect(ExactSearch.searchBatch(m, [q, q], k: 5, distance: .dot, threads: 2, strategy: .gemm) == [[], []])
        q.withUnsafeBufferPointer { p in
            #expect(m.withView { ExactSearch.searchBatch($0, queries: p.baseAddress!, count: 0, k: 5, distance: .dot) }.isEmpty)
        }
        q.withUnsafeBufferPointer { _ = m.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: 1)) }
        #expect(ExactSearch.search(m, q, k: 0, distance: .euclid).isEmpty)
        #expect(ExactSearch.search(m, q, k: 3, distance: .euclid, rows: []).isEmpty)
        #expect(ExactSearch.searchBatch(m, [q], k: 0, distance: .dot, threads: 1, strategy: .simd) == [[]])
        let hits = ExactSearch.search(m, q, k: 3, distance: .euclid)
        #expect(hits == [SearchHit(row: 0, score: 0)])
        for strategy in BatchStrategy.allCases {
            #expect(ExactSearch.searchBatch(m, [q], k: 3, distance: .euclid, threads: 2, strategy: strategy) == [[SearchHit(row: 0, score: 0)]])
        }
    }

    @Test("scores use Qdrant's conventions")
    func scoreConventions() {
        KernelLevelLock.withStableKernel {
            let m = RowMatrix(dimension: 2)
            let rows: [[Float]] = [[3, 4], [1, 0], [0, 0]]
            for (i, r) in rows.enumerated() {
                r.withUnsafeBufferPointer { _ = m.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: UInt64(i))) }
            }
            let q: [Float] = [0, 0]
            // Euclid: the distance itself (not squared), smallest first; ties by key.
            #expect(ExactSearch.search(m, q, k: 3, distance: .euclid) == [
                SearchHit(row: 2, score: 0), SearchHit(row: 1, score: 1), SearchHit(row: 0, score: 5),
            ])
            #expect(ExactSearch.search(m, q, k: 3, distance: .manhattan) == [
                SearchHit(row: 2, score: 0), SearchHit(row: 1, score: 1), SearchHit(row: 0, score: 7),
            ])
            // Dot: larger first.
            let d = ExactSearch.search(m, [1, 1], k: 3, distance: .dot)
            #expect(d == [SearchHit(row: 0, score: 7), SearchHit(row: 1, score: 1), SearchHit(row: 2, score: 0)])
        }
    }
}

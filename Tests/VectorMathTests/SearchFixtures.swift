import VectorMath
import _SwitchyardTestSupport

/// Random rows with unique, shuffled keys (so key order differs from row order), some exact
/// duplicates and some zero vectors; cosine rows are normalised as the store does.
struct Dataset {
    let dimension: Int
    let distance: Distance
    var data: [Float]
    var keys: [RowKey]
    /// Rows that were overwritten with a copy of another row.
    var duplicateRows: [Int] = []
    /// Rows that are all zeros.
    var zeroRows: [Int] = []

    var count: Int { keys.count }

    init(count n: Int, dimension d: Int, distance: Distance, seed: UInt64, duplicates: Int = 0, zeros: Int = 0) {
        var rng = SplitMix64(seed: seed)
        dimension = d
        self.distance = distance
        data = []
        data.reserveCapacity(n * d)
        for _ in 0..<n {
            let v = rng.nextVector(dimension: d)
            data.append(contentsOf: distance == .cosine ? Vectors.normalized(v) : v)
        }
        // Unique keys in shuffled order; about a fifth are UUID-like (kind 1).
        var order = Array(0..<n)
        order.shuffle(using: &rng)
        keys = order.map { i in
            i % 5 == 0 ? RowKey(kind: 1, high: rng.next(), low: UInt64(i)) : RowKey(kind: 0, high: 0, low: UInt64(i) &* 7919)
        }
        for _ in 0..<duplicates where n > 1 {
            let src = rng.nextInt(below: n), dst = rng.nextInt(below: n)
            guard src != dst else { continue }
            copyRow(src, to: dst)
            duplicateRows.append(dst)
        }
        for _ in 0..<zeros where n > 0 {
            let r = rng.nextInt(below: n)
            for j in 0..<d { data[r * d + j] = 0 }
            zeroRows.append(r)
        }
    }

    mutating func copyRow(_ src: Int, to dst: Int) {
        for j in 0..<dimension { data[dst * dimension + j] = data[src * dimension + j] }
    }

    func row(_ r: Int) -> [Float] { Array(data[(r * dimension)..<((r + 1) * dimension)]) }

    func makeMatrix() -> RowMatrix {
        let m = RowMatrix(dimension: dimension)
        data.withUnsafeBufferPointer { buf in
            for r in 0..<count { m.append(buf.baseAddress! + r * dimension, key: keys[r]) }
        }
        return m
    }

    /// Random queries plus, when the data has them, a duplicated row (exact ties at the top) and a zero query.
    func queries(_ n: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        var out: [[Float]] = (0..<n).map { _ in
            let v = rng.nextVector(dimension: dimension)
            return distance == .cosine ? Vectors.normalized(v) : v
        }
        if let dup = duplicateRows.first { out.append(row(dup)) }
        out.append([Float](repeating: 0, count: dimension))
        return out
    }

    func reference(_ query: [Float], candidates: [Int]? = nil) -> [ReferenceSearch.Hit] {
        ReferenceSearch.rank(data: data, dimension: dimension, keys: keys, query: query, distance: distance, candidates: candidates)
    }

    /// The identical rows of the data as it is now.
    func twins() -> ReferenceSearch.Twins { ReferenceSearch.Twins(data: data, dimension: dimension) }

    func problems(
        _ hits: [SearchHit], _ reference: [ReferenceSearch.Hit], k: Int, twins: ReferenceSearch.Twins,
        candidates: Set<Int>? = nil
    ) -> [String] {
        ReferenceSearch.problems(
            actual: hits.map { (Int($0.row), $0.score) }, reference: reference, k: k, keys: keys,
            twins: twins, candidates: candidates)
    }
}

extension ExactSearch {
    /// `search` over Swift arrays.
    static func search(_ m: RowMatrix, _ query: [Float], k: Int, distance: Distance, rows: [Int32]? = nil, threads: Int = 1) -> [SearchHit] {
        query.withUnsafeBufferPointer { q in
            if let rows {
                return rows.withUnsafeBufferPointer { r in
                    m.withView { search($0, query: q.baseAddress!, k: k, distance: distance, rows: r, threads: threads) }
                }
            }
            return m.withView { search($0, query: q.baseAddress!, k: k, distance: distance, threads: threads) }
        }
    }

    /// `searchBatch` over Swift arrays.
    static func searchBatch(_ m: RowMatrix, _ queries: [[Float]], k: Int, distance: Distance, threads: Int, strategy: BatchStrategy) -> [[SearchHit]] {
        let flat = queries.flatMap { $0 }
        return flat.withUnsafeBufferPointer { q in
            m.withView { searchBatch($0, queries: q.baseAddress!, count: queries.count, k: k, distance: distance, threads: threads, strategy: strategy) }
        }
    }
}

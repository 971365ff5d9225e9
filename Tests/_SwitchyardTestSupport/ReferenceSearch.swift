import VectorMath

/// A naive, double-precision exact search: what every fast search path must agree with.
public enum ReferenceSearch {
    /// One ranked candidate: the row number (index into the data) and its score in double precision.
    public struct Hit: Sendable, Equatable {
        public var row: Int
        public var score: Double

        public init(row: Int, score: Double) {
            self.row = row
            self.score = score
        }
    }

    /// The score of `a` against `b` in Qdrant's convention, in double precision.
    ///
    /// Cosine is computed as a true cosine (zero when either vector is zero), so it also serves
    /// vectors that were never normalised; for unit vectors it equals the dot product.
    public static func score(
        _ distance: Distance, _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>
    ) -> Double {
        precondition(a.count == b.count)
        var s = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            let x = Double(a[i]), y = Double(b[i])
            switch distance {
            case .cosine:
                s += x * y
                na += x * x
                nb += y * y
            case .dot: s += x * y
            case .euclid: s += (x - y) * (x - y)
            case .manhattan: s += abs(x - y)
            }
        }
        switch distance {
        case .cosine: return na == 0 || nb == 0 ? 0 : s / (na.squareRoot() * nb.squareRoot())
        case .dot, .manhattan: return s
        case .euclid: return s.squareRoot()
        }
    }

    /// Every candidate ranked best first (ties: the smaller key first).
    ///
    /// - Parameters:
    ///   - data: `keys.count × dimension` floats, row-major.
    ///   - candidates: the rows to rank (all rows when `nil`).
    public static func rank(
        data: [Float], dimension d: Int, keys: [RowKey], query: [Float], distance: Distance,
        candidates: [Int]? = nil
    ) -> [Hit] {
        precondition(data.count == keys.count * d && query.count == d)
        let rows = candidates ?? Array(0..<keys.count)
        var hits: [Hit] = []
        hits.reserveCapacity(rows.count)
        data.withUnsafeBufferPointer { all in
            query.withUnsafeBufferPointer { q in
                for r in rows {
                    let row = UnsafeBufferPointer(rebasing: all[(r * d)..<((r + 1) * d)])
                    hits.append(Hit(row: r, score: score(distance, row, q)))
                }
            }
        }
        hits.sort { a, b in
            if a.score != b.score { return distance.higherIsBetter ? a.score > b.score : a.score < b.score }
            return keys[a.row] < keys[b.row]
        }
        return hits
    }

    /// The tolerance band around `score` (relative, with an absolute floor of `tolerance` for scores near zero).
    public static func band(_ score: Double, tolerance: Double) -> Double {
        tolerance * max(1, abs(score))
    }

    /// Rows whose vectors are bit-for-bit identical, found once per data set.
    public struct Twins: Sendable {
        /// For each row that has twins, every row of its group (itself included).
        private var groups: [Int: [Int]] = [:]

        public init(data: [Float], dimension d: Int) {
            var byVector: [[UInt32]: [Int]] = [:]
            let n = d == 0 ? 0 : data.count / d
            for r in 0..<n { byVector[data[(r * d)..<((r + 1) * d)].map(\.bitPattern), default: []].append(r) }
            for rows in byVector.values where rows.count > 1 {
                for r in rows { groups[r] = rows }
            }
        }

        /// The other rows identical to `row`.
        public func of(_ row: Int) -> [Int] { (groups[row] ?? []).filter { $0 != row } }

        /// Rows that have at least one twin.
        public var count: Int { groups.count }
    }

    /// Compares a search result with the full reference ranking and returns what is wrong (empty when
    /// the result is right).
    ///
    /// - The result has `min(k, reference.count)` hits, no row twice, only candidates.
    /// - At each rank the score is within `tolerance` (relative, absolute below 1) of the reference's.
    /// - The ids equal the reference's, except that inside a group of (near-)tied reference scores
    ///   any order is accepted, and at the cut the result may take any members of the tied group.
    /// - Rows with bit-identical vectors come in key order: a row is preceded by every identical
    ///   candidate with a smaller key.
    ///
    /// - Parameters:
    ///   - actual: the result, best first: rows and scores.
    ///   - reference: ``rank(data:dimension:keys:query:distance:candidates:)`` over the candidates.
    ///   - candidates: the candidate rows (every row when `nil`); the same set as the reference's.
    ///   - twins: the data set's identical rows.
    public static func problems(
        actual: [(row: Int, score: Float)], reference: [Hit], k: Int, keys: [RowKey],
        twins: Twins, candidates: Set<Int>? = nil, tolerance: Double = 1e-4
    ) -> [String] {
        var out: [String] = []
        let expected = min(k, reference.count)
        guard actual.count == expected else {
            return ["expected \(expected) hits, got \(actual.count)"]
        }
        func isCandidate(_ r: Int) -> Bool { candidates?.contains(r) ?? (r >= 0 && r < keys.count) }
        var rankOf: [Int: Int] = [:]
        for (i, a) in actual.enumerated() {
            if rankOf[a.row] != nil { out.append("rank \(i): row \(a.row) appears twice") } else { rankOf[a.row] = i }
            if !isCandidate(a.row) { out.append("rank \(i): row \(a.row) is not a candidate") }
            let ref = reference[i].score
            if abs(Double(a.score) - ref) > band(ref, tolerance: tolerance) {
                out.append("rank \(i): score \(a.score), reference \(ref)")
            }
        }
        // Groups of near-tied reference scores (chained): [start, end).
        var start = 0
        while start < expected {
            var end = start + 1
            while end < reference.count,
                abs(reference[end].score - reference[end - 1].score)
                    <= band(reference[end - 1].score, tolerance: tolerance)
            {
                end += 1
            }
            let group = Set(reference[start..<end].map(\.row))
            let upTo = min(end, expected)
            let got = actual[start..<upTo].map(\.row)
            if end <= expected {
                if Set(got) != group {
                    out.append("ranks \(start)..<\(end): rows \(got.sorted()), reference \(group.sorted())")
                }
            } else if !Set(got).isSubset(of: group) {
                out.append("ranks \(start)..<\(upTo) (tied past the cut): rows \(got.sorted()) not within \(group.prefix(20).sorted())…")
            }
            start = end
        }
        // Exact duplicates: smaller key first.
        for (i, a) in actual.enumerated() {
            for t in twins.of(a.row) where isCandidate(t) && keys[t] < keys[a.row] {
                guard let ti = rankOf[t], ti < i else {
                    out.append("rank \(i): row \(a.row) comes before (or without) its identical twin row \(t), which has the smaller key")
                    continue
                }
            }
        }
        return out
    }
}

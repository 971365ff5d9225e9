import Locks
import Synchronization
import Telemetry
import Foundation
import VectorMath

extension Store {
    /// The `limit` best points for a query vector, best first.
    ///
    /// Exact: every candidate is scored; ties go to the smaller id. Scores follow Qdrant (similarity
    /// for cosine/dot, distance for euclid/manhattan).
    ///
    /// - Throws: ``StoreError`` `invalidArgument` for a wrong dimension, NaN components, `limit` < 1
    ///   or a negative offset; `notFound` for an unknown collection or alias.
    /// - Complexity: O(n·d) over the candidate points, spread over `Options.searchThreads` threads.
    public func search(_ collection: String, _ request: SearchRequest) throws(StoreError) -> [ScoredPoint] {
        try searchBatch(collection, [request])[0]
    }

    /// Several queries against one collection; unfiltered queries share `sgemm` tiles.
    public func searchBatch(_ collection: String, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]] {
        let t0 = ContinuousClock.now
        do {
            let results = try searchBatchUnmeasured(collection, requests)
            let seconds = (ContinuousClock.now - t0).seconds
            options.telemetry.storeOperation(requests.count == 1 ? "search" : "search_batch", status: "ok", seconds: seconds)
            for r in results { options.telemetry.search(seconds: seconds / Double(max(1, results.count)), results: r.count) }
            return results
        } catch {
            options.telemetry.storeOperation(requests.count == 1 ? "search" : "search_batch", status: "error", seconds: (ContinuousClock.now - t0).seconds)
            throw error
        }
    }

    /// How many points the int8 screen leaves to score exactly for each query, nil where the collection's exact
    /// search is not screened (see ``Options/exactScreening``): the work screening leaves, for benchmarks.
    public func screenedRows(_ collection: String, queries: [[Float]], k: Int) throws(StoreError) -> [Int?] {
        let h = try loadedHandle(collection)
        guard h.spaces == nil else { return queries.map { _ in nil } }
        return h.lock.withReadLock {
            h.matrix.withView { view in
                queries.map { q -> Int? in
                    guard q.count == view.dimension else { return nil }
                    let v = h.distance == .cosine ? Vectors.normalized(q) : q
                    return v.withUnsafeBufferPointer { ScreenedSearch.recomputedRows(view, query: $0.baseAddress!, k: k, distance: h.distance) }
                }
            }
        }
    }

    func searchBatchUnmeasured(_ collection: String, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]] {
        guard !requests.isEmpty else { return [] }
        let h = try loadedHandle(collection)
        func which(_ i: Int) -> String { requests.count == 1 ? "query" : "query #\(i)" }
        // The vector each request searches (nil: the whole row, for a collection without named vectors).
        var spaceOf: [Int?] = []
        for (i, r) in requests.enumerated() {
            do { spaceOf.append(try h.space(r.using)) } catch { throw .invalid("\(which(i)): \(error.message)") }
        }
        // Check and prepare every request first, then search all of them under one read lock, so a batch
        // sees one state of the collection even when it searches several named vectors.
        var groups: [PreparedSearch] = []
        for space in Set(spaceOf.map { $0 ?? -1 }).sorted() {
            let chosen = requests.indices.filter { (spaceOf[$0] ?? -1) == space }
            groups.append(try prepare(h, space < 0 ? nil : space, chosen.map { ($0, requests[$0]) }, which: which))
        }
        h.activeSearches.add(1, ordering: .relaxed)
        defer { h.activeSearches.subtract(1, ordering: .relaxed) }
        var out = [[ScoredPoint]](repeating: [], count: requests.count)
        h.lock.withReadLock {
            for g in groups {
                for (j, found) in run(h, g).enumerated() { out[g.requests[j].0] = found }
            }
        }
        return out
    }

    /// Requests of one batch that search the same vector, checked, with their queries normalised.
    private struct PreparedSearch {
        /// The named vector, or nil for whole rows.
        var space: Int?
        var dimension: Int
        var distance: Distance
        /// (index in the batch, request).
        var requests: [(Int, SearchRequest)]
        var queries: [Float]
        /// Results each request needs from the kernels (limit + offset, saturating).
        var depth: [Int]
    }

    private func prepare(_ h: CollectionHandle, _ space: Int?, _ requests: [(Int, SearchRequest)],
                         which: (Int) -> String) throws(StoreError) -> PreparedSearch {
        let d = space.map { h.spaces![$0].dimension } ?? h.dimension
        let distance = space.map { h.spaces![$0].distance } ?? h.distance
        let shapeName = space.map { "vector '\(h.spaces![$0].name)' of collection '\(h.name)' has size" } ?? "collection '\(h.name)' has dimension"
        var queries = [Float]()
        queries.reserveCapacity(requests.count * d)
        for (index, r) in requests {
            let which = which(index)
            guard r.limit >= 1 else { throw .invalid("\(which): limit must be at least 1, got \(r.limit)") }
            guard r.offset >= 0 else { throw .invalid("\(which): offset must not be negative, got \(r.offset)") }
            guard !r.vector.isEmpty else { throw .invalid("\(which): empty query vector") }
            guard r.vector.count == d else {
                throw .invalid("\(which): vector has \(r.vector.count) components, \(shapeName) \(d)")
            }
            if let bad = r.vector.withUnsafeBufferPointer({ Vectors.firstNonFinite($0) }) {
                throw .invalid("\(which): component \(bad) is not a finite number")
            }
            if let t = r.scoreThreshold, t.isNaN { throw .invalid("\(which): score threshold is NaN") }
            if let o = r.quantization?.oversampling, !(o.isFinite && o >= 1) {
                throw .invalid("\(which): quantization oversampling must be a number of at least 1, got \(o)")
            }
            queries.append(contentsOf: distance == .cosine ? Vectors.normalized(r.vector) : r.vector)
        }
        // Saturating: a huge limit or offset must not overflow.
        let depth = requests.map { _, r -> Int in
            let (sum, overflow) = r.limit.addingReportingOverflow(r.offset)
            return overflow ? Int.max : sum
        }
        return PreparedSearch(space: space, dimension: d, distance: distance, requests: requests, queries: queries, depth: depth)
    }

    /// Runs one prepared group; the caller holds the collection's read lock.
    private func run(_ h: CollectionHandle, _ g: PreparedSearch) -> [[ScoredPoint]] {
        let threads = max(1, options.searchThreads)
        let d = g.dimension
        let distance = g.distance
        let queries = g.queries
        let requests = g.requests.map(\.1)
        return (g.space.map { h.spaceMatrices[$0] } ?? h.matrix).withView { view in
            let depth = g.depth.map { min($0, max(1, view.count)) }
            var hits = [[SearchHit]](repeating: [], count: requests.count)
            // Unfiltered queries with the same depth go through the batch path together.
            var plain: [Int] = []
            for (i, r) in requests.enumerated() {
                if let f = r.filter, !f.isEmpty {
                    let rows: [Int32] = (0..<view.count).compactMap { row in
                        f.matches(id: h.pointID(row: row), payload: h.payloads[row] ?? [:]) ? Int32(row) : nil
                    }
                    hits[i] = queries.withUnsafeBufferPointer { q in
                        rows.withUnsafeBufferPointer { rb in
                            ExactSearch.search(view, query: q.baseAddress! + i * d, k: depth[i],
                                               distance: distance, rows: rb, threads: threads)
                        }
                    }
                } else {
                    plain.append(i)
                }
            }
            // Unfiltered queries that use the int8 copy go through it, grouped by their parameters.
            if view.isQuantized {
                // Grouped by parameters and depth: a query's candidates (oversampling × its own depth) must not
                // depend on the other queries of its batch.
                struct Group: Hashable {
                    var params: QuantizationParams
                    var depth: Int
                }
                var byParams: [Group: [Int]] = [:]
                for i in plain {
                    let p = requests[i].quantization ?? QuantizationParams()
                    if !p.ignore { byParams[Group(params: p, depth: depth[i]), default: []].append(i) }
                }
                for (g, group) in byParams.sorted(by: { $0.value[0] < $1.value[0] }) {
                    let p = g.params
                    let k = g.depth
                    var packed = [Float]()
                    packed.reserveCapacity(group.count * d)
                    for i in group { packed.append(contentsOf: queries[(i * d)..<((i + 1) * d)]) }
                    let found = packed.withUnsafeBufferPointer { q in
                        QuantizedSearch.searchBatch(view, queries: q.baseAddress!, count: group.count, k: k, distance: distance,
                                                    params: p, threads: threads)
                    }
                    for (j, i) in group.enumerated() { hits[i] = Array(found[j].prefix(depth[i])) }
                }
                let quantized = Set(byParams.values.joined())
                plain.removeAll { quantized.contains($0) }
            }
            if plain.count == 1 {
                let i = plain[0]
                hits[i] = queries.withUnsafeBufferPointer { q in
                    ExactSearch.search(view, query: q.baseAddress! + i * d, k: depth[i],
                                       distance: distance, threads: threads)
                }
            } else if !plain.isEmpty {
                let k = plain.map { depth[$0] }.max() ?? 1
                var packed = [Float]()
                packed.reserveCapacity(plain.count * d)
                for i in plain { packed.append(contentsOf: queries[(i * d)..<((i + 1) * d)]) }
                let batch = packed.withUnsafeBufferPointer { q in
                    ExactSearch.searchBatch(view, queries: q.baseAddress!, count: plain.count, k: k, distance: distance, threads: threads)
                }
                for (j, i) in plain.enumerated() { hits[i] = Array(batch[j].prefix(depth[i])) }
            }
            return requests.enumerated().map { i, r in
                hits[i].dropFirst(min(r.offset, hits[i].count)).prefix(r.limit).compactMap { hit -> ScoredPoint? in
                    if let t = r.scoreThreshold, !distance.isStrictlyBetter(hit.score, than: t) { return nil }
                    let row = Int(hit.row)
                    return ScoredPoint(id: h.pointID(row: row), score: hit.score,
                                       vector: r.withVector ? h.vector(row: row) : nil,
                                       payload: r.withPayload ? (h.payloads[row] ?? [:]) : nil)
                }
            }
        }
    }
}

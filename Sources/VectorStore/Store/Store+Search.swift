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

    func searchBatchUnmeasured(_ collection: String, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]] {
        guard !requests.isEmpty else { return [] }
        let h = try loadedHandle(collection)
        // The vector each request searches (nil: the whole row, for a collection without named vectors).
        var spaceOf: [Int?] = []
        for (i, r) in requests.enumerated() {
            do { spaceOf.append(try h.space(r.using)) } catch {
                throw .invalid("\(requests.count == 1 ? "query" : "query #\(i)"): \(error.message)")
            }
        }
        guard h.spaces != nil else { return try searchSpace(h, nil, requests) }
        var out = [[ScoredPoint]](repeating: [], count: requests.count)
        for k in Set(spaceOf.compactMap { $0 }).sorted() {
            let chosen = requests.indices.filter { spaceOf[$0] == k }
            let found = try searchSpace(h, k, chosen.map { requests[$0] })
            for (j, i) in chosen.enumerated() { out[i] = found[j] }
        }
        return out
    }

    /// Searches one vector of the rows: named vector `space`, or the whole row when nil.
    private func searchSpace(_ h: CollectionHandle, _ space: Int?, _ requests: [SearchRequest]) throws(StoreError) -> [[ScoredPoint]] {
        let d = space.map { h.spaces![$0].dimension } ?? h.dimension
        let distance = space.map { h.spaces![$0].distance } ?? h.distance
        var queries = [Float]()
        queries.reserveCapacity(requests.count * d)
        for (i, r) in requests.enumerated() {
            let which = requests.count == 1 ? "query" : "query #\(i)"
            guard r.limit >= 1 else { throw .invalid("\(which): limit must be at least 1, got \(r.limit)") }
            guard r.offset >= 0 else { throw .invalid("\(which): offset must not be negative, got \(r.offset)") }
            guard !r.vector.isEmpty else { throw .invalid("\(which): empty query vector") }
            guard r.vector.count == d else {
                throw .invalid("\(which): vector has \(r.vector.count) components, collection '\(h.name)' has dimension \(d)")
            }
            if let bad = r.vector.withUnsafeBufferPointer({ Vectors.firstNonFinite($0) }) {
                throw .invalid("\(which): component \(bad) is not a finite number")
            }
            if let t = r.scoreThreshold, t.isNaN { throw .invalid("\(which): score threshold is NaN") }
            queries.append(contentsOf: distance == .cosine ? Vectors.normalized(r.vector) : r.vector)
        }
        let threads = max(1, options.searchThreads)
        // How many results each query needs from the kernels: limit + offset, never more than exist
        // (saturating: a huge limit or offset must not overflow).
        let depth = requests.map { r -> Int in
            let (sum, overflow) = r.limit.addingReportingOverflow(r.offset)
            return overflow ? Int.max : sum
        }
        h.activeSearches.add(1, ordering: .relaxed)
        defer { h.activeSearches.subtract(1, ordering: .relaxed) }
        return h.lock.withReadLock { (space.map { h.spaceMatrices[$0] } ?? h.matrix).withView { view in
            let depth = depth.map { min($0, max(1, view.count)) }
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
        } }
    }
}

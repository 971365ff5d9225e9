import Dispatch
import Foundation
import Locks
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

/// Runs each closure on its own thread and waits for all of them.
func runConcurrently(_ bodies: [@Sendable () -> Void]) {
    let group = DispatchGroup()
    for body in bodies {
        let thread = Thread {
            body()
            group.leave()
        }
        group.enter()
        thread.start()
    }
    group.wait()
}

/// `count` reader bodies for ``runConcurrently(_:)``: each calls `probe(reader)` until `done` is set and
/// records what it returns (the first 5 findings) and its first error, which ends that reader.
func readers(_ count: Int, until done: Locked<Bool>, failures: Locked<[String]>,
             _ probe: @escaping @Sendable (Int) throws -> String?) -> [@Sendable () -> Void] {
    (0..<count).map { r in
        {
            while !done.withLock({ $0 }) {
                do {
                    if let finding = try probe(r) {
                        failures.withLock { if $0.count < 5 { $0.append("reader \(r): \(finding)") } }
                    }
                } catch {
                    failures.withLock { $0.append("reader \(r): \(error)") }
                    return
                }
            }
        }
    }
}

@Suite("Store concurrency")
struct StoreConcurrencyTests {
    struct Outcomes: Sendable {
        var ok = 0
        var gone = 0
        var wrong: [String] = []
    }

    /// Readers that each spread their batches over the store's search threads, all at once: with
    /// `DispatchQueue.concurrentPerform` under the batches this corrupted the heap (glibc aborted with
    /// "unaligned fastbin/tcache chunk") in about one round in ten; 20 rounds in one process made the
    /// abort near certain. The searches now run on ``ParallelLoop``'s own threads.
    @Test("parallel readers whose batches fan out over search threads leave the heap intact")
    func parallelBatchesFanningOut() throws {
        for round in 0..<20 {
            try withStore { store, _ in
                try store.createCollection("c", dimension: 4, distance: .dot)
                try store.upsert("c", points: (0..<2020).map { i in
                    Point(id: .number(UInt64(i)), vector: i < 20 ? [1, 0, 0, 0] : [0, Float(i % 50), 1, 1], payload: ["i": .int(Int64(i))])
                })
                let wrong = Locked<[String]>([])
                let bodies: [@Sendable () -> Void] = (0..<3).map { _ in {
                    for _ in 0..<60 {
                        do {
                            let hits = try store.searchBatch("c", [SearchRequest(vector: [1, 0, 0, 0], limit: 1, withPayload: true),
                                                                   SearchRequest(vector: [0, 1, 0, 0], limit: 1, withPayload: true)])
                            if hits.map(\.count) != [1, 1] || hits[0][0].id != .number(0) {
                                wrong.withLock { $0.append("round \(round): \(hits.map { $0.map(\.id) })") }
                            }
                        } catch { wrong.withLock { $0.append("round \(round): \(error)") } }
                    }
                } }
                runConcurrently(bodies)
                #expect(wrong.withLock { $0 }.isEmpty, "\(wrong.withLock { $0.prefix(3) })")
            }
        }
    }

    /// A writer replaces a block of identical points version after version while readers search; every
    /// search sees one version whole (a consistent snapshot) and versions never go back.
    @Test("searches stay consistent while another thread upserts")
    func searchWhileUpserting() throws {
        try withStore { store, _ in
            let d = 4
            try store.createCollection("c", dimension: d, distance: .euclid)
            // Far-away background points that never win.
            try store.upsert("c", points: (0..<2000).map { i in
                Point(id: .number(UInt64(10_000 + i)), vector: [100 + Float(i % 50), 100, 100, 100])
            })
            let block = 20
            @Sendable func version(_ v: Int) -> [Point] {
                (0..<block).map { i in Point(id: .number(UInt64(i)), vector: [Float(v), 0, 0, 0], payload: ["v": .int(Int64(v))]) }
            }
            try store.upsert("c", points: version(1))
            let versions = 40
            let failures = Locked<[String]>([])
            let searches = Locked(0)
            let writerDone = Locked(false)
            var bodies: [@Sendable () -> Void] = [{
                for v in 2...versions {
                    do { try store.upsert("c", points: version(v)) } catch {
                        failures.withLock { $0.append("upsert \(v): \(error)") }
                    }
                    // Extra points arrive too: the block stays the best.
                    _ = try? store.upsert("c", points: [Point(id: .number(UInt64(50_000 + v)), vector: [500, 0, 0, 0])])
                }
                writerDone.withLock { $0 = true }
            }]
            for reader in 0..<3 {
                bodies.append {
                    var last = 0
                    var n = 0
                    while !writerDone.withLock({ $0 }) || n < 5 {
                        n += 1
                        do {
                            let hits = try store.search("c", SearchRequest(vector: [0, 0, 0, 0], limit: block + (reader == 0 ? 5 : 0), withPayload: true))
                            let top = Array(hits.prefix(block))
                            let vs = Set(top.compactMap { $0.payload?["v"] })
                            guard top.map(\.id) == (0..<block).map({ PointID.number(UInt64($0)) }), vs.count == 1,
                                case .int(let v)? = vs.first
                            else {
                                failures.withLock { $0.append("reader \(reader): inconsistent result \(top.map(\.id)) versions \(vs)") }
                                return
                            }
                            if top.contains(where: { $0.score != Float(v) }) {
                                failures.withLock { $0.append("reader \(reader): scores do not match version \(v)") }
                            }
                            if Int(v) < last { failures.withLock { $0.append("reader \(reader): version went back from \(last) to \(v)") } }
                            last = Int(v)
                            // A batch in between, on the same snapshot rules.
                            let batch = try store.searchBatch("c", [SearchRequest(vector: [0, 0, 0, 0], limit: 1, withPayload: true), SearchRequest(vector: [500, 0, 0, 0], limit: 1, withPayload: true)])
                            if batch[0].ids != [.number(0)] { failures.withLock { $0.append("reader \(reader): batch \(batch[0].ids)") } }
                        } catch {
                            failures.withLock { $0.append("reader \(reader): \(error)") }
                            return
                        }
                    }
                    searches.withLock { $0 += n }
                }
            }
            runConcurrently(bodies)
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
            #expect(searches.withLock { $0 } >= 15)
            let final = try store.search("c", SearchRequest(vector: [0, 0, 0, 0], limit: 1, withPayload: true))
            #expect(final.first?.payload?["v"] == .int(Int64(versions)))
            #expect(try store.count("c") == 2000 + block + versions - 1)
        }
    }

    /// Searches running on a collection when it is dropped finish on what they started with; later
    /// calls see that it is gone.
    @Test("dropping a collection while searches run is safe")
    func dropWhileSearching() throws {
        try withStore { store, _ in
            let d = 32
            try store.createCollection("c", dimension: d, distance: .dot)
            var rng = SplitMix64(seed: 1)
            let vectors = (0..<20_000 * d).map { _ in rng.nextSignedUnit() }
            let ids = (0..<20_000).map { PointID.number(UInt64($0)) }
            try vectors.withUnsafeBufferPointer { _ = try store.upsert("c", ids: ids, vectors: $0) }
            let query = rng.nextVector(dimension: d)
            let expected = try store.search("c", SearchRequest(vector: query, limit: 10))
            let started = Locked(0)
            let outcomes = Locked<Outcomes>(Outcomes())
            var bodies: [@Sendable () -> Void] = []
            for _ in 0..<3 {
                bodies.append {
                    while true {
                        started.withLock { $0 += 1 }
                        do {
                            let hits = try store.search("c", SearchRequest(vector: query, limit: 10))
                            if hits != expected { outcomes.withLock { $0.wrong.append("\(hits.ids)") } }
                            outcomes.withLock { $0.ok += 1 }
                        } catch let e as StoreError where e.code == .notFound {
                            outcomes.withLock { $0.gone += 1 }
                            return
                        } catch {
                            outcomes.withLock { $0.wrong.append("\(error)") }
                            return
                        }
                    }
                }
            }
            bodies.append {
                while started.withLock({ $0 }) < 6 { usleep(200) }
                do { try store.dropCollection("c") } catch { outcomes.withLock { $0.wrong.append("drop: \(error)") } }
            }
            runConcurrently(bodies)
            let o = outcomes.withLock { $0 }
            #expect(o.wrong.isEmpty, "\(o.wrong.prefix(5))")
            #expect(o.gone == 3)
            #expect(o.ok >= 3)
            #expect(try !store.collectionExists("c"))
            expectStoreError(.notFound) { try store.search("c", SearchRequest(vector: query)) }
            // A new collection of the same name is independent of the old one.
            try store.createCollection("c", dimension: 2, distance: .dot)
            #expect(try store.search("c", SearchRequest(vector: [1, 1])).isEmpty)
        }
    }

    @Test("concurrent writers and readers in one process leave a consistent store")
    func concurrentWriters() throws {
        try withStore { store, _ in
            try store.createCollection("c", dimension: 3, distance: .cosine)
            let failures = Locked<[String]>([])
            var bodies: [@Sendable () -> Void] = []
            for w in 0..<3 {
                bodies.append {
                    for i in 0..<30 {
                        let id = PointID.number(UInt64(w * 1000 + i))
                        do {
                            try store.upsert("c", points: [Point(id: id, vector: [Float(w + 1), Float(i), 1], payload: ["w": .int(Int64(w))])])
                            if i % 3 == 0 { try store.delete("c", ids: [id]) }
                            if i % 5 == 0 && i % 3 != 0 { try store.updatePayload("c", .merge(["five": true]), ids: [id]) }
                            _ = try store.search("c", SearchRequest(vector: [1, 1, 1], limit: 3))
                        } catch {
                            failures.withLock { $0.append("writer \(w): \(error)") }
                        }
                    }
                }
            }
            runConcurrently(bodies)
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
            #expect(try store.count("c") == 3 * 20)
            // What memory holds matches what a fresh reader of the database sees.
            let fresh = try Store.open(at: store.directory, options: .testing)
            defer { try? fresh.close() }
            #expect(try fresh.scroll("c", limit: 1000, withVector: true) == store.scroll("c", limit: 1000, withVector: true))
            let q: [Float] = [0.2, 1, 0.3]
            #expect(try fresh.search("c", SearchRequest(vector: q, limit: 90)) == store.search("c", SearchRequest(vector: q, limit: 90)))
            #expect(try store.count("c", filter: try Filter(json: #"{"must": {"key": "five", "match": {"value": true}}}"#)) == 3 * 4)
        }
    }
}

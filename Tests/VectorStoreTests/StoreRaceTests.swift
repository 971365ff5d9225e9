import Foundation
import Locks
import Synchronization
import Testing
import VectorStore
import _SwitchyardTestSupport

/// Races the review of the refresh logic pointed at: lazy loads racing refreshes, alias switches under
/// load, and several writers on two instances at once.
@Suite("Store races")
struct StoreRaceTests {
    @Test("a collection loaded lazily while other threads refresh ends up current")
    func lazyLoadRacesRefresh() throws {
        try withStoreDirectory { dir in
            let a = try Store.open(at: dir.path, options: .testing)
            var lazy = Store.Options.testing
            lazy.preload = false
            for round in 0..<4 {
                let name = "c\(round)"
                try a.createCollection(name, dimension: 2, distance: .dot)
                try a.upsert(name, points: (0..<200).map { Point(id: .number(UInt64($0)), vector: [Float($0), 1]) })
                let b = try Store.open(at: dir.path, options: lazy)
                let stop = Atomic<Bool>(false)
                var bodies: [@Sendable () -> Void] = []
                for _ in 0..<3 {
                    bodies.append {
                        while !stop.load(ordering: .relaxed) {
                            _ = try? b.search(name, SearchRequest(vector: [1, 0], limit: 3))
                            _ = try? b.collections()
                        }
                    }
                }
                bodies.append {
                    for i in 0..<100 {
                        _ = try? a.delete(name, ids: [.number(UInt64(i))])
                        if i % 10 == 0 { _ = try? a.createCollection("\(name)-side\(i)", dimension: 2, distance: .dot) }
                    }
                    stop.store(true, ordering: .relaxed)
                }
                runConcurrently(bodies)
                // Nothing else happens now: what b answers must be the database's state.
                #expect(try b.count(name) == 100)
                #expect(try b.search(name, SearchRequest(vector: [-1, 0], limit: 1)).first?.id == .number(100))
                try b.close()
            }
            try a.close()
        }
    }

    @Test("readers of an alias never fail or mix generations while it is switched back and forth")
    func aliasSwitchUnderLoad() throws {
        try withStore { store, _ in
            for (name, tag) in [("blue", 1), ("green", 2)] {
                try store.createCollection(name, dimension: 2, distance: .cosine)
                try store.upsert(name, points: (0..<50).map {
                    Point(id: .number(UInt64($0)), vector: [1, Float($0) / 50], payload: ["gen": .int(Int64(tag))])
                })
            }
            try store.updateAliases([.create(alias: "live", collection: "blue")])
            let problems = Locked<[String]>([])
            let reads = Locked<Int>(0)
            let stop = Atomic<Bool>(false)
            var bodies: [@Sendable () -> Void] = []
            for _ in 0..<4 {
                bodies.append {
                    while !stop.load(ordering: .relaxed) {
                        do {
                            let hits = try store.search("live", SearchRequest(vector: [1, 0.3], limit: 10, withPayload: true))
                            let gens = Set(hits.compactMap { $0.payload?["gen"] })
                            if hits.count != 10 || gens.count != 1 { problems.withLock { $0.append("mixed or short: \(gens) \(hits.count)") } }
                            reads.withLock { $0 += 1 }
                        } catch {
                            problems.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
            bodies.append {
                for i in 0..<60 {
                    let target = i % 2 == 0 ? "green" : "blue"
                    do { try store.updateAliases([.delete(alias: "live"), .create(alias: "live", collection: target)]) } catch {
                        problems.withLock { $0.append("switch: \(error)") }
                    }
                }
                stop.store(true, ordering: .relaxed)
            }
            runConcurrently(bodies)
            #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { Array($0.prefix(5)) })")
            #expect(reads.withLock { $0 } > 0)
            #expect(try store.resolve("live") == "blue")
        }
    }

    @Test("two instances writing at the same time agree with the database")
    func concurrentWritersOnTwoInstances() throws {
        try withStoreDirectory { dir in
            let a = try Store.open(at: dir.path, options: .testing)
            let b = try Store.open(at: dir.path, options: .testing)
            try a.createCollection("c", dimension: 2, distance: .euclid)
            let failures = Locked<[String]>([])
            var bodies: [@Sendable () -> Void] = []
            for (w, s) in [a, b].enumerated() {
                bodies.append {
                    for i in 0..<40 {
                        let id = PointID.number(UInt64(i % 25))
                        do {
                            if i % 4 == 3 {
                                try s.delete("c", ids: [id])
                            } else {
                                try s.upsert("c", points: [Point(id: id, vector: [Float(w), Float(i)], payload: ["w": .int(Int64(w))])])
                            }
                        } catch { failures.withLock { $0.append("\(error)") } }
                    }
                }
            }
            runConcurrently(bodies)
            #expect(failures.withLock { $0 }.isEmpty)
            let fresh = try Store.open(at: dir.path, options: .testing)
            func state(_ s: Store) throws -> [String] {
                try s.scroll("c", limit: 100, withVector: true).points.map { "\($0.id) \($0.vector!) \($0.payload!)" }
            }
            func memory(_ s: Store) throws -> [String] {
                let ids = try s.scroll("c", limit: 100).points.map(\.id)
                return try s.get("c", ids: (0..<25).map { .number(UInt64($0)) }, withVector: true, withPayload: true)
                    .map { "\($0.id) \($0.vector!) \($0.payload!)" } + ["\(ids.count)", "\(try s.count("c"))"]
            }
            #expect(try memory(a) == memory(fresh))
            #expect(try memory(b) == memory(fresh))
            #expect(try state(a) == state(fresh))
        }
    }
}

import Foundation
import Locks
import Operations
import Synchronization
import VectorStore

/// Reader threads searching a collection by text through its alias until stopped, as the demo and the
/// reindex benchmark run them beside a reindex: queries, errors, empty results, generations seen, latency.
///
/// ```swift
/// let readers = AliasReaders(service: service, collection: "docs", queries: texts)
/// readers.start(4)
/// // … reindex …
/// let tally = readers.stop()
/// ```
public final class AliasReaders: Sendable {
    /// What the readers saw.
    public struct Tally: Sendable {
        public var queries = 0
        public var errors = 0
        public var empty = 0
        /// Physical collections the alias resolved to.
        public var generations = Set<String>()
        public var firstError: String?
        /// Latencies in seconds, sorted.
        public var latencies: [Double] = []

        /// The `p`-quantile latency in milliseconds (0 without samples).
        public func percentileMilliseconds(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
        }
    }

    public let service: ReindexService
    public let collection: String
    public let queries: [String]
    /// Pause between one reader's queries, in seconds.
    public let pause: Double
    private let tally = Locked(Tally())
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)

    public init(service: ReindexService, collection: String, queries: [String], pause: Double = 0.002) {
        self.service = service
        self.collection = collection
        self.queries = queries.isEmpty ? ["query"] : queries
        self.pause = pause
    }

    /// Starts `count` reader threads (each on its own stride through the queries). Their first queries are
    /// spread evenly over one pause, so that the readers do not all query at the same instant: started
    /// together, 8 readers on 2 cores made their own first queries 4–6 ms slow, which was the p99 of a
    /// short window on its own.
    public func start(_ count: Int) {
        for r in 0..<max(0, count) {
            running.add(1, ordering: .relaxed)
            let t = Thread { [self] in
                var i = r
                var local: [Double] = []
                if pause > 0, r > 0 { Thread.sleep(forTimeInterval: pause * Double(r) / Double(count)) }
                while !stopping.load(ordering: .relaxed) {
                    let q = queries[i % queries.count]
                    i += count
                    let t0 = ContinuousClock.now
                    do {
                        let (physical, hits) = try service.search(collection, text: q, limit: 10, withPayload: false)
                        local.append((ContinuousClock.now - t0).seconds)
                        tally.withLock { t in
                            t.queries += 1
                            if hits.isEmpty { t.empty += 1 }
                            t.generations.insert(physical)
                        }
                    } catch {
                        tally.withLock { t in
                            t.errors += 1
                            if t.firstError == nil { t.firstError = "\(error)" }
                        }
                    }
                    if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                }
                tally.withLock { $0.latencies += local }
                running.subtract(1, ordering: .relaxed)
            }
            t.start()
        }
    }

    /// Stops the readers, waits for them, and returns what they saw (latencies sorted).
    public func stop() -> Tally {
        stopping.store(true, ordering: .relaxed)
        while running.load(ordering: .relaxed) > 0 { Thread.sleep(forTimeInterval: 0.005) }
        return tally.withLock { t in
            t.latencies.sort()
            return t
        }
    }
}

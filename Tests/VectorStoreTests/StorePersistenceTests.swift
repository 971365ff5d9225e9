import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

@Suite("Store persistence")
struct StorePersistenceTests {
    /// Everything observable about a store, for before/after comparisons.
    struct Snapshot: Equatable {
        var collections: [CollectionInfo]
        var aliases: [AliasInfo]
        var records: [String: [Record]]
        var searches: [String: [ScoredPoint]]
    }

    static func snapshot(_ store: Store) throws -> Snapshot {
        var records: [String: [Record]] = [:]
        var searches: [String: [ScoredPoint]] = [:]
        for c in try store.collections() {
            records[c.name] = try store.scroll(c.name, limit: 10_000, withVector: true).points
            let q = [Float](repeating: 0.5, count: c.dimension)
            searches[c.name] = try store.search(c.name, SearchRequest(vector: q, limit: 7, withVector: true))
        }
        return Snapshot(collections: try store.collections(), aliases: try store.aliases(), records: records, searches: searches)
    }

    static func populate(_ store: Store) throws {
        for (i, distance) in Distance.allCases.enumerated() {
            let name = "c-\(distance.rawValue.lowercased())"
            try store.createCollection(name, dimension: 3 + i, distance: distance)
            try store.upsert(name, points: randomPoints(50, dimension: 3 + i, seed: UInt64(i), ids: mixedIDs(50, seed: UInt64(i))))
        }
        try store.updateAliases([.create(alias: "main", collection: "c-dot"), .create(alias: "l1", collection: "c-manhattan")])
        try store.delete("c-dot", filter: try Filter(json: #"{"must": {"key": "g", "match": {"value": 0}}}"#))
        try store.updatePayload("c-euclid", .merge(["edited": true]), filter: try Filter(json: #"{"must": {"key": "tag", "match": {"value": "odd"}}}"#))
        try store.upsert("c-cosine", points: [Point(id: .number(7), vector: [0, 0, 2], payload: ["replaced": 1])])
        try store.createCollection("empty", dimension: 2, distance: .dot)
    }

    @Test("reopening finds collections, points, payloads, aliases and the same search results", arguments: [true, false])
    func reopen(preload: Bool) throws {
        try withStoreDirectory { dir in
            var options = Store.Options()  // synchronous FULL: the durable default
            options.preload = preload
            let first = try Store.open(at: dir.path, options: options)
            try Self.populate(first)
            let before = try Self.snapshot(first)
            #expect(before.collections.count == 5)
            try first.close()

            let second = try Store.open(at: dir.path, options: options)
            defer { try? second.close() }
            #expect(second.openReport.collections == 5)
            if preload {
                #expect(second.openReport.pointsLoaded["c-cosine"] == 51 || second.openReport.pointsLoaded["c-cosine"] == 50)
                #expect(second.openReport.pointsLoaded["empty"] == 0)
                #expect(second.openReport.pointsLoaded.count == 5)
            } else {
                #expect(second.openReport.pointsLoaded.isEmpty)
            }
            let after = try Self.snapshot(second)
            #expect(after == before)
            #expect(try second.get("c-cosine", ids: [.number(7)], withVector: true).first?.vector == [0, 0, 1])
            // And it keeps working after reopening.
            try second.upsert("main", points: [Point(id: .number(123_456), vector: [1, 1, 1, 1])])
            #expect(try second.count("c-dot") == before.collections.first { $0.name == "c-dot" }!.pointCount + 1)
        }
    }

    @Test("a dropped collection stays dropped after reopening; the name can be reused")
    func dropPersists() throws {
        try withStoreDirectory { dir in
            do {
                let store = try Store.open(at: dir.path, options: .testing)
                try Self.populate(store)
                try store.dropCollection("c-dot")
                try store.close()
            }
            do {
                let store = try Store.open(at: dir.path, options: .testing)
                #expect(try !store.collectionExists("c-dot"))
                #expect(try store.aliases().map { [$0.alias, $0.collection] } == [["l1", "c-manhattan"]])
                #expect(try store.collections().map(\.name) == ["c-cosine", "c-euclid", "c-manhattan", "empty"])
                #expect(try store.count("c-euclid") == 50)
                // Same name, another configuration.
                try store.createCollection("c-dot", dimension: 9, distance: .euclid)
                try store.upsert("c-dot", points: [Point(id: .number(1), vector: [Float](repeating: 1, count: 9))])
                try store.close()
            }
            let store = try Store.open(at: dir.path, options: .testing)
            defer { try? store.close() }
            let info = try store.collectionInfo("c-dot")
            #expect(info.dimension == 9 && info.distance == .euclid && info.pointCount == 1)
            #expect(try store.get("c-dot", ids: [.number(1)], withVector: true).first?.vector == [Float](repeating: 1, count: 9))
        }
    }

    /// The store's writes have the write-ahead log checkpointed (SQLite's automatic checkpoint is off, as it
    /// would run inside a commit that holds the refresh gate): the log stays short while the store grows, and
    /// what the checkpoints copied is all there after a reopen.
    @Test("writes have the log checkpointed, and it stays within four times the threshold and one commit")
    func writesCheckpointTheLog() throws {
        try withStoreDirectory { dir in
            var o = Store.Options.testing
            o.walCheckpointPages = 16
            let store = try Store.open(at: dir.path, options: o)
            try store.createCollection("c", dimension: 384, distance: .dot)
            let wal = dir.path + "/" + Store.databaseFileName + "-wal"
            var largest = 0
            for batch in 0..<60 {
                // 200 rows of 1.5 KiB: 300 KiB of rows per commit, 18 MiB in all.
                try store.upsert("c", points: Self.rows(batch: batch))
                largest = max(largest, Self.fileBytes(wal))
            }
            // Back-to-back commits keep the checkpoint thread's passes from starting the log again, but once it
            // reaches 64 frames the writer checkpoints it itself, and the next commit starts it again: at most
            // 63 frames and one commit's (each commit writes 10–15 pages with its index pages; 20 allowed), of
            // 64 KiB and a 24-byte header each, after the log's 32-byte header. Without checkpoints the log
            // holds every page written: 45 MB (checked).
            let bound = (4 * 16 + 20) * (65_536 + 24) + 32
            #expect(largest <= bound, "the write-ahead log grew to \(largest) bytes")
            try store.close()
            let reopened = try Store.open(at: dir.path, options: .testing)
            defer { try? reopened.close() }
            #expect(try reopened.count("c", filter: nil) == 12_000)
        }
    }

    @Test("a requested checkpoint copies the log into the database file on the store's own thread")
    func requestedCheckpointRunsInTheBackground() throws {
        try withStoreDirectory { dir in
            // The default threshold (1,024 pages): these writes alone ask for no checkpoint.
            let store = try Store.open(at: dir.path, options: .testing)
            try store.createCollection("c", dimension: 384, distance: .dot)
            for batch in 0..<20 { try store.upsert("c", points: Self.rows(batch: batch)) }
            let file = dir.path + "/" + Store.databaseFileName
            // In WAL mode only a checkpoint writes the database file: 6 MiB of rows are all in the log.
            #expect(Self.fileBytes(file) < 1 << 20)
            store.requestCheckpoint()
            // The request returns at once; the file fills without another call.
            let deadline = ContinuousClock.now + .seconds(60)
            while Self.fileBytes(file) < 6 << 20 && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
            #expect(Self.fileBytes(file) >= 6 << 20)
            // A waiting checkpoint after it, then more rows and another: all of them are in the file.
            try store.checkpointLog()
            for batch in 20..<30 { try store.upsert("c", points: Self.rows(batch: batch)) }
            try store.checkpointLog()
            #expect(Self.fileBytes(file) >= 9 << 20)
            try store.close()
            #expect(throws: StoreError.self) { try store.checkpointLog() }
            let reopened = try Store.open(at: dir.path, options: .testing)
            defer { try? reopened.close() }
            #expect(try reopened.count("c", filter: nil) == 6_000)
        }
    }

    /// 200 rows of 384 components, ids `batch * 200 ..< (batch + 1) * 200`.
    static func rows(batch: Int) -> [Point] {
        (0..<200).map { i in Point(id: .number(UInt64(batch * 200 + i)), vector: [Float](repeating: Float(i % 7), count: 384)) }
    }

    static func fileBytes(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test("deletes and payload updates survive a reopen, and ids above 2^53 stay exact")
    func deletesAndLargeIDs() throws {
        try withStoreDirectory { dir in
            let big: [PointID] = [.number(UInt64.max), .number((1 << 53) + 1), .number(1 << 53)]
            do {
                let store = try Store.open(at: dir.path, options: .testing)
                try store.createCollection("c", dimension: 2, distance: .manhattan)
                try store.upsert("c", points: big.enumerated().map { Point(id: $1, vector: [Float($0), 0], payload: ["n": .uint(UInt64.max)]) })
                try store.delete("c", ids: [.number(1 << 53)])
                try store.updatePayload("c", .overwrite(["n": 1.5]), ids: [.number((1 << 53) + 1)])
                try store.close()
            }
            let store = try Store.open(at: dir.path, options: .testing)
            defer { try? store.close() }
            let page = try store.scroll("c", limit: 10)
            #expect(page.points == [
                Record(id: .number((1 << 53) + 1), payload: ["n": 1.5]),
                Record(id: .number(UInt64.max), payload: ["n": .uint(UInt64.max)]),
            ])
            #expect(try store.search("c", SearchRequest(vector: [0, 0], limit: 5)).ids == [.number(UInt64.max), .number((1 << 53) + 1)])
        }
    }
}

import Foundation
import Operations
import SwitchyardJSON
import VectorStore
import _SwitchyardTestSupport

/// A managed layer on a fresh store, plus helpers to write source files and run workers quickly.
final class Harness: Sendable {
    let dir: TemporaryDirectory
    let store: Store
    let manager: CollectionManager

    init() throws {
        dir = try TemporaryDirectory(prefix: "switchyard-ops")
        var o = Store.Options()
        o.searchThreads = 1
        store = try Store.open(at: dir.appending("store"), options: o)
        manager = try CollectionManager(store: store, vectors: try BackendMatrix.vectors(for: dir.appending("store")))
    }

    /// Where the points are (the store, or the Qdrant server under `SWITCHYARD_TEST_BACKEND=qdrant`).
    var vectors: any VectorBackend { manager.vectors }

    deinit { try? store.close() }

    /// Fast worker settings: short lease, tiny retry delay, quick polling.
    static func options(faults: String? = nil, maxRetries: Int = 3) throws -> Worker.Options {
        var o = Worker.Options()
        o.lease = .seconds(2)
        o.retryDelay = .milliseconds(20)
        o.pollInterval = .milliseconds(10)
        o.maxRetries = maxRetries
        if let faults { o.faults = try FaultInjector.parse(faults) }
        return o
    }

    @discardableResult
    func work(_ options: Worker.Options? = nil) throws -> Worker.Summary {
        try Worker(manager: manager, options: options ?? Self.options()).runUntilIdle()
    }

    /// Writes `files` (relative path → text) under `name` and returns the folder.
    @discardableResult
    func writeSource(_ name: String, _ files: [String: String]) throws -> String {
        let root = dir.appending(name)
        for (rel, text) in files {
            let path = (root as NSString).appendingPathComponent(rel)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        return root
    }

    /// Every point of the collection behind `name`: (doc_id, chunk_index) → payload.
    func points(_ name: String) throws -> [PointID: Payload] {
        var out: [PointID: Payload] = [:]
        var offset: PointID?
        repeat {
            let page = try manager.vectors.scroll(name, filter: nil, limit: 500, offset: offset, withVector: false, withPayload: true)
            for r in page.points { out[r.id] = r.payload ?? [:] }
            offset = page.nextPageOffset
        } while offset != nil
        return out
    }

    /// Checks that the collection's points are exactly the chunks of its completed documents.
    func expectConsistent(_ name: String) throws -> (documents: Int, points: Int) {
        let docs = try manager.documents(of: name, status: .completed)
        let points = try points(name)
        var expected = Set<PointID>()
        for d in docs {
            for i in 0..<d.chunkCount { expected.insert(PointLayout.pointID(documentID: d.id, chunkIndex: i)) }
        }
        guard Set(points.keys) == expected else {
            throw ConsistencyError(message: "points \(points.count) vs expected \(expected.count): missing \(expected.subtracting(points.keys).count), extra \(Set(points.keys).subtracting(expected).count)")
        }
        return (docs.count, points.count)
    }
}

struct ConsistencyError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Repository paths.
enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let wordnet = root + "/Datasets/wordnet-defs"
    static let miniBEIR = root + "/Datasets/fixtures/mini-beir"
    static let tree = root + "/Datasets/fixtures/tree"
}

import ArgumentParser
import Foundation
import Switchyard

struct PointsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "points", abstract: "Upsert, read, scroll, count and delete points.",
        subcommands: [Upsert.self, Get.self, Scroll.self, Count.self, Delete.self])

    struct Upsert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Insert or replace points from a vector file.",
            discussion: """
                --vectors takes .fvecs, .npy (float32) or .jsonl. A .jsonl of objects {"id", "vector", "payload"}
                carries its own ids and payloads; for the other formats ids are --start-id, --start-id+1, …
                and --payloads may give one JSON object per line, in the same order.
                """)
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Option(help: "Vector file (.fvecs, .npy, .jsonl).") var vectors: String
        @Option(help: "JSON Lines file with one payload object per vector.") var payloads: String?
        @Option(help: "First id for files without ids.") var startId: UInt64 = 0
        @Option(help: "Points per transaction.") var batch: Int = 1000
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard batch >= 1 else { throw CLIFailure(message: "--batch must be at least 1") }
            let store = try location.open()
            var points: [Point] = []
            if try VectorFileFormat(path: vectors) == .jsonl,
               let first = try JSONLinesFile.read(vectors).first, case .object = first.value {
                points = try JSONLinesFile.readPoints(vectors)
            } else {
                let block = try readVectors(vectors)
                if block.count > 0, startId > UInt64.max - UInt64(block.count - 1) {
                    throw CLIFailure(message: "--start-id \(startId) + \(block.count) vectors runs past the largest id (\(UInt64.max))")
                }
                points = (0..<block.count).map { Point(id: .number(startId + UInt64($0)), vector: block.row($0)) }
            }
            if let payloads {
                let list = try JSONLinesFile.readPayloads(payloads)
                guard list.count == points.count else {
                    throw CLIFailure(message: "'\(payloads)' has \(list.count) payloads for \(points.count) vectors")
                }
                for i in points.indices { points[i].payload = list[i] ?? [:] }
            }
            // The whole file is checked before the first batch is written, so a bad file changes nothing.
            try store.validate(collection, points: points)
            var done = 0
            for start in stride(from: 0, to: points.count, by: batch) {
                done += try store.upsert(collection, points: Array(points[start..<min(points.count, start + batch)]))
            }
            emit(json ? JSONValue.object(["upserted": .int(Int64(done)), "status": "completed"]).jsonText : "upserted \(done) point(s)")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read points by id.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Option(help: "Comma-separated ids.") var ids: String
        @Flag(help: "Include vectors.") var withVector = false
        @Flag(help: "Leave payloads out.") var noPayload = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let records = try location.open().get(collection, ids: parseIDs(ids), withVector: withVector, withPayload: !noPayload)
            if json {
                emit(JSONValue.object(["result": .array(records.map(\.json))]).jsonText)
            } else {
                for r in records { emit(r.json.jsonText) }
            }
        }
    }

    struct Scroll: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Page through points in id order.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Option(help: "Points per page.") var limit: Int = 10
        @Option(help: "First id of the page (the previous page's next_page_offset).") var offset: String?
        @Option(help: "Qdrant filter JSON (inline or @file).") var filter: String?
        @Flag(help: "Include vectors.") var withVector = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let off = try offset.map { s -> PointID in
                guard let id = PointID(parsing: s) else { throw CLIFailure(message: "invalid --offset '\(s)'") }
                return id
            }
            let page = try location.open().scroll(collection, filter: parseFilter(filter), limit: limit, offset: off, withVector: withVector)
            if json {
                emit(JSONValue.object(["points": .array(page.points.map(\.json)), "next_page_offset": page.nextPageOffset?.json ?? .null]).jsonText)
            } else {
                for r in page.points { emit(r.json.jsonText) }
                emit("next_page_offset: \(page.nextPageOffset?.description ?? "none")")
            }
        }
    }

    struct Count: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count points (exactly), optionally matching a filter.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Option(help: "Qdrant filter JSON (inline or @file).") var filter: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let n = try location.open().count(collection, filter: parseFilter(filter))
            emit(json ? JSONValue.object(["count": .int(Int64(n))]).jsonText : String(n))
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete points by id or by filter.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Option(help: "Comma-separated ids.") var ids: String?
        @Option(help: "Qdrant filter JSON (inline or @file).") var filter: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let store = try location.open()
            let n: Int
            switch (ids, filter) {
            case (let i?, nil): n = try store.delete(collection, ids: parseIDs(i))
            case (nil, let f?): n = try store.delete(collection, filter: parseFilter(f)!)
            default: throw CLIFailure(message: "give exactly one of --ids or --filter")
            }
            emit(json ? JSONValue.object(["deleted": .int(Int64(n))]).jsonText : "deleted \(n) point(s)")
        }
    }
}

struct StoreSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Exact top-k search in a collection or alias.")
    @OptionGroup var location: StoreLocation
    @Option(help: "Collection or alias.") var collection: String
    @Option(help: "Query vector as a JSON array.") var vector: String?
    @Option(help: "File whose first vector is the query (.fvecs, .npy, .jsonl).") var vectorFile: String?
    @Option(help: "Results wanted.") var k: Int = 10
    @Option(help: "Results to skip.") var offset: Int = 0
    @Option(help: "Qdrant filter JSON (inline or @file).") var filter: String?
    @Option(help: "Only results strictly better than this score.") var scoreThreshold: Float?
    @Flag(help: "Include vectors.") var withVector = false
    @Flag(help: "Leave payloads out.") var noPayload = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let q = try parseQueryVector(inline: vector, file: vectorFile)
        let store = try location.open()
        let hits = try store.search(collection, SearchRequest(
            vector: q, limit: k, offset: offset, filter: parseFilter(filter), scoreThreshold: scoreThreshold,
            withPayload: !noPayload, withVector: withVector))
        if json {
            emit(JSONValue.object(["result": .array(hits.map(\.json))]).jsonText)
        } else {
            for h in hits { emit("\(h.id)\t\(h.score)\t\(h.payload.map { JSONValue.object($0).jsonText } ?? "")") }
        }
    }
}

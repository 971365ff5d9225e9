import ArgumentParser
import Foundation
import Switchyard

/// Options describing a managed collection's configuration.
struct CollectionConfigOptions: ParsableArguments {
    @Option(help: "Embedder spec (hash-v1, hash-v2, hash:dim=…). Default for a new collection: hash-v2.") var embedder: String?
    @Option(help: "Tokens per chunk. Default for a new collection: 600.") var chunkSize: Int?
    @Option(help: "Tokens shared by consecutive chunks. Default for a new collection: 200.") var chunkOverlap: Int?
    @Option(help: "Cosine, Dot, Euclid or Manhattan. Default: the embedder's.") var distance: String?

    func parsedDistance() throws -> Distance? {
        guard let distance else { return nil }
        guard let d = Distance(parsing: distance) else {
            throw CLIFailure(message: "unknown distance '\(distance)': use Cosine, Dot, Euclid or Manhattan")
        }
        return d
    }

    /// Refuses options that disagree with an existing collection (changing them is a reindex).
    func checkMatches(_ c: ManagedCollection) throws {
        var diffs: [String] = []
        if let embedder, embedder != c.embedder { diffs.append("--embedder \(embedder) (collection: \(c.embedder))") }
        if let chunkSize, chunkSize != c.chunkSize { diffs.append("--chunk-size \(chunkSize) (collection: \(c.chunkSize))") }
        if let chunkOverlap, chunkOverlap != c.chunkOverlap { diffs.append("--chunk-overlap \(chunkOverlap) (collection: \(c.chunkOverlap))") }
        if let d = try parsedDistance(), d != c.distance { diffs.append("--distance \(d.rawValue) (collection: \(c.distance.rawValue))") }
        if !diffs.isEmpty {
            throw CLIFailure(message: "collection '\(c.name)' is configured differently: \(diffs.joined(separator: ", ")); change its configuration with a reindex")
        }
    }
}

/// Options of the commands that enqueue an operation.
struct EnqueueOptions: ParsableArguments {
    @Option(help: "Who asks (default: $SWITCHYARD_USER, $USER or 'default').") var user: String?
    @Flag(help: "Only enqueue; a `switchyard worker` runs it.") var noWait = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var worker: WorkerSettings
}

// MARK: - collections

struct ManagedCollectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collections", abstract: "Create, list, show and delete managed collections.",
        subcommands: [Create.self, List.self, Show.self, Delete.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a managed collection and index its sources.")
        @OptionGroup var location: ManagedLocation
        @Option(help: "The collection's name; readers search it by this name (an alias).") var collection: String
        @Option(help: "A directory, text file, JSON Lines file or BEIR corpus (repeatable).") var source: [String] = []
        @Option(help: "A description.") var description: String = ""
        @Option(help: "Whose quotas it counts against (default: the user).") var owner: String?
        @OptionGroup var config: CollectionConfigOptions
        @OptionGroup var enqueue: EnqueueOptions

        func run() throws {
            let options = try enqueue.worker.options()
            let user = currentUser(enqueue.user)
            let spec = CollectionSpec(name: collection, description: description, owner: owner ?? user, embedder: config.embedder ?? "hash-v2",
                                      chunkSize: config.chunkSize ?? 600, chunkOverlap: config.chunkOverlap ?? 200, distance: try config.parsedDistance())
            try CollectionManager.validate(spec, sources: source, user: user)
            let manager = try location.open(create: true)
            let (_, op) = try manager.createCollection(spec, sources: source, user: user)
            try runInForeground(op, manager: manager, options: options, reindex: enqueue.worker.reindexSettings(), noWait: enqueue.noWait, json: enqueue.json)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List managed collections.")
        @OptionGroup var location: ManagedLocation
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let all = try location.open().collections()
            if json { emit(JSONValue.object(["collections": .array(all.map(\.json))]).jsonText); return }
            if all.isEmpty { emit("no managed collections") }
            for c in all { emit(c.line) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a managed collection: configuration, counts, sources, recent operations.")
        @OptionGroup var location: ManagedLocation
        @Option(help: "The collection's name.") var collection: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let manager = try location.open()
            let c = try manager.collection(named: collection)
            let sources = try manager.sources(of: collection)
            let ops = try manager.operations(collection: collection, limit: 5)
            if json {
                var o = c.json.objectValue ?? [:]
                o["sources"] = .array(sources.map(\.json))
                o["recent_operations"] = .array(ops.map(\.json))
                emit(JSONValue.object(o).jsonText)
                return
            }
            emit(c.line)
            emit("  id \(c.id), owner \(c.owner), \(c.dimension)-d \(c.distance.rawValue), chunks \(c.chunkSize)/\(c.chunkOverlap), \(c.totalSizeBytes) bytes")
            for s in sources { emit("  source \(s.path) (\(s.kind)): \(s.documentCount) documents, \(s.sizeBytes) bytes") }
            for op in ops { emit("  op \(op.line)") }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a managed collection: its alias, vectors and records (history stays).")
        @OptionGroup var location: ManagedLocation
        @Option(help: "The collection's name.") var collection: String
        @OptionGroup var enqueue: EnqueueOptions

        func run() throws {
            let options = try enqueue.worker.options()
            let manager = try location.open()
            let op = try manager.deleteCollection(collection, user: currentUser(enqueue.user))
            try runInForeground(op, manager: manager, options: options, reindex: enqueue.worker.reindexSettings(), noWait: enqueue.noWait, json: enqueue.json)
        }
    }
}

// MARK: - index / append / remove-source

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index sources into a managed collection (created when missing; re-indexed when its last index failed).")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name.") var collection: String
    @Option(help: "A directory, text file, JSON Lines file or BEIR corpus (repeatable).") var source: [String] = []
    @Option(help: "Whose quotas a new collection counts against (default: the user).") var owner: String?
    @OptionGroup var config: CollectionConfigOptions
    @OptionGroup var enqueue: EnqueueOptions

    func run() throws {
        let options = try enqueue.worker.options()
        let user = currentUser(enqueue.user)
        let spec = CollectionSpec(name: collection, owner: owner ?? user, embedder: config.embedder ?? "hash-v2",
                                  chunkSize: config.chunkSize ?? 600, chunkOverlap: config.chunkOverlap ?? 200, distance: try config.parsedDistance())
        guard !source.isEmpty || FileManager.default.fileExists(atPath: (location.store as NSString).appendingPathComponent(Store.databaseFileName)) else {
            throw CLIFailure(message: "index needs at least one --source")
        }
        if !source.isEmpty { try CollectionManager.validate(spec, sources: source, user: user) }
        let manager = try location.open(create: true)
        let op: OperationRecord
        if let existing = try? manager.collection(named: collection) {
            try config.checkMatches(existing)
            op = try manager.reindexFromSources(collection, sources: source, user: user)
        } else {
            guard !source.isEmpty else { throw CLIFailure(message: "index needs at least one --source") }
            op = try manager.createCollection(spec, sources: source, user: user).operation
        }
        try runInForeground(op, manager: manager, options: options, reindex: enqueue.worker.reindexSettings(), noWait: enqueue.noWait, json: enqueue.json)
    }
}

struct AppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append", abstract: "Add a source to a managed collection: new documents indexed, unchanged ones skipped, changed files replaced.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name.") var collection: String
    @Option(help: "A directory, text file, JSON Lines file or BEIR corpus.") var source: String
    @OptionGroup var config: CollectionConfigOptions
    @OptionGroup var enqueue: EnqueueOptions

    func run() throws {
        let options = try enqueue.worker.options()
        let manager = try location.open()
        try config.checkMatches(try manager.collection(named: collection))
        let op = try manager.append(collection, source: source, user: currentUser(enqueue.user))
        try runInForeground(op, manager: manager, options: options, reindex: enqueue.worker.reindexSettings(), noWait: enqueue.noWait, json: enqueue.json)
    }
}

struct RemoveSourceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-source", abstract: "Remove a source from a managed collection: its points deleted, its documents marked deleted.")
    @OptionGroup var location: ManagedLocation
    @Option(help: "The collection's name.") var collection: String
    @Option(help: "The source path, as registered (see `collections show`).") var source: String
    @OptionGroup var enqueue: EnqueueOptions

    func run() throws {
        let options = try enqueue.worker.options()
        let manager = try location.open()
        let op = try manager.removeSource(collection, source: source, user: currentUser(enqueue.user))
        try runInForeground(op, manager: manager, options: options, reindex: enqueue.worker.reindexSettings(), noWait: enqueue.noWait, json: enqueue.json)
    }
}

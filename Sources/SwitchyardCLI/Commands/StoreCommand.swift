import ArgumentParser
import Foundation
import Switchyard

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Low-level, Qdrant-style access to a store's physical collections, aliases and points.",
        subcommands: [CollectionsCommand.self, AliasesCommand.self, PointsCommand.self, StoreSearchCommand.self]
    )
}

// MARK: - collections

struct CollectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collections", abstract: "Create, list, describe and drop physical collections.",
        subcommands: [Create.self, List.self, Info.self, Drop.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an empty collection.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection name (\(Names.rule)).") var name: String
        @Option(help: "Vector dimension.") var dim: Int
        @Option(help: "Cosine, Dot, Euclid or Manhattan.") var distance: String = "Cosine"
        @Option(help: "Scalar quantization: int8 (searches scan an int8 copy, then rescore with the float vectors).") var quantization: String?
        @Option(help: "With --quantization: the share of values kept unclipped, 0.5 to 1.") var quantile: Double?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let d = Distance(parsing: distance) else {
                throw CLIFailure(message: "unknown distance '\(distance)': use Cosine, Dot, Euclid or Manhattan")
            }
            let q = try Self.quantization(quantization, quantile: quantile)
            let info = try location.open(create: true).createCollection(name, dimension: dim, distance: d, quantization: q)
            let scalar = info.quantization.map { ", int8 quantization at quantile \($0.quantile)" } ?? ""
            emit(json ? info.json.jsonText : "created collection '\(info.name)' (dimension \(info.dimension), \(info.distance.rawValue)\(scalar))")
        }

        /// `--quantization int8 [--quantile Q]`, checked before anything is written.
        static func quantization(_ kind: String?, quantile: Double?) throws -> ScalarQuantization? {
            guard let kind else {
                if quantile != nil { throw CLIFailure(message: "--quantile needs --quantization int8") }
                return nil
            }
            guard kind.lowercased() == "int8" || kind.lowercased() == "scalar" else {
                throw CLIFailure(message: "unknown quantization '\(kind)': use int8")
            }
            let q = ScalarQuantization(quantile: quantile ?? 0.99)
            do { try q.validate() } catch { throw CLIFailure(message: "--quantile: \(error.message)") }
            return q
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List collections.")
        @OptionGroup var location: StoreLocation
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let all = try location.open().collections()
            if json {
                emit(JSONValue.object(["collections": .array(all.map(\.json))]).jsonText)
            } else if all.isEmpty {
                emit("no collections")
            } else {
                for c in all {
                    let aliases = c.aliases.isEmpty ? "" : "  aliases: \(c.aliases.joined(separator: ", "))"
                    emit("\(c.name)  dim=\(c.dimension)  \(c.distance.rawValue)  points=\(c.pointCount)\(aliases)")
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a collection's configuration and size.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection or alias.") var collection: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let info = try location.open().collectionInfo(collection)
            emit(json ? info.json.prettyJSONText : """
                name: \(info.name)
                dimension: \(info.dimension)
                distance: \(info.distance.rawValue)
                quantization: \(info.quantization.map { "int8, quantile \($0.quantile)" } ?? "none")
                points: \(info.pointCount)
                aliases: \(info.aliases.isEmpty ? "-" : info.aliases.joined(separator: ", "))
                """)
        }
    }

    struct Drop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop a collection, its points and its aliases.")
        @OptionGroup var location: StoreLocation
        @Option(help: "Collection name (not an alias).") var collection: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try location.open().dropCollection(collection)
            emit(json ? JSONValue.object(["dropped": .string(collection)]).jsonText : "dropped collection '\(collection)'")
        }
    }
}

// MARK: - aliases

struct AliasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aliases", abstract: "Switch and list aliases.", subcommands: [Update.self, List.self])

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a batch of alias actions atomically (all or nothing).",
            discussion: """
                All actions apply in one transaction, all or nothing, in this order: first the --actions list
                (Qdrant's JSON: '[{"create_alias": {"alias_name": "a", "collection_name": "c"}}, ...]', applied in
                its own order), then every --delete, then every --rename, then every --create:
                  --delete ALIAS              delete an alias
                  --rename OLD=NEW            rename an alias
                  --create ALIAS=COLLECTION   create or re-point an alias
                """)
        @OptionGroup var location: StoreLocation
        @Option(help: "Create or re-point ALIAS=COLLECTION.") var create: [String] = []
        @Option(help: "Delete ALIAS.") var delete: [String] = []
        @Option(help: "Rename OLD=NEW.") var rename: [String] = []
        @Option(help: "Qdrant-style JSON list of actions (inline or @file).") var actions: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            var list: [AliasAction] = []
            if let actions {
                var text = actions
                if actions.hasPrefix("@") {
                    guard let data = FileManager.default.contents(atPath: String(actions.dropFirst())) else {
                        throw CLIFailure(message: "cannot read actions file '\(actions.dropFirst())'")
                    }
                    text = String(decoding: data, as: UTF8.self)
                }
                list = try parseQdrantAliasActions(text)
            }
            // Deletes, then renames, then creates: the order a blue-green switch needs.
            for d in delete { list.append(.delete(alias: d)) }
            for r in rename {
                let p = r.split(separator: "=", maxSplits: 1).map(String.init)
                guard p.count == 2 else { throw CLIFailure(message: "--rename expects OLD=NEW, got '\(r)'") }
                list.append(.rename(from: p[0], to: p[1]))
            }
            for c in create {
                let p = c.split(separator: "=", maxSplits: 1).map(String.init)
                guard p.count == 2 else { throw CLIFailure(message: "--create expects ALIAS=COLLECTION, got '\(c)'") }
                list.append(.create(alias: p[0], collection: p[1]))
            }
            guard !list.isEmpty else { throw CLIFailure(message: "no alias actions given (use --create, --delete, --rename or --actions)") }
            let store = try location.open(create: false)
            try store.updateAliases(list)
            let now = try store.aliases()
            emit(json ? JSONValue.object(["applied": .int(Int64(list.count)), "aliases": .array(now.map { ["alias": .string($0.alias), "collection": .string($0.collection)] })]).jsonText
                 : "applied \(list.count) alias action(s)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List aliases.")
        @OptionGroup var location: StoreLocation
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let all = try location.open().aliases()
            if json {
                emit(JSONValue.object(["aliases": .array(all.map { ["alias": .string($0.alias), "collection": .string($0.collection)] })]).jsonText)
            } else if all.isEmpty {
                emit("no aliases")
            } else {
                for a in all { emit("\(a.alias) -> \(a.collection)") }
            }
        }
    }
}

/// Parses Qdrant's `actions` list: `create_alias`, `delete_alias`, `rename_alias`.
func parseQdrantAliasActions(_ text: String) throws -> [AliasAction] {
    let value: JSONValue
    do { value = try JSONParser.parse(text) } catch { throw CLIFailure(message: "--actions: \(error)") }
    let list: [JSONValue]
    if case .array(let a) = value { list = a } else if case .array(let a)? = value["actions"] { list = a } else {
        throw CLIFailure(message: "--actions must be a JSON array of actions")
    }
    return try list.enumerated().map { i, v in
        if let c = v["create_alias"], case .string(let a)? = c["alias_name"], case .string(let n)? = c["collection_name"] {
            return .create(alias: a, collection: n)
        }
        if let d = v["delete_alias"], case .string(let a)? = d["alias_name"] { return .delete(alias: a) }
        if let r = v["rename_alias"], case .string(let o)? = r["old_alias_name"], case .string(let n)? = r["new_alias_name"] {
            return .rename(from: o, to: n)
        }
        throw CLIFailure(message: "--actions[\(i)]: expected create_alias {alias_name, collection_name}, delete_alias {alias_name} or rename_alias {old_alias_name, new_alias_name}")
    }
}

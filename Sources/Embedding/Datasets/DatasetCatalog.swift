import Foundation

/// The text datasets bundled under `Datasets/` (BEIR layout: `corpus.jsonl`, `queries.jsonl`,
/// `qrels/test.tsv`, plus a `README.md` with `Source:` and `License:` lines).
public struct DatasetCatalog: Sendable {
    /// The folder holding one sub-folder per dataset.
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// The bundled datasets' folder of this source tree (found from this file's location at build time),
    /// or `$SWITCHYARD_DATASETS` when set.
    public static var defaultRoot: String {
        if let env = ProcessInfo.processInfo.environment["SWITCHYARD_DATASETS"] { return env }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Datasets").path
    }

    /// Facts about one dataset.
    public struct Info: Sendable, Equatable {
        public var name: String
        public var path: String
        public var documents: Int
        public var queries: Int
        public var judgements: Int
        public var bytes: Int
        public var source: String?
        public var license: String?
    }

    /// Names of the datasets (folders with a `corpus.jsonl`), sorted.
    public func names() -> [String] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        return entries.filter { fm.fileExists(atPath: (root as NSString).appendingPathComponent("\($0)/corpus.jsonl")) }.sorted()
    }

    /// The folder of dataset `name`.
    ///
    /// - Throws: ``EmbeddingError`` (`invalidInput`) naming the known datasets when there is no such dataset.
    public func path(of name: String) throws(EmbeddingError) -> String {
        guard names().contains(name) else {
            let known = names()
            throw EmbeddingError(.invalidInput, "no dataset '\(name)' in \(root) (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        return (root as NSString).appendingPathComponent(name)
    }

    /// Counts, size and provenance of dataset `name`.
    public func info(_ name: String) throws(EmbeddingError) -> Info {
        let dir = try path(of: name)
        func lines(_ file: String) -> Int {
            guard let data = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent(file)) else { return 0 }
            return data.split(separator: UInt8(ascii: "\n")).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0d } }.count
        }
        var judgements = lines("qrels/test.tsv")
        if let qrels = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent("qrels/test.tsv")),
           String(decoding: qrels.prefix(64), as: UTF8.self).hasPrefix("query-id") {
            judgements -= 1
        }
        var bytes = 0
        if let e = FileManager.default.enumerator(atPath: dir) {
            for case let f as String in e {
                let a = try? FileManager.default.attributesOfItem(atPath: (dir as NSString).appendingPathComponent(f))
                if (a?[.type] as? FileAttributeType) == .typeRegular { bytes += (a?[.size] as? NSNumber)?.intValue ?? 0 }
            }
        }
        let readme = (try? String(contentsOfFile: (dir as NSString).appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
        func field(_ key: String) -> String? {
            for line in readme.split(separator: "\n") {
                let t = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "**", with: "")
                for prefix in ["\(key):", "- \(key):"] where t.hasPrefix(prefix) {
                    return String(t.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        return Info(name: name, path: dir, documents: lines("corpus.jsonl"), queries: lines("queries.jsonl"),
                    judgements: judgements, bytes: bytes, source: field("Source"), license: field("License"))
    }
}

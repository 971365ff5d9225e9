import Foundation
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

/// `switchyard metrics` and the worker's `/metrics`, read by Prometheus's reference text parser.
@Suite("Prometheus metrics through the CLI")
struct MetricsCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let script = root + "/Tests/IntegrationTests/Scripts/parse_metrics.py"

    /// A Python that has the reference parser: Debian's (where `apt-get install python3-prometheus-client`,
    /// the README's setup line, puts it), else the first `python3` on the PATH.
    static let python: String? = ["/usr/bin/python3", "python3"].first { candidate in
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [candidate, "-c", "import prometheus_client"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? CLI.launching({ try p.run() })) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Parsed families: name → (type, samples).
    static func parse(_ source: String) throws -> [String: JSONValue] {
        let python = try #require(python, "no Python with prometheus_client: apt-get install -y python3-prometheus-client")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, script, source]
        let (out, err) = try CLI.launching { () throws -> (Pipe, Pipe) in
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            return (out, err)
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(p.terminationStatus == 0, "the reference parser failed: \(message)")
        return try #require(try JSONParser.parse(String(decoding: data, as: UTF8.self)).objectValue)
    }

    static func labels(_ families: [String: JSONValue], _ name: String) -> [[String: JSONValue]] {
        (families[name]?.objectValue?["samples"]?.arrayValue ?? []).compactMap { $0.arrayValue?[1].objectValue }
    }

    @Test func storeMetricsParseWithNamesTypesLabelsAndBuckets() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = Self.root + "/Datasets/fixtures/mini-beir"
            let demo = try CLI.run(["demo", "--dir", store, "--dataset", mini, "--readers", "1"])
            #expect(demo.status == 0, "\(demo.stderr)")
            let text = try CLI.run(["metrics", "--store", store])
            #expect(text.status == 0)
            try text.stdout.write(toFile: dir.appending("m.txt"), atomically: true, encoding: .utf8)
            let f = try Self.parse(dir.appending("m.txt"))
            // The parser drops a counter's `_total` suffix from the family name.
            let expected: [(String, String, [String])] = [
                ("switchyard_collection_operations", "counter", ["operation_type", "status", "collection_id"]),
                ("switchyard_collection_operation_duration_seconds", "histogram", ["operation_type", "collection_id"]),
                ("switchyard_collections_total", "gauge", ["status"]),
                ("switchyard_collection_documents_total", "gauge", ["collection_id", "collection"]),
                ("switchyard_collection_vectors_total", "gauge", ["collection_id", "collection"]),
                ("switchyard_collection_size_bytes", "gauge", ["collection_id", "collection"]),
                ("switchyard_reindex_checkpoints", "counter", ["checkpoint"]),
                ("switchyard_reindex_switch_duration_seconds", "histogram", []),
                ("switchyard_reindex_validation_duration_seconds", "histogram", []),
                ("switchyard_collection_memory_usage_bytes", "gauge", ["operation_type"]),
                ("switchyard_collection_cpu_seconds", "counter", ["operation_type"]),
                ("switchyard_documents_processed", "counter", ["operation_type", "status", "collection_id"]),
                ("switchyard_document_processing_duration_seconds", "histogram", ["operation_type", "collection_id"]),
                ("switchyard_operation_queue_size", "gauge", ["operation_type"]),
                ("switchyard_operation_queue_wait_time_seconds", "histogram", ["operation_type"]),
            ]
            for (name, type, keys) in expected {
                #expect(f[name]?.objectValue?["type"]?.stringValue == type, "\(name) should be a \(type)")
                for l in Self.labels(f, name) {
                    let own = Set(l.keys).subtracting(["le"])
                    #expect(own == Set(keys), "\(name) labels \(own)")
                }
            }
            let ops = f["switchyard_collection_operations"]?.objectValue?["samples"]?.arrayValue ?? []
            let docsID = Self.labels(f, "switchyard_collection_documents_total").first { $0["collection"] == "docs" }?["collection_id"]
            #expect(docsID != nil)
            #expect(ops.contains {
                $0.arrayValue?[1] == .object(["operation_type": "reindex", "status": "completed", "collection_id": docsID ?? .null]) && $0.arrayValue?[2].numberValue == 1
            })
            // One observation per document of the mini corpus (6) for each of the demo's INDEX and REINDEX.
            let counts = (f["switchyard_document_processing_duration_seconds"]?.objectValue?["samples"]?.arrayValue ?? []).filter {
                $0.arrayValue?[0].stringValue == "switchyard_document_processing_duration_seconds_count"
            }
            #expect(counts.compactMap { $0.arrayValue?[2].numberValue } == [6, 6], "\(counts)")
            let checkpoints = Set(Self.labels(f, "switchyard_reindex_checkpoints").compactMap { $0["checkpoint"]?.stringValue })
            #expect(checkpoints == ["preflight", "staging", "reprocessing", "validation", "switch", "cleanup"])
            // Buckets as specified.
            let les = Self.labels(f, "switchyard_reindex_switch_duration_seconds").compactMap { $0["le"]?.stringValue }
            #expect(les == ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1.0", "+Inf"])
            let opLes = Set(Self.labels(f, "switchyard_collection_operation_duration_seconds").compactMap { $0["le"]?.stringValue })
            #expect(opLes == ["1.0", "5.0", "10.0", "30.0", "60.0", "300.0", "600.0", "1800.0", "3600.0", "7200.0", "+Inf"])
        }
    }

    @Test func workerServesMetricsWhileItRuns() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let mini = Self.root + "/Datasets/fixtures/mini-beir"
            let q = try CLI.run(["index", "--store", store, "--collection", "docs", "--source", mini, "--no-wait"])
            #expect(q.status == 0, "\(q.stderr)")
            let worker = try CLI.start(["worker", "--store", store, "--metrics-port", "0"], outputFile: dir.appending("w.out"), errorFile: dir.appending("w.err"))
            defer { if worker.isRunning { worker.terminate() } }
            var port: String?
            let deadline = Date().addingTimeInterval(30)
            while port == nil && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.05)
                let err = readGrowingFile(dir.appending("w.err"))
                if let r = err.range(of: #"127\.0\.0\.1:(\d+)/metrics"#, options: .regularExpression) {
                    port = String(err[r].dropFirst("127.0.0.1:".count).dropLast("/metrics".count))
                }
            }
            let p = try #require(port)
            // Wait for the INDEX to finish, then scrape.
            var families: [String: JSONValue] = [:]
            while Date() < deadline {
                families = try Self.parse("http://127.0.0.1:\(p)/metrics")
                let done = families["switchyard_collection_operations"]?.objectValue?["samples"]?.arrayValue ?? []
                if done.contains(where: { $0.arrayValue?[1].objectValue?["operation_type"] == "index" && $0.arrayValue?[1].objectValue?["status"] == "completed" }) { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(Self.labels(families, "switchyard_collection_documents_total").contains { $0["collection"] == "docs" })
            // The store's own metrics come from the process that holds the vectors: this worker only with the embedded store.
            if TestBackend.current == .embedded {
                #expect(families["switchyard_store_operations"]?.objectValue?["type"] == "counter")
                #expect(Self.labels(families, "switchyard_points_upserted").contains { $0["collection"] != nil })
                #expect(families["switchyard_store_operation_duration_seconds"]?.objectValue?["type"] == "histogram")
            }
            worker.terminate()  // SIGTERM: the worker stops after its running attempts
            let stopBy = Date().addingTimeInterval(20)
            while worker.isRunning && Date() < stopBy { Thread.sleep(forTimeInterval: 0.05) }
            if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
            worker.waitUntilExit()
            #expect(worker.terminationReason == .exit && worker.terminationStatus == 0, "the worker must stop on SIGTERM")
        }
    }
}

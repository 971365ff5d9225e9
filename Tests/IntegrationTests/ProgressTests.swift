import Foundation
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

/// Progress of long work on standard error: in place on a terminal (a pseudo-terminal here, through util-linux
/// `script`), one line per step otherwise, never on standard output and never with `--json`; and `ops watch`
/// following an operation that a worker in another process runs.
@Suite("Progress on standard error")
struct ProgressTests {
    static let wordnet = ReindexCLITests.wordnet

    /// Runs `switchyard args…` with its standard streams on a pseudo-terminal; returns what the terminal showed.
    static func underPTY(_ args: [String], environment: [String: String]) throws -> (status: Int32, screen: String) {
        let command = ([CLI.executable] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qefc", command, "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in try BackendMatrix.environment(for: args) { env[k] = v }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = try CLI.launching { () throws -> Pipe in
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            return out
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Off a terminal a reindex's progress is one line per checkpoint, none redrawn; returns the lines.
    @discardableResult
    static func expectOneLinePerCheckpoint(_ stderr: String) -> [String] {
        #expect(!stderr.contains("\r"))
        let lines = stderr.split(separator: "\n").map(String.init)
        for stage in ["preflight", "staging", "reprocessing", "validation", "switch", "cleanup"] {
            #expect(lines.filter { $0.contains("running \(stage) (") }.count == 1, "\(stage): \(stderr)")
        }
        return lines
    }

    @Test("on a terminal: one line redrawn in place, with done/total, rate and time left")
    func inPlaceOnATerminal() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is needed for a pseudo-terminal")
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let r = try Self.underPTY(["index", "--store", store, "--collection", "defs", "--source", Self.wordnet, "--embedder", "hash-v1"],
                                      environment: ["SWITCHYARD_FAULTS": "ingest.batch=sleep:0.04"])
            #expect(r.status == 0, "\(r.screen)")
            let redraws = r.screen.components(separatedBy: "\r\u{1B}[2K").count - 1
            #expect(redraws >= 3, "\(redraws) redraws")
            #expect(r.screen.contains("index defs: processing"), "\(r.screen.suffix(400))")
            #expect(r.screen.contains("/6000 "), "\(r.screen.suffix(400))")
            #expect(r.screen.contains("/s, ETA "), "\(r.screen.suffix(400))")
            #expect(r.screen.contains("index defs: completed"))
        }
    }

    @Test("not on a terminal: one line per step on stderr, none on stdout, none at all with --json")
    func linesPerStepOtherwise() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try ReindexCLITests.corpus(dir, count: 300)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let r = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--grace-seconds", "0"],
                                environment: ["SWITCHYARD_FAULTS": "reindex.batch=sleep:0.05"])
            #expect(r.status == 0, "\(r.stderr)")
            let lines = Self.expectOneLinePerCheckpoint(r.stderr)
            #expect(lines.last?.hasPrefix("reindex c: completed") == true, "\(r.stderr)")
            #expect(!r.stdout.contains("running "), "progress on stdout: \(r.stdout)")
            let quiet = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v1", "--grace-seconds", "0", "--json"])
            #expect(quiet.status == 0, "\(quiet.stderr)")
            #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
            #expect(try JSONParser.parse(quiet.stdout).objectValue?["status"] == "completed")
        }
    }

    @Test("ops watch follows a reindex that a worker in another process runs, and exits with its outcome")
    func watchAnotherProcess() throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let source = try ReindexCLITests.corpus(dir, count: 300)
            #expect(try CLI.run(["index", "--store", store, "--collection", "c", "--source", source, "--embedder", "hash-v1"]).status == 0)
            let q = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v2", "--no-wait", "--json"])
            let id = try #require(try JSONParser.parse(q.stdout).objectValue?["id"]?.stringValue)
            let worker = try CLI.start(["worker", "--store", store, "--until-idle", "--grace-seconds", "0"], outputFile: dir.appending("w.out"),
                                       environment: ["SWITCHYARD_FAULTS": "reindex.batch=sleep:0.05"])
            let watch = try CLI.run(["ops", "watch", id, "--store", store])
            worker.waitUntilExit()
            #expect(watch.status == 0, "\(watch.stderr)")
            #expect(watch.stderr.contains("running reprocessing ("), "\(watch.stderr)")
            #expect(watch.stderr.contains("reindex c: completed"), "\(watch.stderr)")
            #expect(watch.stdout.hasPrefix("reindex c: completed"), "\(watch.stdout)")
            // A failed operation: exit 1 with its error.
            let bad = try CLI.run(["reindex", "--store", store, "--collection", "c", "--embedder", "hash-v1", "--no-wait", "--json"])
            let badID = try #require(try JSONParser.parse(bad.stdout).objectValue?["id"]?.stringValue)
            let run = try CLI.start(["worker", "--store", store, "--until-idle", "--max-retries", "0"], outputFile: dir.appending("w2.out"),
                                    environment: ["SWITCHYARD_FAULTS": "reindex.validation=invalid"])
            let failed = try CLI.run(["ops", "watch", badID, "--store", store, "--json"])
            run.waitUntilExit()
            #expect(failed.status == 1, "\(failed.stderr)")
            #expect(try JSONParser.parse(failed.stdout).objectValue?["status"] == "failed")
            #expect(try CLI.run(["ops", "watch", "nonexistent-id", "--store", store]).status == 2)
        }
    }

    @Test("a worker shows the progress of what it runs: in place on a terminal, one line per step otherwise, none with --json")
    func workerProgress() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is needed for a pseudo-terminal")
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let q = try CLI.run(["index", "--store", store, "--collection", "defs", "--source", Self.wordnet, "--embedder", "hash-v1", "--no-wait"])
            #expect(q.status == 0, "\(q.stderr)")
            let tty = try Self.underPTY(["worker", "--store", store, "--until-idle"], environment: ["SWITCHYARD_FAULTS": "ingest.batch=sleep:0.04"])
            #expect(tty.status == 0, "\(tty.screen)")
            let redraws = tty.screen.components(separatedBy: "\r\u{1B}[2K").count - 1
            #expect(redraws >= 3, "\(redraws) redraws")
            #expect(tty.screen.contains("index defs: processing") && tty.screen.contains("/6000 "), "\(tty.screen.suffix(400))")
            #expect(tty.screen.contains("index defs: completed") && tty.screen.contains("worker done: completed 1"))

            // Not a terminal: the reindex's checkpoints, one line each, and nothing on stdout.
            let r = try CLI.run(["reindex", "--store", store, "--collection", "defs", "--embedder", "hash-v2", "--no-wait"])
            #expect(r.status == 0, "\(r.stderr)")
            let plain = try CLI.run(["worker", "--store", store, "--until-idle", "--grace-seconds", "0"],
                                    environment: ["SWITCHYARD_FAULTS": "reindex.batch=sleep:0.02"])
            #expect(plain.status == 0, "\(plain.stderr)")
            let lines = Self.expectOneLinePerCheckpoint(plain.stderr)
            #expect(lines.contains { $0.hasPrefix("reindex defs: completed") }, "\(plain.stderr)")
            #expect(!plain.stdout.contains("running "), "progress on stdout: \(plain.stdout)")

            _ = try CLI.run(["reindex", "--store", store, "--collection", "defs", "--embedder", "hash-v1", "--no-wait"])
            let quiet = try CLI.run(["worker", "--store", store, "--until-idle", "--grace-seconds", "0", "--json"])
            #expect(quiet.status == 0 && !quiet.stderr.contains("reindex defs"), "\(quiet.stderr)")
        }
    }

    @Test("benchmarks show their steps: in place with done/total, rate and time left on a terminal, one line per step otherwise")
    func benchProgress() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is needed for a pseudo-terminal")
        let tty = try Self.underPTY(["bench", "append", "--repeats", "1"], environment: ["SWITCHYARD_FAULTS": "ingest.batch=sleep:0.02"])
        #expect(tty.status == 0, "\(tty.screen)")
        let redraws = tty.screen.components(separatedBy: "\r\u{1B}[2K").count - 1
        #expect(redraws >= 3, "\(redraws) redraws")
        #expect(tty.screen.contains("run 1/1: append (") && tty.screen.contains("/6000 ") && tty.screen.contains("/s, ETA "), "\(tty.screen.suffix(400))")
        #expect(tty.screen.contains("run 1: 6000 documents"))

        let plain = try CLI.run(["bench", "embed", "--repeats", "2"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stderr.contains("\r") && plain.stderr.split(separator: "\n").count == 1, "\(plain.stderr)")
        #expect(plain.stderr.hasPrefix("embedding ") && plain.stdout.contains(" MB/s"), "\(plain.stderr)")
        let quiet = try CLI.run(["bench", "embed", "--repeats", "1", "--json"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
    }
}

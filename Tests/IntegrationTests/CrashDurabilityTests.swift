import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

/// A writer process killed with SIGKILL loses nothing it acknowledged, and no batch is half-visible.
@Suite("Crash durability (real processes, SIGKILL)")
struct CrashDurabilityTests {
    @Test("every acknowledged batch survives SIGKILL whole", arguments: [0, 1, 2, 3, 4])
    func killDuringWrites(trial: Int) throws {
        try withTemporaryDirectory { dir in
            let store = dir.appending("store")
            let out = dir.appending("acks.txt")
            let batchSize = 50
            // Create the collection first so the writer is writing from its first moments.
            try CLI.run(["store", "collections", "create", "--store", store, "--name", "c", "--dim", "8", "--distance", "Dot"])
            let child = try CLI.start(
                ["debug", "write-loop", "--store", store, "--collection", "c", "--batches", "100000",
                 "--batch-size", String(batchSize), "--dim", "8"], outputFile: out)
            var rng = SplitMix64(seed: UInt64(1234 + trial))
            // Wait until some batches are acknowledged, then a random extra delay, then kill.
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let text = readGrowingFile(out)
                if text.components(separatedBy: "\n").count > 3 { break }
                usleep(5_000)
            }
            usleep(UInt32(20_000 + Int(rng.next() % 300_000)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)

            let text = try String(contentsOfFile: out, encoding: .utf8)
            let acked = text.split(separator: "\n", omittingEmptySubsequences: true)
                .filter { text.contains($0 + "\n") }
                .compactMap { $0.hasPrefix("ack ") ? Int($0.dropFirst(4)) : nil }
            try #require(!acked.isEmpty, "the writer acknowledged nothing before it was killed")
            #expect(acked == Array(0..<acked.count), "acks arrive in order")

            let s = try Store.open(at: store)
            #expect(s.openReport.collections == 1)
            let total = try s.count("c")
            // Every acknowledged batch is there, whole.
            for b in acked {
                let f = try Filter(json: #"{"must": [{"key": "batch", "match": {"value": \#(b)}}]}"#)
                #expect(try s.count("c", filter: f) == batchSize, "batch \(b) incomplete")
            }
            // Anything beyond the acknowledged batches is at most one whole batch committed before its ack was printed.
            #expect(total == acked.count * batchSize || total == (acked.count + 1) * batchSize,
                    "found \(total) points for \(acked.count) acknowledged batches of \(batchSize): a batch is half-visible")
            // Vectors read back exactly as written.
            let last = acked.last!
            let rec = try s.get("c", ids: [.number(UInt64(last * batchSize))], withVector: true)
            #expect(rec.first?.vector == (0..<8).map { Float(last) + Float($0) / 100 })
        }
    }
}

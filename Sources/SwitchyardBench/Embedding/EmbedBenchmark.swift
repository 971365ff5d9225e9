import Embedding
import Foundation
import SwitchyardJSON
import VectorMath

/// Embedding throughput: texts/s (and tokens/s and GFLOP/s for a model embedder) at each thread count,
/// the best of several passes, beside what BLAS `sgemm` reaches on the model's largest product.
///
/// ```swift
/// let r = try EmbedBenchmark.run(spec: "minilm", texts: texts, threads: [1, 2], repeats: 2)
/// ```
public enum EmbedBenchmark {
    /// One thread count's result.
    public struct Row: Sendable {
        public var threads: Int
        public var seconds: Double
        public var textsPerSecond: Double
        /// Tokens per second (model embedders), counting `[CLS]` and `[SEP]`.
        public var tokensPerSecond: Double?
        /// The model's multiply-adds × 2 per second.
        public var gflops: Double?
        /// `sgemm`'s GFLOP/s on the feed-forward product's shape with as many threads.
        public var sgemmGflops: Double?
        /// ``gflops`` / ``sgemmGflops``.
        public var fractionOfSgemm: Double? {
            guard let g = gflops, let c = sgemmGflops, c > 0 else { return nil }
            return g / c
        }

        /// Megabytes (10⁶ bytes) of UTF-8 text per second.
        public var megabytesPerSecond: Double

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "threads": .int(Int64(threads)), "seconds": .double(seconds), "texts_per_s": .double(textsPerSecond),
                "mb_per_s": .double(megabytesPerSecond),
            ]
            if let t = tokensPerSecond { o["tokens_per_s"] = .double(t) }
            if let g = gflops { o["gflops"] = .double(g) }
            if let c = sgemmGflops { o["sgemm_gflops"] = .double(c) }
            if let f = fractionOfSgemm { o["fraction_of_sgemm"] = .double(f) }
            return .object(o)
        }
    }

    /// The whole run.
    public struct Result: Sendable {
        public var embedder: String
        public var texts: Int
        public var bytes: Int
        /// Token count of all texts (model embedders).
        public var tokens: Int?
        public var rows: [Row]

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "embedder": .string(embedder), "texts": .int(Int64(texts)), "bytes": .int(Int64(bytes)),
                "results": .array(rows.map(\.json)), "blas": .string(BLASRuntime.name),
            ]
            if let t = tokens { o["tokens"] = .int(Int64(t)) }
            // The first thread count's figures at the top, as before there were several.
            if let first = rows.first {
                o["seconds"] = .double(first.seconds)
                o["mb_per_s"] = .double(first.megabytesPerSecond)
            }
            return .object(o)
        }
    }

    /// Embeds `texts` `repeats` times with each thread count and keeps each count's best pass.
    ///
    /// - Throws: What making or running the embedder throws.
    public static func run(spec: String, texts: [String], threads: [Int], repeats: Int,
                           progress: (BenchProgress) -> Void = { _ in }) throws -> Result {
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var rows: [Row] = []
        var identifier = spec
        var tokens: Int?
        var flopsPerPass: Double?
        for t in threads {
            let e = try Embedders.make(spec: spec, threads: t)
            identifier = e.identifier
            if let model = e as? SentenceEmbedder, tokens == nil {
                let ids = model.tokenIDs(texts)
                tokens = ids.reduce(0) { $0 + $1.count }
                flopsPerPass = model.model.flops(forTokenCounts: ids.map(\.count))
                _ = model.encode(Array(ids.prefix(8)))  // warm-up: pages in the weights
            }
            var best = Double.infinity
            for pass in 0..<repeats {
                progress(BenchProgress("embedding \(texts.count) texts with \(e.identifier), \(t) thread\(t == 1 ? "" : "s")", done: pass, total: repeats))
                let start = ContinuousClock.now
                _ = try e.embedBlocking(texts)
                let c = (ContinuousClock.now - start).components
                best = min(best, Double(c.seconds) + Double(c.attoseconds) / 1e18)
            }
            var row = Row(threads: t, seconds: best, textsPerSecond: Double(texts.count) / best,
                          megabytesPerSecond: Double(bytes) / 1_000_000 / best)
            if let tokens, let flopsPerPass, let model = e as? SentenceEmbedder {
                row.tokensPerSecond = Double(tokens) / best
                row.gflops = flopsPerPass / best / 1e9
                progress(BenchProgress("measuring sgemm with \(t) thread\(t == 1 ? "" : "s")"))
                row.sgemmGflops = BLASRuntime.sgemmThroughput(m: model.tokensPerBatch, n: model.model.intermediateSize,
                                                              k: model.model.dimension, threads: t)
            }
            rows.append(row)
        }
        return Result(embedder: identifier, texts: texts.count, bytes: bytes, tokens: tokens, rows: rows)
    }
}

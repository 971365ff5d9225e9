import Embedding
import Foundation
import Operations
import Reindex
import SwitchyardJSON
import VectorMath
import VectorStore

/// Deterministic clustered unit vectors with exact ground truth, for benchmarks and tests.
///
/// Model: `clusters` centres drawn from N(0, I); each centre has a spread in [0.5, 1.5]; each point
/// picks a centre (unequal cluster weights), adds spread × N(0, I) noise and is L2-normalised. Base
/// and queries are independent draws. Ground truth: the exact top-`groundTruthK` ids by cosine,
/// ties to the lower id.
public enum SyntheticData {
    public struct Parameters: Sendable {
        public var count: Int
        public var dimension: Int
        public var queries: Int
        public var clusters: Int = 100
        public var seed: UInt64 = 42
        public var groundTruthK: Int = 100

        public init(count: Int, dimension: Int, queries: Int, clusters: Int = 100, seed: UInt64 = 42, groundTruthK: Int = 100) {
            self.count = count
            self.dimension = dimension
            self.queries = queries
            self.clusters = clusters
            self.seed = seed
            self.groundTruthK = groundTruthK
        }
    }

    /// Generated data.
    public struct Output: Sendable {
        public var base: VectorBlock
        public var queries: VectorBlock
        public var groundTruth: IntBlock
    }

    /// Generates the data set in memory.
    ///
    /// - Throws: ``StoreError`` `invalidArgument` for non-positive sizes.
    public static func generate(_ p: Parameters) throws(StoreError) -> Output {
        guard p.count > 0, p.dimension > 0, p.queries > 0, p.clusters > 0, p.groundTruthK > 0 else {
            throw .invalid("synthetic data needs positive n, d, queries, clusters and k")
        }
        var modelRNG = SplitMix64(seed: p.seed)
        var centres = [Float](repeating: 0, count: p.clusters * p.dimension)
        for i in centres.indices { centres[i] = Float(modelRNG.nextGaussian()) }
        let spreads = (0..<p.clusters).map { _ in Float(0.5 + modelRNG.nextUnit()) }
        var weights = (0..<p.clusters).map { _ in -log(max(modelRNG.nextUnit(), 1e-12)) }
        let total = weights.reduce(0, +)
        var acc = 0.0
        for i in weights.indices { acc += weights[i] / total; weights[i] = acc }

        func sample(_ n: Int, seed: UInt64) -> VectorBlock {
            var rng = SplitMix64(seed: seed)
            var values = [Float](repeating: 0, count: n * p.dimension)
            values.withUnsafeMutableBufferPointer { out in
                for r in 0..<n {
                    let u = rng.nextUnit()
                    var c = weights.firstIndex { $0 >= u } ?? (p.clusters - 1)
                    c = min(c, p.clusters - 1)
                    let row = UnsafeMutableBufferPointer(rebasing: out[(r * p.dimension)..<((r + 1) * p.dimension)])
                    for j in 0..<p.dimension {
                        row[j] = centres[c * p.dimension + j] + spreads[c] * Float(rng.nextGaussian())
                    }
                    Vectors.normalize(row)
                }
            }
            return VectorBlock(count: n, dimension: p.dimension, values: values)
        }
        let base = sample(p.count, seed: p.seed &+ 0x1000_0001)
        let queries = sample(p.queries, seed: p.seed &+ 0x2000_0002)
        let k = min(p.groundTruthK, p.count)
        let matrix = RowMatrix(dimension: p.dimension, capacity: p.count)
        base.values.withUnsafeBufferPointer { b in
            for r in 0..<p.count { matrix.append(b.baseAddress! + r * p.dimension, key: RowKey(kind: 0, high: 0, low: UInt64(r))) }
        }
        let hits = queries.values.withUnsafeBufferPointer { q in
            matrix.withView { view in
                ExactSearch.searchBatch(view, queries: q.baseAddress!, count: p.queries, k: k, distance: .dot,
                                        threads: ProcessInfo.processInfo.activeProcessorCount)
            }
        }
        let gt = hits.flatMap { $0.map(\.row) }
        return Output(base: base, queries: queries, groundTruth: IntBlock(count: p.queries, dimension: k, values: gt))
    }

    /// Generates and writes `base.fvecs`, `query.fvecs` and `gt.ivecs` into `directory`.
    public static func write(_ p: Parameters, to directory: String) throws(StoreError) -> Output {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StoreError(.invalidFile, "cannot write into '\(directory)': it is a file, not a directory")
        }
        let out = try generate(p)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw StoreError(.invalidFile, "cannot create '\(directory)': \(fileErrorReason(error))")
        }
        let dir = directory as NSString
        try TexmexWriter.writeFloats(out.base, to: dir.appendingPathComponent("base.fvecs"))
        try TexmexWriter.writeFloats(out.queries, to: dir.appendingPathComponent("query.fvecs"))
        try TexmexWriter.writeInts(out.groundTruth, to: dir.appendingPathComponent("gt.ivecs"))
        return out
    }
}

import CBLAS
import Foundation
import Synchronization

extension BLASRuntime {
    /// The single-precision matrix product's throughput on this machine: `threads` threads each
    /// multiplying an `m × k` by a `k × n` matrix (one BLAS thread each) for about `seconds`, in GFLOP/s
    /// summed over the threads. What a model embedder's matrix products can reach at best.
    ///
    /// ```swift
    /// BLASRuntime.sgemmThroughput(m: 2048, n: 1536, k: 384, threads: 1)   // e.g. 180 GFLOP/s
    /// ```
    public static func sgemmThroughput(m: Int, n: Int, k: Int, threads: Int, seconds: Double = 0.5) -> Double {
        configureOnce()
        let total = FlopCounter()
        let start = ContinuousClock.now
        ParallelLoop.run(iterations: max(1, threads)) { _ in
            let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
            var c = [Float](repeating: 0, count: m * n)
            let begin = ContinuousClock.now
            var done = 0
            repeat {
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                                        1, pa.baseAddress, Int32(k), pb.baseAddress, Int32(k), 0, pc.baseAddress, Int32(n))
                        }
                    }
                }
                done += 1
            } while (ContinuousClock.now - begin) < .milliseconds(Int(seconds * 1000))
            total.add(done * 2 * m * n * k)
        }
        let elapsed = ContinuousClock.now - start
        let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(total.value) / s / 1e9
    }
}

/// Sums the floating-point operations done by the threads of ``BLASRuntime/sgemmThroughput(m:n:k:threads:seconds:)``.
private final class FlopCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int) { count.wrappingAdd(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

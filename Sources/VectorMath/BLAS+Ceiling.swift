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
        let total = SharedCounter()
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

/// A counter shared by threads: hands out work numbers (`add(1)` returns 0, 1, 2, …) or sums what they did.
package final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)
    package init() {}
    /// Adds `n` and returns the value before.
    @discardableResult
    package func add(_ n: Int) -> Int { count.wrappingAdd(n, ordering: .relaxed).oldValue }
    package var value: Int { count.load(ordering: .relaxed) }
}

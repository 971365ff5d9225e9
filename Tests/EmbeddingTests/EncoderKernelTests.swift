import CKernels
import Foundation
import Testing
import _SwitchyardTestSupport

/// The encoder's element-wise C kernels against double-precision libm, at every kernel level.
@Suite("Encoder kernels")
struct EncoderKernelTests {
    static let levels = Array(0...Int(sy_detected_kernel_level()))

    /// Runs `body` at a kernel level, while no other test depends on the level (KernelLevelLock).
    private func withLevel<T>(_ level: Int, _ body: () -> T) -> T {
        KernelLevelLock.withExclusiveKernel {
            let previous = sy_kernel_level()
            sy_set_kernel_level(Int32(level))
            defer { sy_set_kernel_level(previous) }
            return body()
        }
    }

    @Test("GELU is x·Φ(x) within 3e-7 · max(1, |x|), from -100 to 100 and at ±0", arguments: levels)
    func gelu(level: Int) {
        var xs: [Float] = [0, -0.0, 1e-30, -1e-30, 100, -100, 9, -9, 88, -88]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { xs.append(Float.random(in: -12...12, using: &rng)) }
        var ys = xs
        withLevel(level) { ys.withUnsafeMutableBufferPointer { sy_gelu_erf($0.baseAddress!, $0.count) } }
        for (x, y) in zip(xs, ys) {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(y) - exact) <= 3e-7 * max(1, abs(Double(x))), "gelu(\(x)) = \(y), expected \(exact)")
        }
    }

    @Test("softmax sums to 1 and matches the double-precision softmax within 1e-6", arguments: levels)
    func softmax(level: Int) {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 2, 7, 16, 33, 256] {
            let xs = (0..<n).map { _ in Float.random(in: -30...30, using: &rng) }
            var ys = xs
            withLevel(level) { ys.withUnsafeMutableBufferPointer { sy_softmax($0.baseAddress!, n) } }
            let peak = xs.map(Double.init).max()!
            let exps = xs.map { exp(Double($0) - peak) }
            let total = exps.reduce(0, +)
            for (y, e) in zip(ys, exps) { #expect(abs(Double(y) - e / total) <= 1e-6, "n \(n): \(y) vs \(e / total)") }
            #expect(abs(ys.reduce(0, +) - 1) <= 1e-5)
        }
    }

    @Test("layer norm of x + residual matches double precision within 1e-5", arguments: levels)
    func layerNorm(level: Int) {
        var rng = SystemRandomNumberGenerator()
        let rows = 5, h = 384
        let x = (0..<(rows * h)).map { _ in Float.random(in: -4...4, using: &rng) }
        let residual = (0..<(rows * h)).map { _ in Float.random(in: -4...4, using: &rng) }
        let gain = (0..<h).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        let bias = (0..<h).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        var y = x
        withLevel(level) {
            y.withUnsafeMutableBufferPointer { yp in
                sy_layer_norm(yp.baseAddress!, residual, rows, h, gain, bias, 1e-12)
            }
        }
        for r in 0..<rows {
            let row = (0..<h).map { Double(x[r * h + $0]) + Double(residual[r * h + $0]) }
            let mean = row.reduce(0, +) / Double(h)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(h)
            for c in 0..<h {
                let expected = (row[c] - mean) / (variance + 1e-12).squareRoot() * Double(gain[c]) + Double(bias[c])
                #expect(abs(Double(y[r * h + c]) - expected) <= 1e-5)
            }
        }
    }
}

import Testing
import VectorMath
import _SwitchyardTestSupport

@Suite("Vectors")
struct VectorsTests {
    static func norm(_ v: [Float]) -> Double {
        v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    @Test("normalize gives unit length and keeps the direction", arguments: [1, 3, 8, 31, 128])
    func normalizes(dimension: Int) {
        var rng = SplitMix64(seed: UInt64(dimension))
        for _ in 0..<20 {
            let v = rng.nextVector(dimension: dimension).map { $0 * 10 }
            let u = Vectors.normalized(v)
            #expect(abs(Self.norm(u) - 1) < 1e-5)
            let n = Self.norm(v)
            guard n > 0 else { continue }
            for i in 0..<dimension { #expect(abs(Double(u[i]) - Double(v[i]) / n) < 1e-6) }
        }
    }

    @Test("a zero vector stays zero")
    func zeroVector() {
        for d in [1, 4, 17] {
            let z = [Float](repeating: 0, count: d)
            #expect(Vectors.normalized(z) == z)
            var m = z
            m.withUnsafeMutableBufferPointer { Vectors.normalize($0) }
            #expect(m == z)
            #expect(z.withUnsafeBufferPointer { Vectors.norm($0) } == 0)
        }
        let empty: [Float] = []
        #expect(Vectors.normalized(empty) == [])
        #expect(empty.withUnsafeBufferPointer { Vectors.norm($0) } == 0)
    }

    @Test("normalized copies; normalize works in place")
    func copyVersusInPlace() {
        let v: [Float] = [3, 4]
        let u = Vectors.normalized(v)
        #expect(v == [3, 4])
        #expect(u == [0.6, 0.8])
        var w = v
        w.withUnsafeMutableBufferPointer { Vectors.normalize($0) }
        #expect(w == u)
        #expect(v.withUnsafeBufferPointer { Vectors.norm($0) } == 5)
    }

    /// Finite vectors whose squared norm over- or underflows `Float` must still come out unit length
    /// (a cosine collection stores what `normalize` returns).
    @Test("very large and very small finite vectors are normalised too", arguments: [Float(1e20), 3e30, 1e-20, 1e-30])
    func extremeMagnitudes(scale: Float) {
        let v: [Float] = [3 * scale, 4 * scale]
        let u = Vectors.normalized(v)
        #expect(abs(Double(u[0]) - 0.6) < 1e-6 && abs(Double(u[1]) - 0.8) < 1e-6, "\(v) normalised to \(u)")
    }

    @Test("firstNonFinite finds NaN and infinities")
    func nonFinite() {
        func first(_ v: [Float]) -> Int? { v.withUnsafeBufferPointer { Vectors.firstNonFinite($0) } }
        #expect(first([1, 2, 3]) == nil)
        #expect(first([]) == nil)
        #expect(first([1, .nan, .infinity]) == 1)
        #expect(first([-.infinity]) == 0)
        #expect(first([0, 0, 0, .infinity]) == 3)
        #expect(first([.greatestFiniteMagnitude, -.greatestFiniteMagnitude]) == nil)
    }

    @Test("measure computes inner product, squared L2 and L1", arguments: [1, 5, 8, 16, 33, 64, 100])
    func measures(dimension: Int) {
        KernelLevelLock.withStableKernel {
            var rng = SplitMix64(seed: 11 + UInt64(dimension))
            let a = rng.nextVector(dimension: dimension), b = rng.nextVector(dimension: dimension)
            var dot = 0.0, l2 = 0.0, l1 = 0.0
            for i in 0..<dimension {
                let x = Double(a[i]), y = Double(b[i])
                dot += x * y
                l2 += (x - y) * (x - y)
                l1 += abs(x - y)
            }
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let m = { (k: Measure) in Double(Vectors.measure(k, pa.baseAddress!, pb.baseAddress!, dimension: dimension)) }
                    #expect(abs(m(.dot) - dot) <= 1e-5 * max(1, abs(dot)))
                    #expect(abs(m(.l2Squared) - l2) <= 1e-5 * max(1, l2))
                    #expect(abs(m(.l1) - l1) <= 1e-5 * max(1, l1))
                }
            }
        }
    }
}

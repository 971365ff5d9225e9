// The seeded generator for property tests is the library's own `SplitMix64` (VectorMath, used by
// the benchmarks' synthetic data), re-exported here so test targets that do not import VectorMath
// see it too, and so that no second type of the same name makes `SplitMix64(seed:)` ambiguous.
@_exported import struct VectorMath.SplitMix64

extension SplitMix64 {
    /// A float uniformly drawn from `[-1, 1)`.
    public mutating func nextSignedUnit() -> Float {
        // 24 random bits give every representable step of a float in [0, 1).
        Float(next() >> 40) / Float(1 << 24) * 2 - 1
    }

    /// A vector of `dimension` components uniformly drawn from `[-1, 1)`.
    public mutating func nextVector(dimension: Int) -> [Float] {
        (0..<dimension).map { _ in nextSignedUnit() }
    }

    /// An integer in `0..<upperBound`.
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0)
        return Int(next() % UInt64(upperBound))
    }
}

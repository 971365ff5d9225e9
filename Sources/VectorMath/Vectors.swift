import CKernels

/// Small helpers over `Float` vectors.
public enum Vectors {
    /// The Euclidean norm of `v`.
    public static func norm(_ v: UnsafeBufferPointer<Float>) -> Float {
        guard let base = v.baseAddress, !v.isEmpty else { return 0 }
        return sy_score_one(Int32(SY_MEASURE_DOT.rawValue), base, base, v.count).squareRoot()
    }

    /// Scales `v` to unit length in place; a zero vector stays zero (as in Qdrant).
    ///
    /// A vector already of unit length to within float32 rounding (|‖v‖ − 1| ≤ 2⁻²⁰) is left exactly as
    /// it is, so embeddings that arrive normalised are stored bit for bit and score exactly as their
    /// producer computed.
    public static func normalize(_ v: UnsafeMutableBufferPointer<Float>) {
        // The norm in Double: a Float sum of squares overflows to infinity above ~1.8e19 per component
        // and underflows to zero below ~1e-23, which left such finite vectors unnormalised.
        var sum = 0.0
        for x in v { sum += Double(x) * Double(x) }
        let n = sum.squareRoot()
        guard n > 0, n.isFinite, abs(n - 1) > unitTolerance else { return }
        let inv = 1 / n
        for i in v.indices { v[i] = Float(Double(v[i]) * inv) }
    }

    /// How far from 1 a norm may be for a vector to count as already normalised.
    public static let unitTolerance = 0x1p-20

    /// A unit-length copy of `v` (a zero vector stays zero).
    public static func normalized(_ v: [Float]) -> [Float] {
        var copy = v
        copy.withUnsafeMutableBufferPointer { normalize($0) }
        return copy
    }

    /// The index of the first component that is NaN or infinite, if any.
    public static func firstNonFinite(_ v: UnsafeBufferPointer<Float>) -> Int? {
        for i in v.indices where !v[i].isFinite { return i }
        return nil
    }

    /// The raw measure between two vectors with the kernel in use: inner product, squared L2 or L1.
    public static func measure(_ measure: Measure, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int) -> Float {
        sy_score_one(measure.rawValue, a, b, dimension)
    }
}

/// The raw per-row quantity the kernels compute.
public enum Measure: Int32, Sendable {
    case dot = 0
    case l2Squared = 1
    case l1 = 2

    /// The measure behind a distance.
    public init(_ distance: Distance) {
        switch distance {
        case .cosine, .dot: self = .dot
        case .euclid: self = .l2Squared
        case .manhattan: self = .l1
        }
    }
}

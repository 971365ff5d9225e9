/// How two vectors are compared, with Qdrant's names and score conventions.
///
/// `cosine` and `dot` score similarity (higher is better); `euclid` and `manhattan` score a distance
/// (lower is better). Cosine vectors are normalised when they are stored, as Qdrant does, so a cosine
/// search is a dot-product search over unit vectors.
public enum Distance: String, Sendable, Hashable, CaseIterable, Codable {
    case cosine = "Cosine"
    case dot = "Dot"
    case euclid = "Euclid"
    case manhattan = "Manhattan"

    /// Parses Qdrant's names case-insensitively (`Cosine`, `cosine`, `COSINE`, …).
    ///
    /// - Returns: `nil` when `name` is none of the four.
    public init?(parsing name: String) {
        switch name.lowercased() {
        case "cosine": self = .cosine
        case "dot": self = .dot
        case "euclid", "euclidean", "l2": self = .euclid
        case "manhattan", "l1": self = .manhattan
        default: return nil
        }
    }

    /// Whether a larger score is a better match (`cosine`, `dot`).
    public var higherIsBetter: Bool {
        switch self {
        case .cosine, .dot: true
        case .euclid, .manhattan: false
        }
    }

    /// Whether `score` is strictly better than `threshold` in this distance's direction.
    public func isStrictlyBetter(_ score: Float, than threshold: Float) -> Bool {
        higherIsBetter ? score > threshold : score < threshold
    }
}

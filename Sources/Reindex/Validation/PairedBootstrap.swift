import VectorMath

/// A paired bootstrap confidence interval for the mean of per-query differences (new − old).
///
/// Each resample draws `n` queries with replacement and takes the mean of their differences; the interval
/// is the percentile interval of those means. The generator is seeded, so a report computed twice from the
/// same rows shows the same interval.
///
/// ```swift
/// let ci = PairedBootstrap.meanInterval([0.1, -0.05, 0.2, 0.0])
/// // ci.low ≤ 0.0625 ≤ ci.high
/// ```
public enum PairedBootstrap {
    /// A two-sided interval.
    public struct Interval: Sendable, Equatable {
        public var low: Double
        public var high: Double
        /// The confidence level, e.g. 0.95.
        public var level: Double
        /// How many resamples it rests on.
        public var resamples: Int
        /// Whether the interval excludes 0: the difference is unlikely to be chance.
        public var excludesZero: Bool { low > 0 || high < 0 }
    }

    /// The percentile interval of the mean of `differences`.
    ///
    /// - Parameters:
    ///   - differences: One value per query (new − old); must not be empty.
    ///   - level: The confidence level, in (0, 1).
    ///   - resamples: How many resamples (at least 1).
    ///   - seed: The generator's seed.
    /// - Returns: `nil` for no differences.
    /// - Complexity: O(`resamples` × `differences.count`).
    public static func meanInterval(_ differences: [Double], level: Double = 0.95, resamples: Int = 10_000,
                                    seed: UInt64 = 0x5EED_B007) -> Interval? {
        let n = differences.count
        guard n > 0, resamples > 0, level > 0, level < 1 else { return nil }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        differences.withUnsafeBufferPointer { d in
            for r in 0..<resamples {
                var sum = 0.0
                for _ in 0..<n { sum += d[Int(rng.next() % UInt64(n))] }
                means[r] = sum / Double(n)
            }
        }
        means.sort()
        let tail = (1 - level) / 2
        func quantile(_ q: Double) -> Double {
            let position = q * Double(resamples - 1)
            let lower = Int(position.rounded(.down)), upper = min(resamples - 1, lower + 1)
            let fraction = position - Double(lower)
            return means[lower] + (means[upper] - means[lower]) * fraction
        }
        return Interval(low: quantile(tail), high: quantile(1 - tail), level: level, resamples: resamples)
    }
}

import Foundation

/// How a worker's reindexes clean up.
public struct ReindexSettings: Sendable {
    /// Seconds to wait before dropping a retired generation; `nil`: docs/reindex.md's
    /// `min(300 + 60·⌊vectors/10,000⌋, 1800)`.
    public var gracePeriod: Double?
    /// Retired generations kept for `rollback` (default 1).
    public var keepGenerations = 1
    /// A staging collection no operation references is removed only when older than this (seconds).
    public var stagingMinimumAge: Double = 3600
    /// Longest wait, after the grace period, for searches still running on a collection to be dropped.
    public var searchDrainTimeout: Double = 30

    /// Housekeeping resolves an alias change left half done (a rollback's or a drop's; a switch's once its
    /// reindex ended) when the process that began it is gone, or when its intent is at least this old, in
    /// seconds: a younger one may still be running. `nil`: twice the backend's longest call plus 5 s
    /// (``CollectionManager/intentSafeAge``).
    public var intentMinimumAge: Double?
    public init() {}

    /// The grace period for a generation of `vectors` points.
    public func grace(vectors: Int) -> Double {
        gracePeriod ?? min(300 + 60 * Double(vectors / 10_000), 1800)
    }
}

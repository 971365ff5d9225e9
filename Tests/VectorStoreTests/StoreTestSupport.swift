import Foundation
import Testing
import VectorMath
import VectorStore
import _SwitchyardTestSupport

extension Store.Options {
    /// Options for unit tests: `synchronous = NORMAL` (a test needs no power-loss safety, and it
    /// keeps fsyncs out of the run), searches on two threads.
    static var testing: Store.Options {
        var o = Store.Options()
        o.synchronous = .normal
        o.searchThreads = 2
        return o
    }
}

/// Runs `body` with a store in a fresh temporary directory, opened with ``Store/Options/testing``.
///
/// Store tests compare scores and tie orders across searches, so no other test may switch the SIMD
/// kernel level meanwhile (see ``KernelLevelLock``).
func withStore<T>(_ body: (Store, TemporaryDirectory) throws -> T) throws -> T {
    try KernelLevelLock.withStableKernel { () throws -> T in try withTemporaryStore(options: .testing, body) }
}

/// Runs `body` with a fresh temporary directory, with the kernel level held stable.
func withStoreDirectory<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
    try KernelLevelLock.withStableKernel { () throws -> T in try withTemporaryDirectory(body) }
}

/// Expects `body` to throw a ``StoreError`` with `code` (and a message containing `message`).
@discardableResult
func expectStoreError<R>(
    _ code: StoreError.Code, _ message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> StoreError? {
    let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "\(error.map { "\($0)" } ?? "no error")", sourceLocation: sourceLocation)
    if let message {
        #expect(error?.message.contains(message) == true, "\(error.map { "\($0)" } ?? "no error")", sourceLocation: sourceLocation)
    }
    return error
}

/// A mix of integer ids (including ones above 2^53) and UUIDs.
func mixedIDs(_ n: Int, seed: UInt64) -> [PointID] {
    var rng = SplitMix64(seed: seed)
    var ids = Set<PointID>()
    while ids.count < n {
        switch rng.nextInt(below: 4) {
        case 0:
            let b = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            ids.insert(.uuid(UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))))
        case 1: ids.insert(.number((1 << 53) + UInt64(rng.nextInt(below: 1000))))
        default: ids.insert(.number(UInt64(rng.nextInt(below: 100_000))))
        }
    }
    var out = Array(ids)
    out.sort()
    out.shuffle(using: &rng)
    return out
}

/// Points with random vectors and a small payload: `i` (the index), `g` (i % 3), `tag` ("even"/"odd").
func randomPoints(_ n: Int, dimension: Int, seed: UInt64, ids: [PointID]? = nil) -> [Point] {
    var rng = SplitMix64(seed: seed)
    let ids = ids ?? (0..<n).map { PointID.number(UInt64($0)) }
    return (0..<n).map { i in
        Point(id: ids[i], vector: rng.nextVector(dimension: dimension),
              payload: ["i": .int(Int64(i)), "g": .int(Int64(i % 3)), "tag": .string(i % 2 == 0 ? "even" : "odd")])
    }
}

extension Array where Element == ScoredPoint {
    var ids: [PointID] { map(\.id) }
}

extension Array where Element == Record {
    var ids: [PointID] { map(\.id) }
}

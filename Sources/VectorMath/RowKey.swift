/// A row's tie-breaking key: when two rows score the same, the one with the smaller key ranks first.
///
/// The store maps point ids onto keys whose order is the id order (integer ids before UUIDs).
public struct RowKey: Sendable, Hashable, Comparable {
    /// The most significant part: 0 for integer ids, 1 for UUIDs.
    public var kind: UInt8
    public var high: UInt64
    public var low: UInt64

    public init(kind: UInt8, high: UInt64, low: UInt64) {
        self.kind = kind
        self.high = high
        self.low = low
    }

    public static func < (a: RowKey, b: RowKey) -> Bool {
        if a.kind != b.kind { return a.kind < b.kind }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }
}

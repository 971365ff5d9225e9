/// FNV-1a, 64-bit (Fowler–Noll–Vo): the fixed, platform-independent hash behind every feature.
///
/// Swift's `Hasher` is seeded randomly per process and must never be used for vectors.
package enum FNV1a {
    /// The 64-bit FNV offset basis.
    package static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    /// The 64-bit FNV prime.
    package static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The starting state for `seed`: the offset basis XOR `seed × 0x9E3779B97F4A7C15` (mod 2⁶⁴), so
    /// seed 0 is plain FNV-1a.
    @inline(__always)
    package static func basis(seed: UInt32) -> UInt64 {
        offsetBasis ^ (UInt64(seed) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Feeds one byte: `(h XOR byte) × prime`.
    @inline(__always)
    package static func step(_ h: UInt64, _ byte: UInt8) -> UInt64 {
        (h ^ UInt64(byte)) &* prime
    }

    /// Feeds the UTF-8 bytes of `text`.
    package static func feed(_ h: UInt64, _ text: String) -> UInt64 {
        var h = h
        for byte in text.utf8 { h = step(h, byte) }
        return h
    }
}

/// What a spec asks to extract, with the hash states after the feature-type prefixes.
struct FeatureParameters: Sendable {
    /// Word n-gram lengths, `0...0`-free: `wordMax == 0` means off.
    let wordMin: Int
    let wordMax: Int
    /// Character n-gram lengths; `charMax == 0` means off.
    let charMin: Int
    let charMax: Int
    /// FNV state after the seed and the prefix `w:`.
    let wordState: UInt64
    /// FNV state after the seed and the prefix `c:`.
    let charState: UInt64

    init(_ spec: HashingSpec) {
        wordMin = spec.wordNGrams?.lowerBound ?? 0
        wordMax = spec.wordNGrams?.upperBound ?? 0
        charMin = spec.charNGrams?.lowerBound ?? 0
        charMax = spec.charNGrams?.upperBound ?? 0
        let basis = FNV1a.basis(seed: spec.seed)
        wordState = FNV1a.feed(basis, "w:")
        charState = FNV1a.feed(basis, "c:")
    }
}

/// `h mod d` for 64-bit `h` and a fixed `d` in 1…65536, without a 64-bit division: Lemire's
/// "fastmod" for 32-bit operands applied to the two halves of `h`
/// (`h mod d = ((hi mod d)·(2³² mod d) + lo mod d) mod d`). Exactly `h % d`.
package struct BucketReducer: Sendable {
    let divisor: UInt64
    /// ⌈2⁶⁴ / d⌉ (0 when d = 1).
    private let magic: UInt64
    /// 2³² mod d.
    private let highWeight: UInt64

    package init(divisor: Int) {
        precondition(divisor >= 1 && divisor <= 65_536)
        self.divisor = UInt64(divisor)
        magic = divisor == 1 ? 0 : UInt64.max / UInt64(divisor) &+ 1
        highWeight = (1 << 32) % UInt64(divisor)
    }

    @inline(__always)
    private func mod32(_ a: UInt64) -> UInt64 {
        (magic &* a).multipliedFullWidth(by: divisor).high
    }

    /// `h % divisor`.
    @inline(__always)
    package func reduce(_ h: UInt64) -> Int {
        if divisor == 1 { return 0 }
        let x = mod32(h >> 32) &* highWeight &+ mod32(h & 0xFFFF_FFFF)
        return Int(truncatingIfNeeded: mod32(x))
    }
}

/// Counts feature hashes of one text: an open-addressing table keyed by the 64-bit hash, whose
/// slots hold indices into dense arrays of distinct features kept in first-occurrence order — so
/// that summing them is deterministic whatever the table's size, and the hot data stays small
/// (4 bytes a slot).
///
/// A plain struct over manually managed memory so that the hot loop works on a local copy without
/// exclusivity checks: its owner (``HashingWorkspace``) copies it out, works, writes it back and
/// calls ``deallocate()`` once in its `deinit`.
struct CountTable {
    /// 0 = empty, else the feature's index + 1.
    private var slots: UnsafeMutablePointer<UInt32>
    /// Distinct features in first-occurrence order: hash, count, and the slot that holds them.
    private var keys: UnsafeMutablePointer<UInt64>
    private var counts: UnsafeMutablePointer<UInt32>
    private var slotOf: UnsafeMutablePointer<UInt32>
    private var capacity: Int
    private var shift: UInt64
    /// Distinct features counted since the last ``reset()``.
    private(set) var distinctCount = 0

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.shift = UInt64(64 - c.trailingZeroBitCount)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: 0, count: c)
        keys = .allocate(capacity: c / 2 + 1)
        counts = .allocate(capacity: c / 2 + 1)
        slotOf = .allocate(capacity: c / 2 + 1)
    }

    func deallocate() {
        slots.deallocate()
        keys.deallocate()
        counts.deallocate()
        slotOf.deallocate()
    }

    /// Counts one occurrence of the feature with hash `h`.
    @inline(__always)
    mutating func add(_ h: UInt64) {
        let mask = capacity - 1
        var slot = Int(truncatingIfNeeded: (h &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let entry = slots[slot]
            if entry == 0 {
                let index = distinctCount
                slots[slot] = UInt32(truncatingIfNeeded: index + 1)
                keys[index] = h
                counts[index] = 1
                slotOf[index] = UInt32(truncatingIfNeeded: slot)
                distinctCount = index + 1
                if distinctCount * 2 > capacity { grow() }
                return
            }
            let index = Int(entry) - 1
            if keys[index] == h {
                counts[index] &+= 1
                return
            }
            slot = (slot + 1) & mask
        }
    }

    /// Calls `body(hash, count)` for every distinct feature, in first-occurrence order.
    @inline(__always)
    func forEach(_ body: (UInt64, UInt32) -> Void) {
        for i in 0..<distinctCount { body(keys[i], counts[i]) }
    }

    /// Forgets every count (O(distinct features)).
    mutating func reset() {
        for i in 0..<distinctCount { slots[Int(slotOf[i])] = 0 }
        distinctCount = 0
    }

    private mutating func grow() {
        let n = distinctCount
        let c = capacity * 2
        capacity = c
        shift = UInt64(64 - c.trailingZeroBitCount)
        slots.deallocate()
        slots = .allocate(capacity: c)
        slots.initialize(repeating: 0, count: c)
        let newKeys = UnsafeMutablePointer<UInt64>.allocate(capacity: c / 2 + 1)
        newKeys.update(from: keys, count: n)
        keys.deallocate()
        keys = newKeys
        let newCounts = UnsafeMutablePointer<UInt32>.allocate(capacity: c / 2 + 1)
        newCounts.update(from: counts, count: n)
        counts.deallocate()
        counts = newCounts
        slotOf.deallocate()
        slotOf = .allocate(capacity: c / 2 + 1)
        let mask = c - 1
        for i in 0..<n {
            var slot = Int(truncatingIfNeeded: (keys[i] &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = UInt32(truncatingIfNeeded: i + 1)
            slotOf[i] = UInt32(truncatingIfNeeded: slot)
        }
    }
}

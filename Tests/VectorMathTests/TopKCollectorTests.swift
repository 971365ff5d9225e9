import Testing
import VectorMath
import _SwitchyardTestSupport

@Suite("TopKCollector")
struct TopKCollectorTests {
    /// Keys drawn from a small set (many ties) and shuffled row keys.
    static func sample(count n: Int, seed: UInt64) -> (keys: [Float], rowKeys: [RowKey]) {
        var rng = SplitMix64(seed: seed)
        let keys = (0..<n).map { _ in Float(rng.nextInt(below: 12)) - 6 }
        var perm = Array(0..<n)
        perm.shuffle(using: &rng)
        let rowKeys = perm.map { RowKey(kind: UInt8($0 % 2), high: UInt64($0 % 3), low: UInt64($0)) }
        return (keys, rowKeys)
    }

    /// The expected best `k`: key descending, then smaller row key.
    static func expected(_ keys: [Float], _ rowKeys: [RowKey], k: Int) -> [(key: Float, row: Int32)] {
        let order = keys.indices.sorted { a, b in
            keys[a] != keys[b] ? keys[a] > keys[b] : rowKeys[a] < rowKeys[b]
        }
        return order.prefix(k).map { (keys[$0], Int32($0)) }
    }

    @Test("keeps the k best, ties to the smaller row key", arguments: [1, 2, 7, 64, 500, 1000])
    func keepsBest(k: Int) {
        let (keys, rowKeys) = Self.sample(count: 600, seed: UInt64(k))
        let want = Self.expected(keys, rowKeys, k: k)
        rowKeys.withUnsafeBufferPointer { rk in
            var one = TopKCollector(k: k, rowKeys: rk.baseAddress!)
            for (i, key) in keys.enumerated() { one.offer(key: key, row: Int32(i)) }
            #expect(one.count == min(k, keys.count))
            #expect(one.sorted().map(\.row) == want.map(\.row))
            #expect(one.sorted().map(\.key) == want.map(\.key))
            if k <= keys.count {
                #expect(one.threshold == want.last!.key)
            } else {
                #expect(one.threshold == -.infinity, "not full: every candidate is still accepted")
            }

            // Offered in blocks (consecutive rows), in reverse order: the same set.
            var blocks = TopKCollector(k: k, rowKeys: rk.baseAddress!)
            keys.withUnsafeBufferPointer { kb in
                var start = keys.count
                while start > 0 {
                    let n = min(37, start)
                    start -= n
                    blocks.offer(block: kb.baseAddress! + start, count: n, firstRow: start)
                }
            }
            #expect(blocks.sorted().map(\.row) == want.map(\.row))

            // Offered in blocks of gathered rows.
            var gathered = TopKCollector(k: k, rowKeys: rk.baseAddress!)
            var rng = SplitMix64(seed: 3)
            var rows = (0..<Int32(keys.count)).map { $0 }
            rows.shuffle(using: &rng)
            let gatheredKeys = rows.map { keys[Int($0)] }
            gatheredKeys.withUnsafeBufferPointer { kb in
                rows.withUnsafeBufferPointer { rb in
                    var start = 0
                    while start < rows.count {
                        let n = min(50, rows.count - start)
                        gathered.offer(block: kb.baseAddress! + start, count: n, rows: rb.baseAddress! + start)
                        start += n
                    }
                }
            }
            #expect(gathered.sorted().map(\.row) == want.map(\.row))
        }
    }

    @Test("equal keys: a smaller row key displaces the worst kept one, a larger one does not")
    func tieDisplacement() {
        let rowKeys = (0..<6).map { RowKey(kind: 0, high: 0, low: UInt64(10 - $0)) }  // row 5 has the smallest key
        rowKeys.withUnsafeBufferPointer { rk in
            var c = TopKCollector(k: 2, rowKeys: rk.baseAddress!)
            c.offer(key: 1, row: 0)  // key 10
            c.offer(key: 1, row: 1)  // key 9
            c.offer(key: 1, row: 2)  // key 8: displaces row 0
            #expect(c.sorted().map(\.row) == [2, 1])
            c.offer(key: 1, row: 0)  // key 10: rejected
            #expect(c.sorted().map(\.row) == [2, 1])
            c.offer(key: 0.5, row: 5)  // lower key: rejected whatever its row key
            #expect(c.sorted().map(\.row) == [2, 1])
            c.offer(key: 2, row: 4)
            #expect(c.sorted().map(\.row) == [4, 2])
            #expect(c.threshold == 1)
        }
    }

    @Test("k below 1 keeps one entry; infinite keys are ranked too")
    func extremes() {
        let rowKeys = (0..<4).map { RowKey(kind: 0, high: 0, low: UInt64($0)) }
        rowKeys.withUnsafeBufferPointer { rk in
            var c = TopKCollector(k: 0, rowKeys: rk.baseAddress!)
            #expect(c.k == 1)
            c.offer(key: -.infinity, row: 0)
            c.offer(key: -.infinity, row: 1)
            #expect(c.sorted().map(\.row) == [0])
            c.offer(key: .infinity, row: 3)
            #expect(c.sorted().map(\.row) == [3])
        }
    }
}

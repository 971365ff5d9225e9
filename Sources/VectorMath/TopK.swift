/// Keeps the `k` best (row, key) pairs seen so far, where a larger key is better and equal keys are
/// ordered by the smaller ``RowKey``. A binary heap with the worst kept entry at the root, so a
/// candidate that cannot enter costs one comparison.
///
/// Complexity: O(log k) per accepted candidate, O(1) per rejected one.
public struct TopKCollector {
    public let k: Int
    public private(set) var count = 0
    private var keysHeap: [Float]
    private var rowsHeap: [Int32]
    private let rowKeys: UnsafePointer<RowKey>
    /// The worst key kept once full; candidates below it are rejected without touching the heap.
    public private(set) var threshold: Float = -.infinity

    /// - Parameters:
    ///   - k: entries to keep (at least 1).
    ///   - rowKeys: every row's tie-breaking key, indexed by row.
    public init(k: Int, rowKeys: UnsafePointer<RowKey>) {
        self.k = max(1, k)
        keysHeap = [Float](repeating: 0, count: self.k)
        rowsHeap = [Int32](repeating: 0, count: self.k)
        self.rowKeys = rowKeys
    }

    /// Whether entry a is worse than entry b.
    @inline(__always)
    private func worse(_ ka: Float, _ ra: Int32, _ kb: Float, _ rb: Int32) -> Bool {
        if ka != kb { return ka < kb }
        return rowKeys[Int(rb)] < rowKeys[Int(ra)]
    }

    /// Offers one candidate.
    @inline(__always)
    public mutating func offer(key: Float, row: Int32) {
        if count < k {
            keysHeap[count] = key
            rowsHeap[count] = row
            count += 1
            siftUp(count - 1)
            if count == k { threshold = keysHeap[0] }
            return
        }
        if key < threshold { return }
        if key == threshold && !(rowKeys[Int(row)] < rowKeys[Int(rowsHeap[0])]) { return }
        keysHeap[0] = key
        rowsHeap[0] = row
        siftDown(0)
        threshold = keysHeap[0]
    }

    /// Offers a block of keys for rows `firstRow ..< firstRow + n`.
    @inline(__always)
    public mutating func offer(block: UnsafePointer<Float>, count n: Int, firstRow: Int) {
        for i in 0..<n {
            let key = block[i]
            if key >= threshold { offer(key: key, row: Int32(firstRow + i)) }
        }
    }

    /// Offers a block of keys whose rows are `rows[0..<n]`.
    @inline(__always)
    public mutating func offer(block: UnsafePointer<Float>, count n: Int, rows: UnsafePointer<Int32>) {
        for i in 0..<n {
            let key = block[i]
            if key >= threshold { offer(key: key, row: rows[i]) }
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            if worse(keysHeap[child], rowsHeap[child], keysHeap[parent], rowsHeap[parent]) {
                keysHeap.swapAt(child, parent)
                rowsHeap.swapAt(child, parent)
                child = parent
            } else { return }
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let l = 2 * parent + 1
            if l >= count { return }
            var w = l
            let r = l + 1
            if r < count && worse(keysHeap[r], rowsHeap[r], keysHeap[l], rowsHeap[l]) { w = r }
            if worse(keysHeap[w], rowsHeap[w], keysHeap[parent], rowsHeap[parent]) {
                keysHeap.swapAt(w, parent)
                rowsHeap.swapAt(w, parent)
                parent = w
            } else { return }
        }
    }

    /// The kept entries, best first.
    public func sorted() -> [(key: Float, row: Int32)] {
        var out: [(key: Float, row: Int32)] = []
        out.reserveCapacity(count)
        for i in 0..<count { out.append((keysHeap[i], rowsHeap[i])) }
        let keys = rowKeys
        out.sort { a, b in
            if a.key != b.key { return a.key > b.key }
            return keys[Int(a.row)] < keys[Int(b.row)]
        }
        return out
    }
}

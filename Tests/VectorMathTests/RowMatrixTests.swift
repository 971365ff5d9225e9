import Testing
import VectorMath
import _SwitchyardTestSupport

@Suite("RowMatrix")
struct RowMatrixTests {
    /// Checks the matrix against a model: rows, keys and squared norms in the same order.
    static func check(_ m: RowMatrix, _ model: [(vector: [Float], key: RowKey)], _ step: String) {
        #expect(m.count == model.count, "\(step)")
        #expect(m.capacity >= m.count, "\(step)")
        #expect(m.allocatedBytes == m.capacity * (m.dimension * 4 + 4 + MemoryLayout<RowKey>.stride))
        m.withView { view in #expect(view.count == m.count && view.dimension == m.dimension) }
        m.withUnsafeRows { rows in
            #expect(rows.count == m.count * m.dimension)
            #expect(Int(bitPattern: rows.baseAddress) % 64 == 0, "rows start 64-byte aligned")
        }
        for (r, entry) in model.enumerated() where r < m.count {
            #expect(m.vector(row: r) == entry.vector, "\(step): row \(r)")
            #expect(m.key(row: r) == entry.key, "\(step): key of row \(r)")
            let norm = entry.vector.withUnsafeBufferPointer { Vectors.measure(.dot, $0.baseAddress!, $0.baseAddress!, dimension: m.dimension) }
            #expect(m.squaredNorm(row: r) == norm, "\(step): squared norm of row \(r)")
        }
    }

    @Test("append, replace and swapRemove keep rows, keys and norms consistent", arguments: [1, 5, 16, 33])
    func randomOperations(dimension d: Int) {
        KernelLevelLock.withStableKernel { randomOperationsBody(d) }
    }

    func randomOperationsBody(_ d: Int) {
        var rng = SplitMix64(seed: UInt64(d) * 31)
        let m = RowMatrix(dimension: d)
        #expect(m.count == 0 && m.capacity == 0)
        var model: [(vector: [Float], key: RowKey)] = []
        var nextKey: UInt64 = 0
        for step in 0..<600 {
            let op = model.isEmpty ? 0 : rng.nextInt(below: 10)
            switch op {
            case 0..<5:
                let v = rng.nextVector(dimension: d)
                nextKey += 1
                let key = RowKey(kind: UInt8(nextKey % 2), high: rng.next(), low: nextKey)
                let row = v.withUnsafeBufferPointer { m.append($0.baseAddress!, key: key) }
                #expect(row == model.count)
                model.append((v, key))
            case 5..<7:
                let r = rng.nextInt(below: model.count)
                let v = rng.nextVector(dimension: d)
                v.withUnsafeBufferPointer { m.replace(row: r, with: $0.baseAddress!) }
                model[r].vector = v
            default:
                let r = rng.nextInt(below: model.count)
                let moved = m.swapRemove(row: r)
                if r == model.count - 1 {
                    #expect(moved == nil)
                    model.removeLast()
                } else {
                    #expect(moved == model.last!.key)
                    model[r] = model.removeLast()
                }
            }
            if step % 50 == 0 || step == 599 { Self.check(m, model, "step \(step)") }
        }
        // Remove everything, from the front.
        while !model.isEmpty {
            m.swapRemove(row: 0)
            if model.count > 1 { model[0] = model.removeLast() } else { model.removeLast() }
        }
        Self.check(m, model, "emptied")
        // And it can grow again.
        let v = [Float](repeating: 2, count: d)
        v.withUnsafeBufferPointer { _ = m.append($0.baseAddress!, key: RowKey(kind: 0, high: 0, low: 1)) }
        Self.check(m, [(v, RowKey(kind: 0, high: 0, low: 1))], "regrown")
    }

    @Test("reserve keeps the contents and growth never loses rows")
    func reserve() {
        KernelLevelLock.withStableKernel { reserveBody() }
    }

    func reserveBody() {
        let m = RowMatrix(dimension: 3, capacity: 4)
        #expect(m.capacity == 4)
        var model: [(vector: [Float], key: RowKey)] = []
        for i in 0..<100 {
            let v: [Float] = [Float(i), Float(-i), 0.5]
            let key = RowKey(kind: 0, high: 0, low: UInt64(100 - i))
            v.withUnsafeBufferPointer { _ = m.append($0.baseAddress!, key: key) }
            model.append((v, key))
        }
        m.reserve(1000)
        #expect(m.capacity == 1000)
        m.reserve(10)  // never shrinks
        #expect(m.capacity == 1000)
        Self.check(m, model, "after reserve")
        #expect(m.squaredNorm(row: 10) == 100 + 100 + 0.25)
    }
}

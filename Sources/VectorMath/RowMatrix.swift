#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A contiguous, row-major `count × dimension` matrix of `Float` with per-row keys and squared norms,
/// that grows by appending and shrinks by moving the last row into a removed one.
///
/// Not thread-safe: the owner serialises writers against readers (the store holds a read-write lock).
/// Rows are 64-byte aligned at the start of the buffer so SIMD loads stream well. The buffers are
/// reached only inside scoped calls (``withView(_:)``, ``withUnsafeRows(_:)``): no pointer into them
/// outlives the call, so none can dangle after the matrix grows or is released.
public final class RowMatrix {
    /// Components per row.
    public let dimension: Int
    /// Rows in use.
    public private(set) var count: Int = 0
    /// Rows that fit before the buffer must grow.
    public private(set) var capacity: Int = 0
    /// The row data: `count * dimension` initialised floats.
    private var storage: UnsafeMutablePointer<Float>
    /// Squared L2 norm of each row (used by the Euclid BLAS path); `count` initialised.
    private var squaredNorms: UnsafeMutablePointer<Float>
    /// Each row's tie-breaking key; `count` initialised.
    private var keys: UnsafeMutablePointer<RowKey>
    /// The int8 copy of the rows, when quantization is on (``enableQuantization(quantile:distance:)``).
    public private(set) var quantized: QuantizedRows?
    /// The int8 copy that screens exact searches (``ScreenedSearch``), once ``enableScreening(distance:minRows:)``
    /// was called and the matrix holds `screenMinRows` rows.
    public private(set) var screen: QuantizedRows?
    /// The measure screening was enabled for (nil: off).
    private var screenMeasure: Measure?
    private var screenMinRows = 0

    /// An empty matrix.
    ///
    /// - Parameters:
    ///   - dimension: components per row, at least 1.
    ///   - capacity: rows to reserve up front.
    public init(dimension: Int, capacity: Int = 0) {
        precondition(dimension > 0, "dimension must be positive")
        self.dimension = dimension
        storage = Self.allocate(Float.self, count: 1)
        squaredNorms = Self.allocate(Float.self, count: 1)
        keys = Self.allocate(RowKey.self, count: 1)
        reserve(capacity)
    }

    deinit {
        storage.deinitialize(count: count * dimension)
        squaredNorms.deinitialize(count: count)
        keys.deinitialize(count: count)
        free(storage)
        free(squaredNorms)
        free(keys)
    }

    private static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        alignedAllocate(type, count: count, zeroed: false)
    }
}

/// `count` elements of `T` (at least one) on a 64-byte boundary, for SIMD loads; release with `free`.
/// `zeroed` fills the bytes with zeros (the int8 panels rely on zero padding).
func alignedAllocate<T>(_ type: T.Type, count: Int, zeroed: Bool) -> UnsafeMutablePointer<T> {
    var raw: UnsafeMutableRawPointer?
    let bytes = max(64, count * MemoryLayout<T>.stride)
    guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
        fatalError("out of memory allocating \(bytes) bytes for vectors")
    }
    if zeroed { memset(raw, 0, bytes) }
    return raw.bindMemory(to: T.self, capacity: max(1, count))
}

extension RowMatrix {

    /// Makes room for at least `rows` rows without further growth.
    public func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        let newStorage = Self.allocate(Float.self, count: rows * dimension)
        let newNorms = Self.allocate(Float.self, count: rows)
        let newKeys = Self.allocate(RowKey.self, count: rows)
        if count > 0 {
            newStorage.moveInitialize(from: storage, count: count * dimension)
            newNorms.moveInitialize(from: squaredNorms, count: count)
            newKeys.moveInitialize(from: keys, count: count)
        }
        free(storage)
        free(squaredNorms)
        free(keys)
        storage = newStorage
        squaredNorms = newNorms
        keys = newKeys
        capacity = rows
        quantized?.reserve(rows)
        screen?.reserve(rows)
    }

    /// Appends a row and returns its index.
    @discardableResult
    public func append(_ vector: UnsafePointer<Float>, key: RowKey) -> Int {
        if count == capacity { reserve(Swift.max(16, capacity + capacity / 2)) }
        let row = count
        (storage + row * dimension).initialize(from: vector, count: dimension)
        (squaredNorms + row).initialize(to: Vectors.measure(.dot, vector, vector, dimension: dimension))
        (keys + row).initialize(to: key)
        count += 1
        if let q = quantized, q.append(vector, squaredNorm: squaredNorms[row]) {
            q.train(rows: storage, norms: squaredNorms, count: count)
        }
        if let s = screen {
            if s.append(vector, squaredNorm: squaredNorms[row]) { s.train(rows: storage, norms: squaredNorms, count: count) }
        } else if screenMeasure != nil && count >= screenMinRows {
            buildScreen()
        }
        return row
    }

    /// Overwrites row `row`'s vector.
    public func replace(row: Int, with vector: UnsafePointer<Float>) {
        precondition(row >= 0 && row < count, "row out of range")
        (storage + row * dimension).update(from: vector, count: dimension)
        squaredNorms[row] = Vectors.measure(.dot, vector, vector, dimension: dimension)
        quantized?.replace(row: row, with: vector, squaredNorm: squaredNorms[row])
        screen?.replace(row: row, with: vector, squaredNorm: squaredNorms[row])
    }

    /// Removes row `row` by moving the last row into its place.
    ///
    /// - Returns: the key of the row that moved into `row`, or `nil` when `row` was the last one.
    @discardableResult
    public func swapRemove(row: Int) -> RowKey? {
        precondition(row >= 0 && row < count, "row out of range")
        let last = count - 1
        var moved: RowKey?
        if row != last {
            (storage + row * dimension).update(from: storage + last * dimension, count: dimension)
            squaredNorms[row] = squaredNorms[last]
            keys[row] = keys[last]
            moved = keys[row]
        }
        (storage + last * dimension).deinitialize(count: dimension)
        (squaredNorms + last).deinitialize(count: 1)
        (keys + last).deinitialize(count: 1)
        count -= 1
        quantized?.swapRemove(row: row)
        screen?.swapRemove(row: row)
        return moved
    }

    /// A copy of row `row`'s vector.
    public func vector(row: Int) -> [Float] {
        precondition(row >= 0 && row < count, "row out of range")
        return Array(UnsafeBufferPointer(start: storage + row * dimension, count: dimension))
    }

    /// Row `row`'s tie-breaking key.
    public func key(row: Int) -> RowKey {
        precondition(row >= 0 && row < count, "row out of range")
        return keys[row]
    }

    /// Row `row`'s squared L2 norm.
    public func squaredNorm(row: Int) -> Float {
        precondition(row >= 0 && row < count, "row out of range")
        return squaredNorms[row]
    }

    /// Runs `body` with the rows in use, row-major (`count × dimension` floats).
    ///
    /// - Parameter body: Reads the rows; the buffer is valid only during the call and must not escape.
    public func withUnsafeRows<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: storage, count: count * dimension))
    }

    /// Bytes held by the buffers (capacity, not only rows in use).
    public var allocatedBytes: Int {
        capacity * (dimension * MemoryLayout<Float>.stride + MemoryLayout<Float>.stride + MemoryLayout<RowKey>.stride)
    }

    /// Keeps an int8 copy of the rows from now on (Qdrant's scalar quantization), trained on the rows present
    /// and retrained as they double. Manhattan is not quantized (its searches stay exact): `nil` is returned.
    ///
    /// - Parameters:
    ///   - quantile: the share of component values kept unclipped, in [0.5, 1] (at most 65,536 components).
    ///   - distance: the collection's distance (decides the ranking key).
    @discardableResult
    public func enableQuantization(quantile: Double, distance: Distance) -> QuantizedRows? {
        let measure = Measure(distance)
        guard measure != .l1 else {
            quantized = nil
            return nil
        }
        let q = QuantizedRows(dimension: dimension, quantile: quantile, measure: measure)
        q.train(rows: storage, norms: squaredNorms, count: count)
        quantized = q
        return q
    }

    /// Drops the int8 copy.
    public func disableQuantization() { quantized = nil }

    /// Screens exact searches with an int8 copy of the rows once the matrix holds `minRows` rows (now, when it
    /// already does): ``ExactSearch`` then scores every row in int8 with a proven error bound and recomputes
    /// exactly only the rows the bounds cannot rule out (``ScreenedSearch``). Results are the exact top k, ranked
    /// in double precision. The copy takes about a quarter of the float rows' memory. Manhattan is never screened.
    ///
    /// - Parameters:
    ///   - distance: the distance searches use (decides the screened key).
    ///   - minRows: rows from which the copy is kept (smaller matrices are scanned in float only).
    public func enableScreening(distance: Distance, minRows: Int = RowMatrix.screenMinRows) {
        guard Self.screeningExclusion(distance: distance, dimension: dimension) == nil else { return }
        screenMeasure = Measure(distance)
        screenMinRows = Swift.max(0, minRows)
        if screen == nil && count >= screenMinRows { buildScreen() }
    }

    /// Matrices smaller than this are not screened by default: their float scan takes well under a millisecond.
    public static let screenMinRows = 16_384

    /// Matrices with more dimensions than this are not screened.
    public static let screenMaxDimension = 65_536

    /// Why exact searches of a matrix are not screened by default, or `nil` when they are: the rule
    /// ``enableScreening(distance:minRows:)`` follows, in words (for reports).
    ///
    /// - Parameters:
    ///   - rows: the matrix's rows; `nil` leaves the size out (screening waits for ``screenMinRows``).
    public static func screeningExclusion(distance: Distance, dimension: Int, rows: Int? = nil) -> String? {
        if Measure(distance) == .l1 { return "Manhattan distance is never screened" }
        if dimension > screenMaxDimension { return "the screen takes at most \(screenMaxDimension) dimensions" }
        if let rows, rows < screenMinRows { return "collections under \(screenMinRows) points are not screened" }
        return nil
    }

    /// Stops screening and drops its copy.
    public func disableScreening() {
        screen = nil
        screenMeasure = nil
    }

    private func buildScreen() {
        guard let measure = screenMeasure else { return }
        // Every value kept unclipped: clipping would widen the bounds of the rows it touches.
        let s = QuantizedRows(dimension: dimension, quantile: 1, measure: measure)
        s.train(rows: storage, norms: squaredNorms, count: count)
        // As much room as the float rows: the copy then grows with them, never ahead of them.
        s.reserve(capacity)
        screen = s
    }

    /// Runs `body` with a read-only view of the matrix for searching (``ExactSearch``).
    ///
    /// ```swift
    /// let hits = matrix.withView { view in ExactSearch.search(view, query: q, k: 10, distance: .dot) }
    /// ```
    /// - Parameter body: Searches the view; the view is valid only during the call and must not be
    ///   stored. The caller keeps writers out meanwhile (the store holds its read lock).
    public func withView<R, E: Error>(_ body: (MatrixView) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(MatrixView(storage: storage, squaredNorms: squaredNorms, keys: keys, count: count, dimension: dimension,
                                quantized: quantized?.view, screen: screen?.view))
        }
    }
}

/// A read-only window on a ``RowMatrix`` for the duration of one ``RowMatrix/withView(_:)`` call.
///
/// Its buffers are not public: only ``ExactSearch`` reads them, inside that call.
public struct MatrixView: @unchecked Sendable {
    // @unchecked: raw pointers into a RowMatrix, valid during `withView`'s body, while the owner keeps
    // writers out. ExactSearch hands the view to worker threads and waits for all of them before it
    // returns, so no thread reads it after the body ends; nothing writes through it.
    let storage: UnsafePointer<Float>
    let squaredNorms: UnsafePointer<Float>
    let keys: UnsafePointer<RowKey>
    /// Rows in the view.
    public let count: Int
    /// Components per row.
    public let dimension: Int
    /// The int8 copy, when the matrix keeps one.
    let quantized: QuantizedView?
    /// Whether the view has an int8 copy to search.
    public var isQuantized: Bool { quantized != nil }
    /// The int8 copy screening exact searches, when the matrix keeps one.
    let screen: QuantizedView?
    /// Whether exact searches of this view are screened (``ScreenedSearch``).
    public var isScreened: Bool { screen != nil }

    init(storage: UnsafePointer<Float>, squaredNorms: UnsafePointer<Float>, keys: UnsafePointer<RowKey>, count: Int, dimension: Int,
         quantized: QuantizedView? = nil, screen: QuantizedView? = nil) {
        self.quantized = quantized
        self.screen = screen
        self.storage = storage
        self.squaredNorms = squaredNorms
        self.keys = keys
        self.count = count
        self.dimension = dimension
    }
}

import Foundation
import SwitchyardJSON

/// A dense row-major block of vectors read from a file.
public struct VectorBlock: Sendable, Equatable {
    public var count: Int
    public var dimension: Int
    /// `count × dimension` values.
    public var values: [Float]

    public init(count: Int, dimension: Int, values: [Float]) {
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Float] { Array(values[(i * dimension)..<((i + 1) * dimension)]) }
}

/// Integer rows (ground truth neighbour lists).
public struct IntBlock: Sendable, Equatable {
    public var count: Int
    public var dimension: Int
    public var values: [Int32]

    public init(count: Int, dimension: Int, values: [Int32]) {
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    public func row(_ i: Int) -> ArraySlice<Int32> { values[(i * dimension)..<((i + 1) * dimension)] }
}

/// The vector file formats Switchyard reads and writes.
public enum VectorFileFormat: String, Sendable, CaseIterable {
    case fvecs, ivecs, npy, jsonl

    /// The format implied by a path's extension.
    public init(path: String) throws(StoreError) {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "fvecs": self = .fvecs
        case "ivecs": self = .ivecs
        case "npy": self = .npy
        case "jsonl", "ndjson": self = .jsonl
        default: throw StoreError(.invalidFile, "'\(path)': unknown vector file type '.\(ext)' (use .fvecs, .ivecs, .npy or .jsonl)")
        }
    }
}

/// Reads TEXMEX `.fvecs` / `.ivecs` files (per row: little-endian int32 dimension, then that many
/// float32 or int32 values), optionally in batches so a large file never sits whole in memory.
public final class TexmexReader {
    public let path: String
    public let dimension: Int
    public let count: Int
    private let handle: FileHandle
    private var nextRow = 0
    private var scratch: [UInt8] = []

    /// Opens a file and checks its shape from the first header and the file size.
    ///
    /// - Throws: ``StoreError`` `invalidFile` for a missing, empty, truncated or inconsistent file.
    public init(path: String) throws(StoreError) {
        self.path = path
        let h: FileHandle
        do { h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) } catch {
            throw StoreError(.invalidFile, "cannot read '\(path)': \(fileErrorReason(error))")
        }
        handle = h
        let size: UInt64
        do { size = try h.seekToEnd(); try h.seek(toOffset: 0) } catch {
            throw StoreError(.invalidFile, "cannot read '\(path)': \(fileErrorReason(error))")
        }
        guard size >= 4, let head = try? h.read(upToCount: 4), head.count == 4 else {
            throw StoreError(.invalidFile, "'\(path)' is empty or shorter than one header")
        }
        let d = Int(Int32(littleEndian: head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        guard d > 0, d <= 1 << 20 else { throw StoreError(.invalidFile, "'\(path)': bad dimension \(d) in the first row header") }
        let rowBytes = UInt64(4 + 4 * d)
        guard size % rowBytes == 0 else {
            throw StoreError(.invalidFile, "'\(path)' is truncated or inconsistent: \(size) bytes is not a multiple of the \(rowBytes)-byte row (dimension \(d))")
        }
        dimension = d
        count = Int(size / rowBytes)
        try? h.seek(toOffset: 0)
    }

    deinit { try? handle.close() }

    /// Reads up to `maxRows` rows as raw 32-bit values (float bit patterns or ints); `nil` at the end.
    func nextRaw<T: BitwiseCopyable>(maxRows: Int, as: T.Type) throws(StoreError) -> (rows: Int, values: [T])? {
        let rows = min(maxRows, count - nextRow)
        guard rows > 0 else { return nil }
        let bytes = rows * (dimension + 1) * 4
        let data: Data
        do { data = try handle.read(upToCount: bytes) ?? Data() } catch {
            throw StoreError(.invalidFile, "cannot read '\(path)': \(fileErrorReason(error))")
        }
        guard data.count == bytes else { throw StoreError(.invalidFile, "'\(path)' ended early at row \(nextRow)") }
        let dimension = self.dimension
        var bad: (row: Int, dim: Int32)?
        let out = [T](unsafeUninitializedCapacity: rows * dimension) { buffer, initialized in
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let dst = UnsafeMutableRawBufferPointer(buffer)
                for r in 0..<rows {
                    let base = r * (dimension + 1) * 4
                    let d = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: Int32.self))
                    if d != dimension { bad = (r, d); break }
                    // Little-endian files on little-endian hosts: a straight copy.
                    dst.baseAddress!.advanced(by: r * dimension * 4)
                        .copyMemory(from: raw.baseAddress! + base + 4, byteCount: dimension * 4)
                }
            }
            initialized = bad == nil ? rows * dimension : 0
        }
        if let bad {
            throw StoreError(.invalidFile, "'\(path)': row \(nextRow + bad.row) has dimension \(bad.dim), expected \(dimension)")
        }
        nextRow += rows
        return (rows, out)
    }

    /// Reads up to `maxRows` rows into `values` (replacing its contents, reusing its capacity and an
    /// internal read buffer, so a loop over a large file allocates nothing per batch).
    ///
    /// - Returns: the rows read, 0 at the end.
    public func read(into values: inout [Float], maxRows: Int) throws(StoreError) -> Int {
        let rows = min(maxRows, count - nextRow)
        guard rows > 0 else { values.removeAll(keepingCapacity: true); return 0 }
        let rowBytes = (dimension + 1) * 4
        let bytes = rows * rowBytes
        if scratch.count < bytes { scratch = [UInt8](repeating: 0, count: bytes) }
        let fd = handle.fileDescriptor
        var got = 0
        while got < bytes {
            let n = scratch.withUnsafeMutableBytes { buf in Foundation.read(fd, buf.baseAddress! + got, bytes - got) }
            if n < 0 { throw StoreError(.invalidFile, "cannot read '\(path)' (errno \(errno))") }
            if n == 0 { throw StoreError(.invalidFile, "'\(path)' ended early at row \(nextRow)") }
            got += n
        }
        let dimension = self.dimension
        var badRow = -1
        var badDim: Int32 = 0
        values.removeAll(keepingCapacity: true)
        values.reserveCapacity(rows * dimension)
        scratch.withUnsafeBytes { raw in
            for r in 0..<rows {
                let base = r * rowBytes
                let d = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: Int32.self))
                if d != dimension { badRow = r; badDim = d; return }
                let floats = UnsafeRawBufferPointer(rebasing: raw[(base + 4)..<(base + rowBytes)]).assumingMemoryBound(to: Float.self)
                values.append(contentsOf: floats)
            }
        }
        if badRow >= 0 {
            throw StoreError(.invalidFile, "'\(path)': row \(nextRow + badRow) has dimension \(badDim), expected \(dimension)")
        }
        nextRow += rows
        return rows
    }

    /// The next batch of float rows, or `nil` at the end.
    public func nextFloats(maxRows: Int) throws(StoreError) -> VectorBlock? {
        guard let (rows, values) = try nextRaw(maxRows: maxRows, as: Float.self) else { return nil }
        return VectorBlock(count: rows, dimension: dimension, values: values)
    }

    /// Reads a whole `.fvecs` file.
    public static func readFloats(_ path: String) throws(StoreError) -> VectorBlock {
        let r = try TexmexReader(path: path)
        return try r.nextFloats(maxRows: r.count) ?? VectorBlock(count: 0, dimension: r.dimension, values: [])
    }

    /// Reads a whole `.ivecs` file.
    public static func readInts(_ path: String) throws(StoreError) -> IntBlock {
        let r = try TexmexReader(path: path)
        guard let (rows, values) = try r.nextRaw(maxRows: r.count, as: Int32.self) else {
            return IntBlock(count: 0, dimension: r.dimension, values: [])
        }
        return IntBlock(count: rows, dimension: r.dimension, values: values)
    }
}

/// Writes TEXMEX files.
public enum TexmexWriter {
    /// Writes `.fvecs` rows.
    public static func writeFloats(_ block: VectorBlock, to path: String) throws(StoreError) {
        try write(rows: block.count, dimension: block.dimension, path: path) { i in block.values[i].bitPattern }
    }

    /// Writes `.ivecs` rows.
    public static func writeInts(_ block: IntBlock, to path: String) throws(StoreError) {
        try write(rows: block.count, dimension: block.dimension, path: path) { i in UInt32(bitPattern: block.values[i]) }
    }

    private static func write(rows: Int, dimension d: Int, path: String, value: (Int) -> UInt32) throws(StoreError) {
        var data = Data(capacity: rows * (d + 1) * 4)
        for r in 0..<rows {
            withUnsafeBytes(of: Int32(d).littleEndian) { data.append(contentsOf: $0) }
            for j in 0..<d { withUnsafeBytes(of: value(r * d + j).littleEndian) { data.append(contentsOf: $0) } }
        }
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw StoreError(.invalidFile, "cannot write '\(path)': \(fileErrorReason(error))")
        }
    }
}

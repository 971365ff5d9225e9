import Foundation
import SwitchyardJSON

/// Reads NumPy `.npy` files holding a 1-D or 2-D little-endian `float32` or `int32` array in C order.
public enum NumpyFile {
    /// The element types understood.
    public enum ElementType: String, Sendable { case float32 = "<f4", int32 = "<i4" }

    struct Header {
        var type: ElementType
        var rows: Int
        var columns: Int
        var dataOffset: Int
    }

    static func header(_ data: Data, path: String) throws(StoreError) -> Header {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard data.count >= 10, Array(data.prefix(6)) == magic else {
            throw StoreError(.invalidFile, "'\(path)' is not a .npy file (bad magic)")
        }
        let major = data[data.startIndex + 6]
        let headerLen: Int
        let start: Int
        switch major {
        case 1:
            headerLen = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
            start = 10
        case 2, 3:
            guard data.count >= 12 else { throw StoreError(.invalidFile, "'\(path)': truncated .npy header") }
            headerLen = (0..<4).reduce(0) { $0 | Int(data[data.startIndex + 8 + $1]) << (8 * $1) }
            start = 12
        default: throw StoreError(.invalidFile, "'\(path)': unsupported .npy version \(major)")
        }
        guard data.count >= start + headerLen else { throw StoreError(.invalidFile, "'\(path)': truncated .npy header") }
        let text = String(decoding: data[(data.startIndex + start)..<(data.startIndex + start + headerLen)], as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let r = text.range(of: "'\(name)':") else { return nil }
            return String(text[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'") else {
            throw StoreError(.invalidFile, "'\(path)': .npy header has no 'descr'")
        }
        let afterQ = descrField[descrField.index(after: q1)...]
        guard let q2 = afterQ.firstIndex(of: "'") else { throw StoreError(.invalidFile, "'\(path)': bad 'descr'") }
        let descr = String(afterQ[..<q2])
        guard let type = ElementType(rawValue: descr == "<f4" || descr == "=f4" || descr == "f4" ? "<f4" : descr == "=i4" || descr == "i4" ? "<i4" : descr) else {
            throw StoreError(.invalidFile, "'\(path)': element type '\(descr)' is not supported (need little-endian float32 '<f4' or int32 '<i4')")
        }
        if let f = field("fortran_order"), f.hasPrefix("True") {
            throw StoreError(.invalidFile, "'\(path)': Fortran-order arrays are not supported (save with C order)")
        }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else {
            throw StoreError(.invalidFile, "'\(path)': .npy header has no 'shape'")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { Int($0) }
        guard !dims.contains(nil), (1...2).contains(dims.count) else {
            throw StoreError(.invalidFile, "'\(path)': shape must be 1-D or 2-D, got (\(dims.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")))")
        }
        guard dims.allSatisfy({ $0! >= 0 }) else {
            throw StoreError(.invalidFile, "'\(path)': negative dimension in shape")
        }
        // A 1-D float array is one vector; a 1-D int array one row of ids.
        let rows = dims.count == 2 ? dims[0]! : 1, columns = dims.count == 2 ? dims[1]! : dims[0]!
        let offset = start + headerLen
        let (cells, o1) = rows.multipliedReportingOverflow(by: columns)
        let (expected, o2) = cells.multipliedReportingOverflow(by: 4)
        guard !o1, !o2 else { throw StoreError(.invalidFile, "'\(path)': shape (\(rows), \(columns)) is too large") }
        guard data.count - offset == expected else {
            throw StoreError(.invalidFile, "'\(path)' is truncated or inconsistent: shape (\(rows), \(columns)) needs \(expected) data bytes, found \(data.count - offset)")
        }
        return Header(type: type, rows: rows, columns: columns, dataOffset: offset)
    }

    static func load(_ path: String) throws(StoreError) -> (Header, Data) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw StoreError(.invalidFile, "cannot read '\(path)': \(fileErrorReason(error))")
        }
        return (try header(data, path: path), data)
    }

    /// Reads a float32 array (a 1-D array is one vector).
    public static func readFloats(_ path: String) throws(StoreError) -> VectorBlock {
        let (h, data) = try load(path)
        guard h.type == .float32 else { throw StoreError(.invalidFile, "'\(path)' holds int32, expected float32") }
        let values: [Float] = data.withUnsafeBytes { raw in
            (0..<(h.rows * h.columns)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: h.dataOffset + 4 * $0, as: UInt32.self))) }
        }
        return VectorBlock(count: h.rows, dimension: h.columns, values: values)
    }

    /// Reads an int32 array (a 1-D array is one row).
    public static func readInts(_ path: String) throws(StoreError) -> IntBlock {
        let (h, data) = try load(path)
        guard h.type == .int32 else { throw StoreError(.invalidFile, "'\(path)' holds float32, expected int32") }
        let values: [Int32] = data.withUnsafeBytes { raw in
            (0..<(h.rows * h.columns)).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: h.dataOffset + 4 * $0, as: Int32.self)) }
        }
        return IntBlock(count: h.rows, dimension: h.columns, values: values)
    }

    /// Writes a 2-D float32 array in C order (version 1.0 header).
    public static func writeFloats(_ block: VectorBlock, to path: String) throws(StoreError) {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(block.count), \(block.dimension)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let len = UInt16(header.utf8.count)
        data.append(UInt8(len & 0xff))
        data.append(UInt8(len >> 8))
        data.append(contentsOf: Array(header.utf8))
        block.values.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw StoreError(.invalidFile, "cannot write '\(path)': \(fileErrorReason(error))")
        }
    }
}

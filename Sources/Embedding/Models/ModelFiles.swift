import Foundation
import SwitchyardJSON

/// Reading a model directory's files, with errors that name the file.
enum ModelFiles {
    /// The file's bytes.
    static func read(_ path: String) throws(EmbeddingError) -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw .io("model file \(path) does not exist") }
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .io("cannot read model file \(path)", cause: "\(error)")
        }
    }

    /// The file parsed as JSON.
    static func readJSON(_ path: String) throws(EmbeddingError) -> JSONValue {
        let data = try read(path)
        do {
            return try data.withUnsafeBytes { raw throws(JSONParser.Failure) in
                try JSONParser.parse(bytes: raw.bindMemory(to: UInt8.self))
            }
        } catch {
            throw .invalidInput("model file \(path) is not valid JSON", cause: "\(error)")
        }
    }

    /// An integer field of a JSON object, or `nil` when absent.
    static func integer(_ object: [String: JSONValue], _ key: String) -> Int? {
        switch object[key] {
        case .int(let i)?: Int(i)
        case .uint(let u)?: Int(u)
        default: nil
        }
    }
}

/// The float32 tensors of a `.safetensors` file (an 8-byte header length, a JSON header of names,
/// dtypes, shapes and byte ranges, then the data).
struct SafeTensors {
    /// Name → (shape, values).
    private(set) var tensors: [String: (shape: [Int], values: [Float])] = [:]
    let path: String

    /// Reads every `F32` tensor of the file (other dtypes, such as `position_ids`, are skipped).
    ///
    /// - Throws: ``EmbeddingError``: `io` for an unreadable file, `invalidInput` for a malformed one.
    init(path: String) throws(EmbeddingError) {
        self.path = path
        let data = try ModelFiles.read(path)
        func fail(_ what: String) -> EmbeddingError { .invalidInput("\(path) is not a valid safetensors file: \(what)") }
        guard data.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        let declared = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared > 0, declared <= UInt64(data.count - 8) else { throw fail("header length \(declared) exceeds the file") }
        let headerLength = Int(declared)
        let header: JSONValue
        do {
            header = try data.withUnsafeBytes { raw throws(JSONParser.Failure) in
                try JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[8..<(8 + headerLength)]))
            }
        } catch { throw fail("header: \(error)") }
        guard let entries = header.objectValue else { throw fail("the header is not a JSON object") }
        let base = 8 + headerLength
        for (name, entry) in entries where name != "__metadata__" {
            guard let o = entry.objectValue, let dtype = o["dtype"]?.stringValue,
                  let shape = o["shape"]?.arrayValue?.compactMap({ $0.numberValue.map { Int($0) } }),
                  let offsets = o["data_offsets"]?.arrayValue?.compactMap({ $0.numberValue.map { Int($0) } }), offsets.count == 2
            else { throw fail("tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { continue }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else { throw fail("tensor '\(name)' has shape \(shape)") }
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= data.count else { throw fail("tensor '\(name)' of shape \(shape) is larger than the file") }
                count = product
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= data.count - base, offsets[1] - offsets[0] == count * 4 else {
                throw fail("tensor '\(name)' of shape \(shape) has byte range \(offsets), which does not fit it or the file")
            }
            let (start, end) = (base + offsets[0], base + offsets[1])
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    let source = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                    for i in 0..<count {
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    }
                }
                initialized = count
            }
            tensors[name] = (shape, values)
        }
    }

    /// The tensor's values, checked against the expected shape.
    func tensor(_ name: String, shape: [Int]) throws(EmbeddingError) -> [Float] {
        guard let t = tensors[name] else { throw .invalidInput("\(path) lacks the float32 tensor '\(name)'") }
        guard t.shape == shape else {
            throw .invalidInput("\(path): tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        return t.values
    }
}

import Foundation
import Switchyard

extension CollectionInfo {
    var json: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "dimension": .int(Int64(dimension)), "distance": .string(distance.rawValue),
            "points_count": .int(Int64(pointCount)), "aliases": .array(aliases.map { .string($0) }),
            "created_at": .string(ISO8601DateFormatter().string(from: createdAt)),
        ]
        if let quantization { o["quantization_config"] = quantization.json }
        return .object(o)
    }
}

extension Record {
    var json: JSONValue {
        var o: [String: JSONValue] = ["id": id.json]
        if let payload { o["payload"] = .object(payload) }
        if let vector { o["vector"] = .array(vector.map { .double(Double("\($0)") ?? Double($0)) }) }
        return .object(o)
    }
}

extension ScoredPoint {
    var json: JSONValue {
        var o: [String: JSONValue] = ["id": id.json, "score": .double(Double("\(score)") ?? Double(score))]
        if let payload { o["payload"] = .object(payload) }
        if let vector { o["vector"] = .array(vector.map { .double(Double("\($0)") ?? Double($0)) }) }
        return .object(o)
    }
}

/// Parses a comma-separated list of point ids.
func parseIDs(_ text: String) throws -> [PointID] {
    try text.split(separator: ",").map { part in
        let t = part.trimmingCharacters(in: .whitespaces)
        guard let id = PointID(parsing: t) else {
            throw CLIFailure(message: "invalid point id '\(t)': use a non-negative integer or a UUID")
        }
        return id
    }
}

/// Parses a filter given inline (`{...}`) or as `@file.json`.
func parseFilter(_ text: String?) throws -> Filter? {
    guard let text else { return nil }
    if text.hasPrefix("@") {
        let path = String(text.dropFirst())
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(message: "cannot read filter file '\(path)'")
        }
        return try Filter(json: String(decoding: data, as: UTF8.self))
    }
    return try Filter(json: text)
}

/// Reads one query vector: inline JSON array, or the first row of a vector file.
func parseQueryVector(inline: String?, file: String?) throws -> [Float] {
    switch (inline, file) {
    case (let v?, nil):
        let value: JSONValue
        do { value = try JSONParser.parse(v) } catch { throw CLIFailure(message: "--vector: \(error)") }
        guard case .array(let a) = value else { throw CLIFailure(message: "--vector must be a JSON array of numbers") }
        return try JSONLinesFile.floats(a, at: "--vector")
    case (nil, let f?):
        let block = try readVectors(f)
        guard block.count > 0 else { throw CLIFailure(message: "'\(f)' holds no vectors") }
        return block.row(0)
    default:
        throw CLIFailure(message: "give exactly one of --vector or --vector-file")
    }
}

/// Reads a whole vector file (`.fvecs`, `.npy` or `.jsonl` of arrays / point objects).
func readVectors(_ path: String) throws -> VectorBlock {
    switch try VectorFileFormat(path: path) {
    case .fvecs: return try TexmexReader.readFloats(path)
    case .npy: return try NumpyFile.readFloats(path)
    case .ivecs: throw CLIFailure(message: "'\(path)' is an .ivecs (integer) file; vectors must be .fvecs, .npy or .jsonl")
    case .jsonl:
        var values: [Float] = []
        var dim = -1
        var n = 0
        for (line, v) in try JSONLinesFile.read(path) {
            let arr: [JSONValue]
            switch v {
            case .array(let a): arr = a
            case .object(let o):
                guard case .array(let a)? = o["vector"] else { throw CLIFailure(message: "\(path):\(line): missing 'vector'") }
                arr = a
            default: throw CLIFailure(message: "\(path):\(line): expected an array or an object with 'vector'")
            }
            if dim < 0 { dim = arr.count }
            guard arr.count == dim else {
                throw CLIFailure(message: "\(path):\(line): vector has \(arr.count) components, earlier lines have \(dim)")
            }
            values += try JSONLinesFile.floats(arr, at: "\(path):\(line): vector")
            n += 1
        }
        return VectorBlock(count: n, dimension: max(dim, 0), values: values)
    }
}

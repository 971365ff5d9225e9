import Foundation
import SwitchyardJSON

/// Reads JSON Lines files: one JSON value per line; blank lines are skipped.
public enum JSONLinesFile {
    /// Every line's value, with its 1-based line number.
    ///
    /// - Throws: ``StoreError`` `invalidFile` naming the file and line of the first malformed one.
    public static func read(_ path: String) throws(StoreError) -> [(line: Int, value: JSONValue)] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw StoreError(.invalidFile, "cannot read '\(path)': \(fileErrorReason(error))")
        }
        var out: [(Int, JSONValue)] = []
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { continue }
            do {
                let v = try Array(line).withUnsafeBufferPointer { try JSONParser.parse(bytes: $0) }
                out.append((lineNo, v))
            } catch {
                throw StoreError(.invalidFile, "\(path):\(lineNo): \(error)")
            }
        }
        return out
    }

    /// Reads points from JSON Lines: each line `{"id": 1, "vector": [...], "payload": {...}}`.
    ///
    /// - Throws: ``StoreError`` `invalidFile` naming the line of a missing or malformed member.
    public static func readPoints(_ path: String) throws(StoreError) -> [Point] {
        var points: [Point] = []
        for (line, v) in try read(path) {
            guard case .object(let o) = v else { throw StoreError(.invalidFile, "\(path):\(line): expected an object with id and vector") }
            guard let idValue = o["id"], let id = PointID(json: idValue) else {
                throw StoreError(.invalidFile, "\(path):\(line): 'id' must be a non-negative integer or a UUID string")
            }
            guard case .array(let comps)? = o["vector"] else { throw StoreError(.invalidFile, "\(path):\(line): missing 'vector' array") }
            let vector = try floats(comps, at: "\(path):\(line): vector")
            var payload: Payload = [:]
            if let p = o["payload"], p != .null {
                guard case .object(let po) = p else { throw StoreError(.invalidFile, "\(path):\(line): 'payload' must be an object") }
                payload = po
            }
            points.append(Point(id: id, vector: vector, payload: payload))
        }
        return points
    }

    /// A JSON array of numbers as floats; `place` names it in the error (e.g. `f.jsonl:3: vector`).
    public static func floats(_ values: [JSONValue], at place: String) throws(StoreError) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(values.count)
        for (j, c) in values.enumerated() {
            guard let x = c.numberValue else { throw StoreError(.invalidFile, "\(place)[\(j)] is not a number") }
            out.append(Float(x))
        }
        return out
    }

    /// Reads payload objects, one per line (`null` or `{}` for none).
    public static func readPayloads(_ path: String) throws(StoreError) -> [Payload?] {
        try read(path).map { (line, v) throws(StoreError) -> Payload? in
            switch v {
            case .null: return nil
            case .object(let o): return o
            default: throw StoreError(.invalidFile, "\(path):\(line): a payload must be a JSON object")
            }
        }
    }
}

import Foundation

/// Any JSON value, decoded with `JSONDecoder`, for records whose fields are not known in advance.
enum JSONValue: Equatable, Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses one JSON text.
    static func parse(_ data: Data) -> Result<JSONValue, JSONProblem> {
        do {
            return .success(try JSONDecoder().decode(JSONValue.self, from: data))
        } catch let DecodingError.dataCorrupted(context) {
            var reason = context.debugDescription
            if let underlying = context.underlyingError {
                let text = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
                if let text, !text.isEmpty { reason = text }
            }
            return .failure(JSONProblem(message: "malformed JSON: \(reason)"))
        } catch {
            return .failure(JSONProblem(message: "malformed JSON: \(error)"))
        }
    }

    /// The value as metadata text: strings as they are, anything else as compact JSON with sorted keys.
    var metadataText: String {
        if case .string(let s) = self { return s }
        return jsonText
    }

    /// Compact JSON with object keys sorted.
    var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// Every string value, depth first, object members in key order.
    func collectStrings(into out: inout [String]) {
        switch self {
        case .string(let s): out.append(s)
        case .array(let items): for item in items { item.collectStrings(into: &out) }
        case .object(let members):
            for key in members.keys.sorted() { members[key]!.collectStrings(into: &out) }
        case .null, .bool, .integer, .number: break
        }
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// Why a JSON text could not be read.
struct JSONProblem: Error {
    var message: String
}

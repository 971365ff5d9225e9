import Testing
import SwitchyardJSON
import _SwitchyardTestSupport

@Suite("JSONParser")
struct JSONParserTests {
    @Test("integers stay integers, everything else is a double", arguments: [
        ("0", JSONValue.int(0)), ("-0", .int(0)), ("42", .int(42)), ("-17", .int(-17)),
        ("9223372036854775807", .int(Int64.max)), ("-9223372036854775808", .int(Int64.min)),
        ("9223372036854775808", .uint(9_223_372_036_854_775_808)), ("18446744073709551615", .uint(UInt64.max)),
        ("18446744073709551616", .double(18446744073709551616.0)), ("-9223372036854775809", .double(-9223372036854775809.0)),
        ("1.0", .double(1)), ("1e2", .double(100)), ("1E+2", .double(100)), ("-2.5e-3", .double(-0.0025)),
        ("0.1", .double(0.1)), ("9007199254740993", .int(9_007_199_254_740_993)),
    ])
    func numbers(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(text) == expected)
        #expect(try JSONParser.parse(" \n\t\(text)\r\n ") == expected, "surrounding white space")
    }

    @Test("an integer and a float of the same value are different values")
    func intVersusDouble() throws {
        #expect(try JSONParser.parse("1") != JSONParser.parse("1.0"))
        #expect(try JSONParser.parse("1").numberValue == JSONParser.parse("1.0").numberValue)
        #expect(try JSONParser.parse("1").typeName == "integer")
        #expect(try JSONParser.parse("18446744073709551615").typeName == "integer")
        #expect(try JSONParser.parse("1.5").typeName == "number")
    }

    @Test("literals, arrays, objects")
    func structure() throws {
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("{}") == .object([:]))
        #expect(try JSONParser.parse(#"[1, "a", [null], {"b": false}]"#) == [1, "a", [nil], ["b": false]])
        let o = try JSONParser.parse(#"{ "a" : { "b" : [ 1 , 2.5 ] } , "c":"d" }"#)
        #expect(o == ["a": ["b": [1, 2.5]], "c": "d"])
        #expect(o["c"]?.stringValue == "d")
        #expect(o["a"]?["b"]?.arrayValue?.count == 2)
        #expect(o["zzz"] == nil)
        // A repeated member keeps the last value.
        #expect(try JSONParser.parse(#"{"a": 1, "a": 2}"#) == ["a": 2])
    }

    @Test("string escapes", arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"),
        (#""\u0000x""#, "\u{0}x"),
        (#""plain é 😀""#, "plain é 😀"),
        (#""a\nb""#, "a\nb"),
        (#""\ud83d\ude00""#, "😀"),
        (#""x\uD834\uDD1Ey""#, "x𝄞y"),
        (#""""#, ""),
    ])
    func escapes(text: String, expected: String) throws {
        #expect(try JSONParser.parse(text) == .string(expected))
    }

    @Test("errors name the byte offset and the problem", arguments: [
        ("", 0, "end of input"),
        ("   ", 3, "end of input"),
        ("[1,]", 3, "unexpected ']'"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a":1,}"#, 7, "member name"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("01", 1, "leading zeros"),
        ("1.", 2, "after '.'"),
        ("1e", 2, "exponent"),
        ("-", 1, "expected a digit"),
        ("+1", 0, "unexpected '+'"),
        ("tru", 0, "true"),
        ("nul!", 0, "null"),
        ("[1] x", 4, "after the value"),
        (#""abc"#, 4, "unterminated"),
        ("\"a\u{01}\"", 2, "control character"),
        (#""\x""#, 3, "invalid escape"),
        (#""\u12G4""#, 5, "hex digit"),
        (#""\ud83d""#, 7, "lone high surrogate"),
        (#""\ud83dx""#, 7, "lone high surrogate"),
        (#""\ud83d\u0041""#, 13, "invalid low surrogate"),
        (#""\ude00""#, 7, "lone low surrogate"),
        ("1e400", 0, "out of range"),
        ("[-1e999]", 1, "out of range"),
        ("'a'", 0, "unexpected"),
        ("NaN", 0, "unexpected"),
    ])
    func errors(text: String, offset: Int, reason: String) {
        let error = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
        #expect(error?.offset == offset, "\(error?.description ?? "no error") for \(text)")
        #expect(error?.reason.contains(reason) == true, "\(error?.description ?? "no error") for \(text)")
        #expect(error?.description.hasPrefix("invalid JSON at byte \(offset): ") == true)
    }

    @Test("invalid UTF-8 is rejected with its offset")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"["ok", "a"#.utf8) + [0xC3, 0x28] + Array(#""]"#.utf8)
        let error = #expect(throws: JSONParser.Failure.self) {
            try bytes.withUnsafeBufferPointer { try JSONParser.parse(bytes: $0) }
        }
        #expect(error?.reason.contains("UTF-8") == true)
        #expect(error?.offset == 8)
    }

    @Test("nesting is limited, not a stack overflow")
    func depth() throws {
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "[", count: 100_000)
        let error = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
        #expect(error?.reason.contains("nesting") == true)
    }

    @Test("jsonText prints compact, sorted, and keeps floats floats")
    func printing() throws {
        #expect(JSONValue.object(["b": 1, "a": [true, nil], "c": "x\"y"]).jsonText == #"{"a":[true,null],"b":1,"c":"x\"y"}"#)
        #expect(JSONValue.double(1).jsonText == "1.0")
        #expect(JSONValue.double(-0.5).jsonText == "-0.5")
        #expect(try JSONParser.parse(JSONValue.double(1e20).jsonText) == .double(1e20))
        #expect(JSONValue.double(.nan).jsonText == "null")
        #expect(JSONValue.double(.infinity).jsonText == "null")
        #expect(JSONValue.uint(UInt64.max).jsonText == "18446744073709551615")
        #expect(JSONValue.string("\u{01}\n\t\\").jsonText == #""\u0001\n\t\\""#)
        #expect(JSONValue.string("héllo wörld 😀 €").jsonText == "\"héllo wörld 😀 €\"")
        #expect(JSONValue.string("é\"😀\u{1F}").jsonText == #""é\"😀\u001f""#)
        #expect(JSONValue.string("").jsonText == #""""#)
        #expect(JSONValue.object([:]).prettyJSONText == "{}")
        #expect(JSONValue.object(["a": [1]]).prettyJSONText == "{\n  \"a\": [\n    1\n  ]\n}")
    }

    /// A random value: every kind, unusual strings, extreme numbers.
    static func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        let kinds = depth > 3 ? 6 : 8
        switch rng.nextInt(below: kinds) {
        case 0: return .null
        case 1: return .bool(rng.next() & 1 == 0)
        case 2:
            let choices: [Int64] = [0, -1, 1, Int64.max, Int64.min, 9_007_199_254_740_993]
            return .int(rng.nextInt(below: 3) == 0 ? choices[rng.nextInt(below: choices.count)] : Int64(bitPattern: rng.next()) >> Int64(rng.nextInt(below: 63)))
        case 3: return .uint(UInt64(Int64.max) + 1 + rng.next() % (UInt64.max - UInt64(Int64.max)))
        case 4:
            var d: Double
            repeat { d = Double(bitPattern: rng.next()) } while !d.isFinite
            let choices: [Double] = [0, 1, -1.5, 0.1, 1e-300, 1.7976931348623157e308, 1.2345678901234568e+20, .leastNonzeroMagnitude, d]
            return .double(choices[rng.nextInt(below: choices.count)])
        case 5: return .string(randomString(&rng))
        case 6: return .array((0..<rng.nextInt(below: 4)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<rng.nextInt(below: 4) { o[randomString(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    static func randomString(_ rng: inout SplitMix64) -> String {
        let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{2028}", "𝄞", ".", "[]"]
        return (0..<rng.nextInt(below: 6)).map { _ in pieces[rng.nextInt(below: pieces.count)] }.joined()
    }

    @Test("jsonText and prettyJSONText read back to the same value")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 2024)
        for _ in 0..<500 {
            let v = Self.randomValue(&rng, depth: 0)
            let compact = v.jsonText
            #expect(try JSONParser.parse(compact) == v, "\(compact)")
            #expect(try JSONParser.parse(v.prettyJSONText) == v, "\(v.prettyJSONText)")
            // Printing is deterministic: the text of the read-back value is the same text.
            #expect(try JSONParser.parse(compact).jsonText == compact)
        }
    }
}

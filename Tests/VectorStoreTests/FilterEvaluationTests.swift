import Foundation
import Testing
import VectorStore

/// Filter semantics, with Qdrant's edge rules.
@Suite("Filter evaluation")
struct FilterEvaluationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var filter: String
        var payload: String
        var expected: Bool
        var id: PointID = .number(1)
        var testDescription: String { "\(filter) on \(payload) → \(expected)" }
    }

    static func c(_ filter: String, _ payload: String, _ expected: Bool, id: PointID = .number(1)) -> Case {
        Case(filter: filter, payload: payload, expected: expected, id: id)
    }

    static func evaluate(_ c: Case) throws -> Bool {
        let f = try Filter(json: c.filter)
        guard case .object(let payload) = try JSONParser.parse(c.payload) else { throw CocoaError(.coderInvalidValue) }
        return f.matches(id: c.id, payload: payload)
    }

    static let match: [Case] = [
        c(#"{"must": {"key": "city", "match": {"value": "Berlin"}}}"#, #"{"city": "Berlin"}"#, true),
        c(#"{"must": {"key": "city", "match": {"value": "Berlin"}}}"#, #"{"city": "berlin"}"#, false),
        // A missing field makes match, range and except false.
        c(#"{"must": {"key": "city", "match": {"value": "Berlin"}}}"#, #"{}"#, false),
        c(#"{"must": {"key": "n", "range": {"gte": 0}}}"#, #"{}"#, false),
        c(#"{"must": {"key": "n", "range": {"gte": 0}}}"#, #"{"n": null}"#, false),
        c(#"{"must": {"key": "city", "match": {"except": ["Paris"]}}}"#, #"{}"#, false),
        c(#"{"must": {"key": "city", "match": {"except": ["Paris"]}}}"#, #"{"city": null}"#, false),
        c(#"{"must": {"key": "city", "match": {"except": ["Paris"]}}}"#, #"{"city": "Rome"}"#, true),
        c(#"{"must": {"key": "city", "match": {"except": ["Paris"]}}}"#, #"{"city": "Paris"}"#, false),
        // ... so must_not of a missing field's match holds.
        c(#"{"must_not": {"key": "city", "match": {"value": "Berlin"}}}"#, #"{}"#, true),
        c(#"{"must_not": {"key": "city", "match": {"value": "Berlin"}}}"#, #"{"city": "Berlin"}"#, false),
        // An integer match never equals a stored float, nor a string of digits.
        c(#"{"must": {"key": "n", "match": {"value": 1}}}"#, #"{"n": 1}"#, true),
        c(#"{"must": {"key": "n", "match": {"value": 1}}}"#, #"{"n": 1.0}"#, false),
        c(#"{"must": {"key": "n", "match": {"value": 1}}}"#, #"{"n": "1"}"#, false),
        c(#"{"must": {"key": "n", "match": {"value": "1"}}}"#, #"{"n": 1}"#, false),
        c(#"{"must": {"key": "n", "match": {"any": [1, 2]}}}"#, #"{"n": 2.0}"#, false),
        c(#"{"must": {"key": "b", "match": {"value": true}}}"#, #"{"b": true}"#, true),
        c(#"{"must": {"key": "b", "match": {"value": true}}}"#, #"{"b": 1}"#, false),
        c(#"{"must": {"key": "n", "match": {"value": -9223372036854775808}}}"#, #"{"n": -9223372036854775808}"#, true),
        // An array field matches when any element does.
        c(#"{"must": {"key": "tags", "match": {"value": "b"}}}"#, #"{"tags": ["a", "b"]}"#, true),
        c(#"{"must": {"key": "tags", "match": {"value": "c"}}}"#, #"{"tags": ["a", "b"]}"#, false),
        c(#"{"must": {"key": "tags", "match": {"any": ["c", "a"]}}}"#, #"{"tags": ["a", "b"]}"#, true),
        c(#"{"must": {"key": "tags", "match": {"any": []}}}"#, #"{"tags": ["a", "b"]}"#, false),
        c(#"{"must": {"key": "tags", "match": {"except": ["a"]}}}"#, #"{"tags": ["a", "b"]}"#, true),
        c(#"{"must": {"key": "tags", "match": {"except": ["a", "b"]}}}"#, #"{"tags": ["a", "b"]}"#, false),
        c(#"{"must": {"key": "tags", "match": {"except": ["a"]}}}"#, #"{"tags": []}"#, false),
        c(#"{"must": {"key": "n", "range": {"gt": 5}}}"#, #"{"n": [1, 7]}"#, true),
        c(#"{"must": {"key": "n", "range": {"gt": 5}}}"#, #"{"n": [1, 5]}"#, false),
        c(#"{"must": {"key": "text", "match": {"text": "ell"}}}"#, #"{"text": "Hello"}"#, true),
        c(#"{"must": {"key": "text", "match": {"text": "ELL"}}}"#, #"{"text": "Hello"}"#, false),
        c(#"{"must": {"key": "text", "match": {"text": "ell"}}}"#, #"{"text": ["x", "bell"]}"#, true),
    ]

    static let ranges: [Case] = [
        c(#"{"must": {"key": "n", "range": {"gt": 1}}}"#, #"{"n": 1}"#, false),
        c(#"{"must": {"key": "n", "range": {"gte": 1}}}"#, #"{"n": 1}"#, true),
        c(#"{"must": {"key": "n", "range": {"lt": 1}}}"#, #"{"n": 1.0}"#, false),
        c(#"{"must": {"key": "n", "range": {"lte": 1}}}"#, #"{"n": 1.0}"#, true),
        c(#"{"must": {"key": "n", "range": {"gt": 0.5, "lt": 1.5}}}"#, #"{"n": 1}"#, true),
        c(#"{"must": {"key": "n", "range": {"gt": 0.5, "lt": 1.5}}}"#, #"{"n": 2}"#, false),
        c(#"{"must": {"key": "n", "range": {}}}"#, #"{"n": 2}"#, true),
        c(#"{"must": {"key": "n", "range": {}}}"#, #"{"n": "2"}"#, false),
        c(#"{"must": {"key": "n", "range": {"gt": 1e19}}}"#, #"{"n": 18446744073709551615}"#, true),
        c(#"{"must": {"key": "n", "range": {"gte": -1}}}"#, #"{"n": true}"#, false),
    ]

    static let clauses: [Case] = [
        // An empty filter, and empty clauses, impose nothing.
        c("{}", #"{}"#, true),
        c(#"{"should": []}"#, #"{"a": 1}"#, true),
        c(#"{"must": [], "should": [], "must_not": []}"#, #"{}"#, true),
        c(#"{"must": {"key": "a", "match": {"value": 1}}, "should": []}"#, #"{"a": 1}"#, true),
        // should: at least one.
        c(#"{"should": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"b": 1}"#, true),
        c(#"{"should": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"c": 1}"#, false),
        c(#"{"should": {"key": "a", "match": {"value": 1}}}"#, #"{"a": 1}"#, true),
        // must: all.
        c(#"{"must": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"a": 1, "b": 1}"#, true),
        c(#"{"must": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"a": 1, "b": 2}"#, false),
        // must_not: none.
        c(#"{"must_not": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"a": 2, "b": 1}"#, false),
        c(#"{"must_not": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]}"#, #"{"a": 2, "b": 2}"#, true),
        // Clauses combine.
        c(#"{"must": {"key": "a", "match": {"value": 1}}, "must_not": {"key": "b", "match": {"value": 1}}, "should": {"key": "c", "match": {"value": 1}}}"#,
          #"{"a": 1, "b": 2, "c": 1}"#, true),
        c(#"{"must": {"key": "a", "match": {"value": 1}}, "must_not": {"key": "b", "match": {"value": 1}}, "should": {"key": "c", "match": {"value": 1}}}"#,
          #"{"a": 1, "b": 2, "c": 2}"#, false),
        // Sub-filters nest.
        c(#"{"must": {"should": [{"key": "a", "match": {"value": 1}}, {"must_not": {"key": "a", "match": {"value": 2}}}]}}"#, #"{"a": 3}"#, true),
        c(#"{"must": {"should": [{"key": "a", "match": {"value": 1}}, {"must_not": {"key": "a", "match": {"value": 2}}}]}}"#, #"{"a": 2}"#, false),
        // min_should.
        c(#"{"min_should": {"conditions": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}, {"key": "c", "match": {"value": 1}}], "min_count": 2}}"#,
          #"{"a": 1, "c": 1}"#, true),
        c(#"{"min_should": {"conditions": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}, {"key": "c", "match": {"value": 1}}], "min_count": 2}}"#,
          #"{"a": 1, "c": 2}"#, false),
        c(#"{"min_should": {"conditions": [{"key": "a", "match": {"value": 1}}], "min_count": 0}}"#, #"{}"#, true),
    ]

    static let uuid = "550e8400-e29b-41d4-a716-446655440000"

    static let special: [Case] = [
        // has_id.
        c(#"{"must": {"has_id": [1, 3]}}"#, "{}", true, id: .number(3)),
        c(#"{"must": {"has_id": [1, 3]}}"#, "{}", false, id: .number(2)),
        c(#"{"must": {"has_id": []}}"#, "{}", false, id: .number(2)),
        c(#"{"must": {"has_id": ["\#(uuid)"]}}"#, "{}", true, id: PointID(parsing: uuid.uppercased())!),
        c(#"{"must_not": {"has_id": [18446744073709551615]}}"#, "{}", false, id: .number(UInt64.max)),
        // is_empty: missing, null or [].
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{}"#, true),
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{"a": null}"#, true),
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{"a": []}"#, true),
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{"a": [1]}"#, false),
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{"a": 0}"#, false),
        c(#"{"must": {"is_empty": {"key": "a"}}}"#, #"{"a": ""}"#, false),
        c(#"{"must": {"is_empty": {"key": "a.b"}}}"#, #"{"a": {"c": 1}}"#, true),
        c(#"{"must": {"is_empty": {"key": "a.b"}}}"#, #"{"a": {"b": 1}}"#, false),
        // is_null: present and null.
        c(#"{"must": {"is_null": {"key": "a"}}}"#, #"{"a": null}"#, true),
        c(#"{"must": {"is_null": {"key": "a"}}}"#, #"{}"#, false),
        c(#"{"must": {"is_null": {"key": "a"}}}"#, #"{"a": []}"#, false),
        c(#"{"must": {"is_null": {"key": "a"}}}"#, #"{"a": 0}"#, false),
        // values_count: array elements; a scalar counts one.
        c(#"{"must": {"key": "a", "values_count": {"gte": 3}}}"#, #"{"a": [1, 2, 3]}"#, true),
        c(#"{"must": {"key": "a", "values_count": {"lt": 3}}}"#, #"{"a": [1, 2, 3]}"#, false),
        c(#"{"must": {"key": "a", "values_count": {"gt": 0, "lt": 2}}}"#, #"{"a": "x"}"#, true),
        c(#"{"must": {"key": "a", "values_count": {"gt": 1}}}"#, #"{"a": []}"#, false),
        c(#"{"must": {"key": "a[].b", "values_count": {"gte": 2}}}"#, #"{"a": [{"b": 1}, {"b": 2}]}"#, true),
        // Dotted keys go into nested objects; [] and [i] into arrays.
        c(#"{"must": {"key": "a.b.c", "match": {"value": 5}}}"#, #"{"a": {"b": {"c": 5}}}"#, true),
        c(#"{"must": {"key": "a.b.c", "match": {"value": 5}}}"#, #"{"a": {"b": 5}}"#, false),
        c(#"{"must": {"key": "a.b.c", "match": {"value": 5}}}"#, #"{"a.b.c": 5}"#, false),
        c(#"{"must": {"key": "a[].b", "match": {"value": 5}}}"#, #"{"a": [{"b": 4}, {"b": 5}]}"#, true),
        c(#"{"must": {"key": "a[1].b", "match": {"value": 5}}}"#, #"{"a": [{"b": 4}, {"b": 5}]}"#, true),
        c(#"{"must": {"key": "a[0].b", "match": {"value": 5}}}"#, #"{"a": [{"b": 4}, {"b": 5}]}"#, false),
        c(#"{"must": {"key": "a[5].b", "match": {"value": 5}}}"#, #"{"a": [{"b": 4}, {"b": 5}]}"#, false),
        c(#"{"must": {"key": "a[]", "match": {"value": 5}}}"#, #"{"a": [4, 5]}"#, true),
        c(#"{"must": {"key": "m[][]", "match": {"value": 5}}}"#, #"{"m": [[1], [2, 5]]}"#, true),
    ]

    // nested: one and the same element must satisfy the whole inner filter; a plain a[].b filter lets
    // different elements satisfy different conditions.
    static let items = #"{"items": [{"color": "red", "size": 1}, {"color": "blue", "size": 2}]}"#
    static let nested: [Case] = [
        c(#"{"must": [{"key": "items[].color", "match": {"value": "red"}}, {"key": "items[].size", "match": {"value": 2}}]}"#, items, true),
        c(#"{"must": {"nested": {"key": "items", "filter": {"must": [{"key": "color", "match": {"value": "red"}}, {"key": "size", "match": {"value": 2}}]}}}}"#, items, false),
        c(#"{"must": {"nested": {"key": "items", "filter": {"must": [{"key": "color", "match": {"value": "blue"}}, {"key": "size", "match": {"value": 2}}]}}}}"#, items, true),
        c(#"{"must": {"nested": {"key": "items", "filter": {"must_not": {"key": "color", "match": {"value": "red"}}}}}}"#, items, true),
        c(#"{"must": {"nested": {"key": "items", "filter": {"must": {"key": "size", "range": {"gt": 5}}}}}}"#, items, false),
        c(#"{"must": {"nested": {"key": "missing", "filter": {}}}}"#, items, false),
        c(#"{"must": {"nested": {"key": "items", "filter": {}}}}"#, #"{"items": []}"#, false),
        c(#"{"must": {"nested": {"key": "o.items", "filter": {"must": {"key": "size", "match": {"value": 2}}}}}}"#,
          #"{"o": {"items": [{"size": 2}]}}"#, true),
        c(#"{"must_not": {"nested": {"key": "items", "filter": {"must": [{"key": "color", "match": {"value": "red"}}, {"key": "size", "match": {"value": 2}}]}}}}"#, items, true),
    ]

    @Test("match, except and arrays", arguments: match)
    func matchCases(_ c: Case) throws { #expect(try Self.evaluate(c) == c.expected) }

    @Test("range bounds", arguments: ranges)
    func rangeCases(_ c: Case) throws { #expect(try Self.evaluate(c) == c.expected) }

    @Test("must, should, must_not, min_should", arguments: clauses)
    func clauseCases(_ c: Case) throws { #expect(try Self.evaluate(c) == c.expected) }

    @Test("has_id, is_empty, is_null, values_count, paths", arguments: special)
    func specialCases(_ c: Case) throws { #expect(try Self.evaluate(c) == c.expected) }

    @Test("nested versus plain array paths", arguments: nested)
    func nestedCases(_ c: Case) throws { #expect(try Self.evaluate(c) == c.expected) }

    @Test("a filter built in code equals the parsed one and evaluates the same")
    func builtInCode() throws {
        let built = Filter(must: [.field(key: try PayloadPath("a"), FieldCondition(match: .value(.int(1))))],
                           mustNot: [.isNull(key: try PayloadPath("b"))])
        let parsed = try Filter(json: #"{"must": [{"key": "a", "match": {"value": 1}}], "must_not": [{"is_null": {"key": "b"}}]}"#)
        #expect(built == parsed)
        #expect(built.matches(id: .number(1), payload: ["a": 1]))
        #expect(!built.matches(id: .number(1), payload: ["a": 1, "b": nil]))
        #expect(Filter().isEmpty && Filter().matches(id: .number(1), payload: [:]))
    }
}
